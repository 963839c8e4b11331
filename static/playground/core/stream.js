// The ONE page fold: every view of a stream (the playground's reply and panels, compare and sweep
// columns, live watching, the run page, replay, presentation mode, the prediction panel) folds the
// stream's frames with applyFrame() and reads its figures with metrics(). Live frames, a watcher's
// snapshot and a saved run's frames go through the same function, so a run shows the same numbers
// everywhere (README: "Figures").
//
// Times: a frame's `t` is ms since the server sent the upstream request. Figures are never negative,
// never infinite, and null when undefined.

import { FRAME, STATUS, ENDED } from "./protocol.js";

// Bounds on what the upstream controls (indexes and counts): a hostile stream cannot grow the page.
const MAX_CHOICES = 128;
const MAX_TOOL_CALLS = 128;
const MAX_LOGPROB_TOKENS = 50_000;
const MAX_GAPS = 100_000;
const TIMELINE_TEXT = 80;

/** A stream's state before any frame. `sentAt`: performance.now() when this page sent chat.start (live only). */
export function newStreamState({ sentAt = null } = {}) {
  return {
    status: STATUS.IDLE,
    stream: null, run: null, conversation: null, model: null, by: null,
    request: null, // the exact request (chat.started), when the frame carries it
    choices: new Map(), // index → {index, content, reasoning, toolCalls: Map, logprobs: [], finish, raw, deltas}
    opened: null, // {status, request_id, headers, rate_limits, prompt_tokens, cached_prompt_tokens, server_ttft}
    sampling: null, // the options the server applied (fireworks-sampling-options)
    requested: null, // the options the run asked for
    emulator: false,
    dropped: [], // request fields the server does not accept, left out (chat.opened)
    usage: null,
    price: null, // the run's price, USD per million tokens {input, cached_input, output} (chat.opened)
    perf: null,
    done: null, // {model, finish_reasons, saw_done_marker, response_id, message_id, message_ids}
    error: null,
    deltas: 0,
    lastI: -1,
    firstT: null,
    lastT: null,
    gaps: [],
    timeline: [], // per delta: {i, t, choice, kind: "content" | "reasoning" | "tool", text} (bounded)
    totalMs: null,
    sentAt,
    firstAt: null,
    lastAt: null,
    reconnecting: false, // the socket is down; the server keeps the stream for the page to re-attach
    resumed: false, // the page re-attached to the stream (chat.attached)
  };
}

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

function choiceOf(state, index) {
  const i = Number.isInteger(index) ? index : 0;
  if (i < 0 || i >= MAX_CHOICES) return null;
  if (!state.choices.has(i)) {
    state.choices.set(i, { index: i, content: "", reasoning: "", echo: "", toolCalls: new Map(), logprobs: [], finish: null, raw: null, deltas: 0 });
  }
  return state.choices.get(i);
}

/** Normalise both logprobs formats into [{token, logprob, top: [{token, logprob}]}]. */
export function logprobTokens(logprobs) {
  if (!logprobs || typeof logprobs !== "object") return [];
  if (Array.isArray(logprobs.content)) {
    return logprobs.content.filter((t) => t && typeof t === "object").map((t) => ({
      token: String(t.token ?? ""), logprob: t.logprob,
      top: (Array.isArray(t.top_logprobs) ? t.top_logprobs : []).map((a) => ({ token: String(a?.token ?? ""), logprob: a?.logprob })),
    }));
  }
  if (Array.isArray(logprobs.tokens)) {
    const lps = Array.isArray(logprobs.token_logprobs) ? logprobs.token_logprobs : [];
    const tops = Array.isArray(logprobs.top_logprobs) ? logprobs.top_logprobs : [];
    return logprobs.tokens.map((token, i) => ({
      token: String(token), logprob: lps[i],
      top: Object.entries(tops[i] && typeof tops[i] === "object" ? tops[i] : {}).map(([tok, lp]) => ({ token: tok, logprob: lp })),
    }));
  }
  return [];
}

function applyToolCalls(choice, fragments) {
  if (!Array.isArray(fragments)) return;
  fragments.forEach((fragment, position) => {
    if (!fragment || typeof fragment !== "object") return;
    const key = Number.isInteger(fragment.index) ? fragment.index : position;
    if (key < 0 || key >= MAX_TOOL_CALLS) return;
    const call = choice.toolCalls.get(key) || { id: "", type: "function", name: "", arguments: "" };
    if (typeof fragment.id === "string" && fragment.id) call.id = fragment.id;
    if (typeof fragment.type === "string" && fragment.type) call.type = fragment.type;
    const fn = fragment.function && typeof fragment.function === "object" ? fragment.function : {};
    if (typeof fn.name === "string" && fn.name && !call.name) call.name = fn.name;
    if (typeof fn.arguments === "string") call.arguments += fn.arguments;
    choice.toolCalls.set(key, call);
  });
}

function applyDelta(state, frame) {
  if (Number.isInteger(frame.i)) {
    if (frame.i <= state.lastI) return; // already folded (a watcher's snapshot covered it)
    state.lastI = frame.i;
  }
  const choice = choiceOf(state, frame.choice);
  if (!choice) return;
  if (typeof frame.content === "string") choice.content += frame.content;
  if (typeof frame.reasoning === "string") choice.reasoning += frame.reasoning;
  applyToolCalls(choice, frame.tool_calls);
  if (frame.logprobs) {
    for (const token of logprobTokens(frame.logprobs)) {
      if (choice.logprobs.length >= MAX_LOGPROB_TOKENS) break;
      choice.logprobs.push(token);
    }
  }
  choice.deltas += 1;
  state.deltas += 1;
  const t = num(frame.t);
  if (t !== null) {
    if (state.firstT === null) {
      state.firstT = t;
    } else if (state.gaps.length < MAX_GAPS) {
      state.gaps.push(Math.max(0, t - state.lastT));
    }
    state.lastT = state.lastT === null ? t : Math.max(state.lastT, t);
    if (state.timeline.length < MAX_GAPS) {
      const kind = frame.content ? "content" : frame.reasoning ? "reasoning" : frame.tool_calls ? "tool" : "content";
      const text = String(frame.content || frame.reasoning || (Array.isArray(frame.tool_calls) ? frame.tool_calls.map((c) => c?.function?.arguments || c?.function?.name || "").join("") : ""));
      state.timeline.push({ i: Number.isInteger(frame.i) ? frame.i : state.deltas - 1, t, choice: choice.index, kind, text: text.slice(0, TIMELINE_TEXT) });
    }
  }
  const now = performance.now();
  if (state.firstAt === null) state.firstAt = now;
  state.lastAt = now;
  if (!ENDED.has(state.status)) state.status = STATUS.STREAMING;
}

function applyStarted(state, frame) {
  if (frame.stream != null) state.stream = frame.stream;
  if (frame.run != null) state.run = frame.run;
  if (frame.conversation != null) state.conversation = frame.conversation;
  if (frame.started_by) state.by = frame.started_by;
  if (frame.request && typeof frame.request === "object") state.request = frame.request;
  state.model = frame.model || state.request?.model || state.model;
}

/**
 * Fold one frame into `state` (mutated; also returned). Handles every frame of a stream, a watcher's
 * snapshot (its `frames` replace what was folded before) and the local `socket.lost`.
 */
export function applyFrame(state, frame) {
  if (!frame || typeof frame !== "object") return state;
  switch (frame.type) {
    case FRAME.STARTED:
      applyStarted(state, frame);
      if (state.status === STATUS.IDLE) state.status = STATUS.WAITING;
      break;
    case FRAME.OPENED: {
      const headers = frame.headers && typeof frame.headers === "object" ? frame.headers : {};
      state.opened = {
        status: frame.status ?? null, request_id: frame.request_id || null, headers,
        rate_limits: frame.rate_limits && typeof frame.rate_limits === "object" ? frame.rate_limits : {},
        prompt_tokens: num(frame.prompt_tokens), cached_prompt_tokens: num(frame.cached_prompt_tokens),
        server_ttft: num(frame.server_ttft),
      };
      state.sampling = frame.sampling_options && typeof frame.sampling_options === "object" ? frame.sampling_options : null;
      if (frame.requested && typeof frame.requested === "object") state.requested = frame.requested;
      state.emulator = String(headers["x-playground-emulator"] ?? "") === "1";
      state.dropped = Array.isArray(frame.dropped) ? frame.dropped.filter((name) => typeof name === "string") : [];
      state.price = priceOf(frame.price);
      if (!ENDED.has(state.status)) state.status = STATUS.STREAMING;
      break;
    }
    case FRAME.DELTA:
      applyDelta(state, frame);
      break;
    case FRAME.DELTAS: {
      const { items, ...common } = frame;
      for (const item of Array.isArray(items) ? items : []) {
        if (item && typeof item === "object") applyDelta(state, { ...common, ...item, type: FRAME.DELTA });
      }
      break;
    }
    case FRAME.RETHINK: {
      // A lone </think>: the choice's text so far was reasoning (the server splits it: proxy/client/chunks.py).
      const choice = choiceOf(state, frame.choice);
      if (choice) {
        choice.reasoning += choice.content;
        choice.content = "";
        for (const entry of state.timeline) if (entry.choice === choice.index && entry.kind === "content") entry.kind = "reasoning";
      }
      break;
    }
    case FRAME.ECHO: {
      // Chat with echo: the prompt sent back, kept apart from the reply (never sent back as history).
      const choice = choiceOf(state, frame.choice);
      if (choice && typeof frame.text === "string") choice.echo = frame.text;
      break;
    }
    case FRAME.RAW: {
      const choice = choiceOf(state, frame.choice);
      if (choice) choice.raw = frame.raw_output ?? null;
      break;
    }
    case FRAME.FINISH: {
      const choice = choiceOf(state, frame.choice);
      if (choice) choice.finish = frame.reason ?? null;
      break;
    }
    case FRAME.USAGE:
      state.usage = {
        prompt_tokens: num(frame.prompt_tokens), completion_tokens: num(frame.completion_tokens),
        total_tokens: num(frame.total_tokens), cached_tokens: num(frame.cached_tokens),
      };
      break;
    case FRAME.PERF:
      state.perf = frame.metrics && typeof frame.metrics === "object" ? frame.metrics : {};
      break;
    case FRAME.DONE: {
      state.status = frame.status === STATUS.STOPPED ? STATUS.STOPPED : STATUS.DONE;
      state.totalMs = num(frame.t) ?? num(frame.timings?.total_ms);
      if (frame.run != null) state.run = frame.run;
      const reasons = frame.finish_reasons && typeof frame.finish_reasons === "object" ? frame.finish_reasons : {};
      for (const [index, reason] of Object.entries(reasons)) {
        const choice = state.choices.get(Number(index));
        if (choice && !choice.finish) choice.finish = reason;
      }
      state.done = {
        model: frame.model || null, finish_reasons: reasons, saw_done_marker: frame.saw_done_marker,
        response_id: frame.response_id || null, message_id: frame.message_id ?? null,
        message_ids: Array.isArray(frame.message_ids) ? frame.message_ids : [],
      };
      break;
    }
    case FRAME.ERROR:
      state.status = STATUS.ERROR;
      state.totalMs = num(frame.t);
      if (frame.run != null) state.run = frame.run;
      state.error = {
        code: frame.code || null, message: frame.message || "", status: frame.status ?? null, param: frame.param || null,
        request_id: frame.request_id || null, retryable: Boolean(frame.retryable),
      };
      state.done = { message_id: frame.message_id ?? null, message_ids: Array.isArray(frame.message_ids) ? frame.message_ids : [] };
      break;
    case FRAME.SNAPSHOT:
    case FRAME.ATTACHED: {
      // What a watcher missed, or the stream so far for a page that (re-)attached: it replaces anything
      // folded before it. This page's own measures (when it sent, when the first token came) are kept.
      const fresh = newStreamState({ sentAt: state.sentAt });
      applyStarted(fresh, frame);
      for (const inner of Array.isArray(frame.frames) ? frame.frames : []) {
        if (inner && inner.type !== FRAME.SNAPSHOT && inner.type !== FRAME.ATTACHED) applyFrame(fresh, inner);
      }
      if (fresh.status === STATUS.IDLE) fresh.status = STATUS.WAITING;
      if (state.firstAt !== null) fresh.firstAt = state.firstAt;
      if (frame.type === FRAME.ATTACHED) fresh.resumed = true;
      Object.assign(state, fresh);
      break;
    }
    case FRAME.SOCKET_DOWN:
      state.reconnecting = true;
      break;
    case FRAME.SOCKET_LOST:
      if (!ENDED.has(state.status)) {
        state.status = STATUS.ERROR;
        state.error = { code: "socket_lost", message: "The connection dropped before the reply finished; the server saved what arrived.", lost: true };
      }
      break;
    case FRAME.GONE:
      if (!ENDED.has(state.status)) {
        state.status = STATUS.ERROR;
        state.error = { code: "gone", message: "The reply ended while the page was away; the server saved it.", lost: true, gone: true };
      }
      break;
    default:
      break;
  }
  return state;
}

const PER_MILLION = 1_000_000;
const count = (v) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : null);
// A count sent as text (a header, a perf metric): digits, perhaps with a zero fraction ("12", "12.0").
const countText = (v) => {
  if (typeof v !== "string") return count(v);
  const match = /^\s*([0-9]+)(?:\.0*)?\s*$/.exec(v);
  return match ? Number(match[1]) : null;
};

/** A price from a frame ({input, cached_input, output}, USD per million tokens), or null. */
export function priceOf(value) {
  if (!value || typeof value !== "object") return null;
  const input = num(value.input), output = num(value.output);
  if (input === null || output === null || input < 0 || output < 0) return null;
  const cached = num(value.cached_input);
  return { input, output, cached_input: cached !== null && cached >= 0 ? cached : input };
}

/**
 * The page's ONE cost formula, the same as the server's (proxy/pricing.py `cost`), operation for
 * operation, so both give the same numbers (tests/pricing_cases.json checks both): USD by part,
 * cached prompt tokens at the cached price; null without a price or usage. `cachedFallback`: Fireworks'
 * cached-prompt count from the response header or perf metric, when usage does not say.
 */
export function costOf(usage, price, cachedFallback = null) {
  const p = priceOf(price);
  if (!p || !usage || typeof usage !== "object") return null;
  const prompt = count(usage.prompt_tokens) ?? count(usage.input_tokens) ?? 0;
  const completion = count(usage.completion_tokens) ?? count(usage.output_tokens) ?? 0;
  const cachedRaw = count(usage.cached_tokens)
    ?? count(usage.prompt_tokens_details?.cached_tokens)
    ?? count(usage.input_tokens_details?.cached_tokens)
    ?? countText(cachedFallback);
  const cached = Math.min(cachedRaw ?? 0, prompt);
  const parts = {
    input: ((prompt - cached) * p.input) / PER_MILLION,
    cached_input: (cached * p.cached_input) / PER_MILLION,
    output: (completion * p.output) / PER_MILLION,
  };
  parts.total = parts.input + parts.cached_input + parts.output;
  return parts;
}

/**
 * A stream's cost: exact from usage once it arrived; before that an estimate from the tokens so far
 * (prompt tokens from the response header when the server sent it, one output token per delta), with
 * `estimated: true`. Null without a price.
 */
function streamCost(state, tokens) {
  if (!state.price) return null;
  const opened = state.opened || {};
  const fallback = opened.cached_prompt_tokens ?? state.perf?.["cached-prompt-tokens"] ?? null;
  if (state.usage) {
    const exact = costOf(state.usage, state.price, fallback);
    return exact && { ...exact, estimated: false };
  }
  if (!tokens && opened.prompt_tokens == null) return null;
  const guess = costOf({ prompt_tokens: opened.prompt_tokens ?? 0, completion_tokens: tokens ?? 0 }, state.price, fallback);
  return guess && { ...guess, estimated: true };
}

/** Every figure of a stream, from its state: the one formula for each (README: "Figures"). */
export function metrics(state) {
  const usage = state.usage || {};
  const opened = state.opened || {};
  const tokens = usage.completion_tokens ?? (state.deltas > 0 ? state.deltas : null);
  const decode = state.firstT !== null && state.lastT !== null ? Math.max(0, state.lastT - state.firstT) : null;
  const rate = tokens !== null && tokens >= 2 && decode !== null && decode > 0 ? (tokens - 1) / (decode / 1000) : null;
  const headerTtft = num(opened.server_ttft);
  const perfTtft = num(Number(state.perf?.["server-time-to-first-token"]));
  const browser = state.sentAt !== null && state.firstAt !== null ? Math.max(0, state.firstAt - state.sentAt) : null;
  return {
    ttft_ms: state.firstT,
    browser_ttft_ms: browser,
    // The fireworks-server-time-to-first-token header, else the same figure from perf_metrics.
    server_ttft_ms: headerTtft !== null ? headerTtft * 1000 : perfTtft !== null ? perfTtft * 1000 : null,
    tokens,
    estimated: state.usage === null && state.deltas > 0,
    decode_ms: decode,
    tokens_per_second: rate,
    gaps_ms: state.gaps,
    total_ms: state.totalMs,
    deltas: state.deltas,
    prompt_tokens: usage.prompt_tokens ?? opened.prompt_tokens ?? null,
    cached_tokens: usage.cached_tokens ?? opened.cached_prompt_tokens ?? null,
    total_tokens: usage.total_tokens ?? null,
    finish: state.choices.get(0)?.finish ?? null,
    // {input, cached_input, output, total, estimated} in USD, or null (no price, or nothing to cost yet).
    cost: streamCost(state, tokens),
  };
}

/** Whether the stream has not ended yet. */
export function isRunning(state) {
  return state.status === STATUS.WAITING || state.status === STATUS.STREAMING;
}

/** Whether any choice got text, reasoning or a tool call. */
export function hasOutput(state) {
  return [...state.choices.values()].some((c) => c.content || c.reasoning || c.toolCalls.size);
}

/** The choices in index order. */
export function choiceList(state) {
  return [...state.choices.values()].sort((a, b) => a.index - b.index);
}

/** A choice's assembled tool calls, in the request's shape ({id, type, function: {name, arguments}}). */
export function toolCallsOf(state, index = 0) {
  const choice = state.choices.get(index);
  if (!choice) return [];
  return [...choice.toolCalls.entries()].sort((a, b) => a[0] - b[0])
    .map(([, c]) => ({ id: c.id, type: c.type || "function", function: { name: c.name, arguments: c.arguments } }));
}
