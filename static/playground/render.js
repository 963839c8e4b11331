// The output panels: the reply (choices, thinking, tool calls, logprobs), usage, sampling options,
// performance metrics and errors. Model output is only ever set with textContent.

import { el, clear, fmtNumber, fmtMs, fmtValue } from "./dom.js";
import { GapChart } from "./chart.js";

/** Split inline <think>…</think> out of content (an unclosed tag means it is still thinking). */
export function splitThink(text) {
  let thinking = "";
  let answer = "";
  let rest = text;
  let open = false;
  for (;;) {
    const start = rest.indexOf("<think>");
    if (start === -1) {
      answer += rest;
      break;
    }
    answer += rest.slice(0, start);
    const end = rest.indexOf("</think>", start + 7);
    if (end === -1) {
      thinking += rest.slice(start + 7);
      open = true;
      break;
    }
    thinking += rest.slice(start + 7, end);
    rest = rest.slice(end + 8);
  }
  return { thinking, answer: thinking ? answer.replace(/^\s+/, "") : answer, open };
}

/** Normalise both logprobs formats into [{token, logprob, top: [{token, logprob}]}]. */
export function logprobTokens(logprobs) {
  if (!logprobs) return [];
  if (Array.isArray(logprobs.content)) {
    return logprobs.content.map((t) => ({
      token: t.token, logprob: t.logprob,
      top: (t.top_logprobs || []).map((a) => ({ token: a.token, logprob: a.logprob })),
    }));
  }
  if (Array.isArray(logprobs.tokens)) {
    return logprobs.tokens.map((token, i) => ({
      token, logprob: (logprobs.token_logprobs || [])[i],
      top: Object.entries((logprobs.top_logprobs || [])[i] || {}).map(([tok, lp]) => ({ token: tok, logprob: lp })),
    }));
  }
  return [];
}

function probColour(p) {
  // red (unlikely) → amber → green (confident), light enough to keep the text readable.
  const hue = Math.round(Math.max(0, Math.min(1, p)) * 140);
  return `hsl(${hue} 75% 85%)`;
}

function pct(lp) {
  return typeof lp === "number" ? `${(Math.exp(lp) * 100).toFixed(1)}%` : "?";
}

class ChoiceView {
  constructor(index) {
    this.index = index;
    this.content = "";
    this.reasoning = "";
    this.toolCalls = new Map();
    this.finish = null;
    this.chunks = 0;
    this.head = el("div", { class: "choice-head" });
    this.thinkingText = el("div", { class: "reply-text" });
    this.thinkingSummary = el("summary", {}, "Thinking");
    this.thinking = el("details", { class: "thinking", hidden: true, "data-testid": "thinking" }, this.thinkingSummary, this.thinkingText);
    // Once the user opens or closes it by hand, leave it as they chose.
    this.thinkingSummary.addEventListener("click", () => { this.thinking.dataset.touched = "1"; });
    // Completions mode shows the prompt (muted) with the completion running on after it.
    this.promptSpan = el("span", { class: "reply-prompt", "data-testid": "reply-prompt", hidden: true });
    this.answerSpan = el("span", { class: "reply-answer" });
    this.text = el("div", { class: "reply-text", "data-testid": "reply-text" }, this.promptSpan, this.answerSpan);
    this.tools = el("div", { class: "tools", hidden: true });
    this.tokens = el("div", { class: "tokens" });
    // One popover per choice, filled from the token under the pointer or keyboard focus.
    ChoiceView.count = (ChoiceView.count || 0) + 1;
    this.popId = `tok-pop-${ChoiceView.count}`;
    this.pop = el("div", { class: "tok-pop", id: this.popId, role: "tooltip", hidden: true, "data-testid": "token-popover" });
    this.tokenData = new WeakMap();
    const show = (event) => {
      const span = event.target.closest?.(".tok");
      if (span && this.tokenData.has(span)) this.showToken(span);
    };
    this.tokens.addEventListener("mouseover", show);
    this.tokens.addEventListener("focusin", show);
    this.tokens.addEventListener("mouseleave", () => this.hideToken());
    this.tokens.addEventListener("focusout", () => this.hideToken());
    this.tokens.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.hideToken();
    });
    this.logprobs = el("div", { class: "logprobs", hidden: true, "data-testid": "logprobs" },
      el("div", { class: "logprobs-head" },
        el("span", {}, "Token probabilities"), el("span", { class: "legend" }), el("span", {}, "low → high"),
        el("span", { class: "small muted logprobs-hint" }, "Hover a token, or Tab to it, for its alternatives.")),
      this.tokens, this.pop);
    this.root = el("div", { class: "choice", dataset: { choice: index } }, this.head, this.thinking, this.text, this.tools, this.logprobs);
  }

  apply(frame) {
    this.chunks += 1;
    if (frame.content) this.content += frame.content;
    if (frame.reasoning) this.reasoning += frame.reasoning;
    for (const fragment of frame.tool_calls || []) {
      const key = fragment.index ?? this.toolCalls.size;
      const call = this.toolCalls.get(key) || { id: "", name: "", args: "" };
      if (fragment.id) call.id = fragment.id;
      if (fragment.function?.name) call.name += fragment.function.name;
      if (fragment.function?.arguments) call.args += fragment.function.arguments;
      this.toolCalls.set(key, call);
    }
    for (const t of logprobTokens(frame.logprobs)) this.addToken(t);
  }

  addToken(t) {
    this.logprobs.hidden = false;
    const p = typeof t.logprob === "number" ? Math.exp(t.logprob) : 0;
    const span = el("span", { class: "tok", style: `background:${probColour(p)}`, tabindex: 0, "aria-describedby": this.popId,
      "aria-label": `${JSON.stringify(t.token)} ${pct(t.logprob)}` });
    span.textContent = t.token;
    this.tokenData.set(span, t);
    this.tokens.append(span);
  }

  /** The popover for one token: its probability and the alternatives, as text only. */
  showToken(span) {
    const t = this.tokenData.get(span);
    const row = (token, lp, chosen) => el("tr", { class: chosen ? "chosen" : "" },
      el("td", {}, el("code", {}, JSON.stringify(token))),
      el("td", { class: "num" }, pct(lp)),
      el("td", {}, el("span", { class: "tok-bar", style: `width:${typeof lp === "number" ? Math.max(2, Math.round(Math.exp(lp) * 60)) : 0}px` })));
    const head = el("div", { class: "tok-pop-head" }, el("code", {}, JSON.stringify(t.token)), ` ${pct(t.logprob)}`,
      el("span", { class: "muted" }, ` · logprob ${typeof t.logprob === "number" ? t.logprob.toFixed(3) : "?"}`));
    const alternatives = t.top.filter((a) => !(a.token === t.token && a.logprob === t.logprob));
    this.pop.replaceChildren(head, alternatives.length
      ? el("table", {}, el("caption", {}, "alternatives"), el("tbody", {}, t.top.map((a) => row(a.token, a.logprob, a.token === t.token))))
      : el("div", { class: "muted" }, "no alternatives returned (set top_logprobs)"));
    this.pop.hidden = false;
    const top = span.offsetTop + span.offsetHeight + 4;
    const left = Math.max(0, Math.min(span.offsetLeft, this.logprobs.clientWidth - this.pop.offsetWidth));
    this.pop.style.top = `${top}px`;
    this.pop.style.left = `${left}px`;
  }

  hideToken() {
    this.pop.hidden = true;
  }

  render({ streaming, multi, prompt = "", chosen = null, onChoose = null }) {
    const split = splitThink(this.content);
    const thinking = this.reasoning + split.thinking;
    this.thinking.hidden = thinking === "";
    this.thinkingText.textContent = thinking;
    const stillThinking = streaming && (split.open || (this.reasoning && !split.answer));
    this.thinkingSummary.textContent = stillThinking ? "Thinking…" : `Thinking (${thinking.length.toLocaleString()} characters)`;
    // Open while it thinks, folded away once the answer starts (unless the user chose otherwise).
    if (!this.thinking.dataset.touched) this.thinking.open = Boolean(stillThinking);
    this.promptSpan.textContent = prompt;
    this.promptSpan.hidden = !prompt;
    this.answerSpan.textContent = split.answer;
    this.text.classList.toggle("caret", streaming);
    clear(this.head);
    if (multi) this.head.append(el("strong", {}, `Choice ${this.index + 1}`));
    if (this.finish) this.head.append(el("span", {}, `finish: ${this.finish}`));
    // n > 1 in chat mode: the user picks which choice continues the conversation.
    if (multi && onChoose && !streaming) {
      this.head.append(el("span", { class: "spacer" }));
      if (chosen === this.index) {
        this.head.append(el("span", { class: "mark sent", "data-testid": "choice-in-conversation" }, "in the conversation"));
      } else {
        this.head.append(el("button", { type: "button", class: "btn btn-xs", "data-testid": "use-choice",
          title: "Make this choice the assistant turn that continues the conversation", onclick: () => onChoose(this.index) }, "Use this reply"));
      }
    }
    this.root.classList.toggle("is-chosen", multi && chosen === this.index);
    this.head.hidden = !multi && !this.finish;
    this.tools.hidden = this.toolCalls.size === 0;
    clear(this.tools);
    for (const call of this.toolCalls.values()) {
      let args = call.args;
      try {
        args = JSON.stringify(JSON.parse(call.args), null, 2);
      } catch {
        /* still assembling: show it as it is */
      }
      this.tools.append(el("div", { class: "tool-call", "data-testid": "tool-call" },
        el("span", { class: "tool-name" }, `${call.name || "…"}(`), el("span", { class: "small muted" }, call.id ? ` ${call.id}` : ""),
        el("pre", {}, args || "…"), el("span", { class: "tool-name" }, ")")));
    }
  }
}

export class ReplyView {
  constructor(root, statusChip, modelLabel, emulatorChip) {
    this.root = root;
    this.statusChip = statusChip;
    this.modelLabel = modelLabel;
    this.emulatorChip = emulatorChip;
    this.choices = new Map();
    this.streaming = false;
    this.pending = false;
    this.prompt = "";
    this.chosen = null;
    this.onChoose = null;
  }

  /** A new reply: `prompt` (completions mode) is shown before the completion. */
  start(model, { prompt = "" } = {}) {
    clear(this.root);
    this.choices = new Map();
    this.streaming = true;
    this.flag = null;
    this.prompt = prompt;
    this.chosen = null;
    this.onChoose = null;
    this.grid = el("div", { class: "choices" });
    this.waiting = el("p", { class: "empty-note" }, "Waiting for the first token…");
    this.stallNote = el("p", { class: "stall-note", "data-testid": "stall-note", role: "status", hidden: true });
    this.root.append(this.waiting, this.grid, this.stallNote);
    this.root.dataset.status = "streaming";
    this.modelLabel.textContent = model;
    this.modelLabel.title = model;
    this.setEmulator(false);
    this.setChip("streaming", "Streaming");
  }

  /** The reply came from the offline emulator (its response headers say so). */
  setEmulator(on) {
    if (this.emulatorChip) this.emulatorChip.hidden = !on;
  }

  /** "No tokens for N s…" while a stream stalls; null clears it. */
  stall(seconds) {
    if (!this.stallNote) return;
    this.stallNote.hidden = seconds == null;
    if (seconds != null) this.stallNote.textContent = `No tokens for ${seconds} s…`;
  }

  /** Mark which choice continues the conversation; `onChoose(index)` offers the others (n > 1). */
  choose(index, onChoose) {
    this.chosen = index;
    if (onChoose !== undefined) this.onChoose = onChoose;
    this.render();
  }

  choice(index) {
    if (!this.choices.has(index)) {
      const view = new ChoiceView(index);
      this.choices.set(index, view);
      const ordered = [...this.choices.values()].sort((a, b) => a.index - b.index);
      this.grid.replaceChildren(...ordered.map((c) => c.root));
      this.grid.style.setProperty("--cols", String(Math.min(this.choices.size, 4)));
      this.grid.classList.toggle("multi", this.choices.size > 1);
    }
    return this.choices.get(index);
  }

  delta(frame) {
    this.waiting.hidden = true;
    this.choice(frame.choice ?? 0).apply(frame);
    this.schedule();
  }

  finish(frame) {
    this.choice(frame.choice ?? 0).finish = frame.reason;
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  render() {
    const multi = this.choices.size > 1;
    const ctx = { streaming: this.streaming, multi, prompt: this.prompt, chosen: this.chosen, onChoose: this.onChoose };
    for (const c of this.choices.values()) c.render(ctx);
  }

  text(index = 0) {
    const c = this.choices.get(index);
    return c ? splitThink(c.content).answer : "";
  }

  reasoning(index = 0) {
    const c = this.choices.get(index);
    return c ? c.reasoning + splitThink(c.content).thinking : "";
  }

  /** Whether any choice got text, reasoning or a tool call. */
  hasOutput() {
    return [...this.choices.values()].some((c) => c.content || c.reasoning || c.toolCalls.size);
  }

  /** End the reply. `note` is one short line under it; with no text at all the card says why. */
  end(status, note) {
    this.streaming = false;
    this.root.dataset.status = status;
    this.waiting.hidden = true;
    this.stall(null);
    if (!this.choices.size) {
      const empty = {
        done: "The model returned no text.",
        stopped: "Stopped before any text arrived.",
        error: "No reply: the request failed before any text arrived.",
      };
      this.grid.append(el("p", { class: "empty-note", "data-testid": "reply-empty" }, empty[status] || empty.error));
    }
    const labels = { done: "Done", stopped: "Stopped", error: "Failed" };
    this.setChip(status, labels[status] || status);
    if (note) {
      this.flag = el("div", { class: `reply-flag ${status === "done" ? "note" : status}`, "data-testid": "reply-flag" }, note);
      this.root.append(this.flag);
    }
    this.render();
  }

  setChip(kind, label) {
    this.statusChip.hidden = false;
    this.statusChip.className = `chip ${kind}`;
    this.statusChip.textContent = label;
  }
}

export class UsageView {
  constructor(root) {
    this.root = root;
    this.reset();
  }

  reset() {
    this.values = { prompt: null, completion: null, total: null, cached: null };
    this.approx = false;
    this.final = false;
    this.draw("Token counts appear when the reply starts.");
  }

  opened(frame) {
    this.values.prompt = frame.prompt_tokens ?? null;
    this.values.cached = frame.cached_prompt_tokens ?? null;
    this.draw();
  }

  /** Count up by chunks while streaming: roughly one token per chunk until the exact usage arrives. */
  chunk(count) {
    if (this.final) return;
    this.values.completion = count;
    this.values.total = this.values.prompt != null ? this.values.prompt + count : null;
    this.approx = true;
    this.draw();
  }

  usage(frame) {
    this.final = true;
    this.approx = false;
    this.values = {
      prompt: frame.prompt_tokens ?? this.values.prompt,
      completion: frame.completion_tokens ?? this.values.completion,
      total: frame.total_tokens ?? null,
      cached: frame.cached_tokens ?? this.values.cached,
    };
    this.draw();
  }

  /** A saved run: its usage, with the prompt counts from the headers when usage never came. */
  fromRun(run) {
    const u = run.usage || {};
    const headers = run.response_headers || {};
    const num = (v) => (v === undefined || v === null || v === "" || Number.isNaN(Number(v)) ? null : Number(v));
    this.values = {
      prompt: num(u.prompt_tokens) ?? num(headers["fireworks-prompt-tokens"]),
      completion: num(u.completion_tokens),
      total: num(u.total_tokens),
      cached: num(u.cached_tokens) ?? num(headers["fireworks-cached-prompt-tokens"]),
    };
    this.final = run.usage != null;
    this.approx = false;
    this.draw(run.usage ? null : "No usage was saved for this run.");
  }

  ended(status) {
    if (!this.final && this.values.completion != null) {
      this.draw(status === "done"
        ? "The server sent no usage for this stream: the completion count is an estimate (one token per chunk)."
        : "The stream ended before the usage arrived: the completion count is an estimate.");
    }
  }

  draw(note) {
    const v = this.values;
    const stat = (label, value, sub, testid) => el("div", { class: "stat", "data-testid": testid },
      el("div", { class: "label" }, label),
      el("div", { class: "value" }, value),
      el("div", { class: "sub" }, sub));
    clear(this.root).append(el("div", { class: "stats" },
      stat("Prompt", fmtNumber(v.prompt), v.prompt != null ? "from headers" : "", "usage-prompt"),
      stat("Completion", (this.approx ? "≈ " : "") + fmtNumber(v.completion), this.approx ? "counting chunks" : (this.final ? "exact" : ""), "usage-completion"),
      stat("Total", (this.approx ? "≈ " : "") + fmtNumber(v.total), "", "usage-total"),
      stat("Cached", fmtNumber(v.cached), "from prompt cache", "usage-cached")));
    if (note) this.root.append(el("p", { class: "small muted", style: "margin:8px 0 0" }, note));
  }
}

function sameValue(a, b) {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) < 1e-9;
  return JSON.stringify(a) === JSON.stringify(b);
}

export class SamplingView {
  constructor(root) {
    this.root = root;
    this.reset();
  }

  reset() {
    clear(this.root).append(el("p", { class: "empty-note" }, "The sampling options the server applied (fireworks-sampling-options) appear here."));
  }

  /** A saved run: the options it applied against the ones it asked for. */
  fromRun(run) {
    this.opened({ sampling_options: run.sampling_options, requested: run.requested_options || {} }, {});
  }

  /** A row per applied option: its value, what was requested, and whether they differ. */
  opened(frame, sent) {
    const applied = frame.sampling_options;
    const requested = frame.requested && typeof frame.requested === "object" ? frame.requested : sent;
    clear(this.root);
    if (!applied || typeof applied !== "object") {
      this.root.append(el("p", { class: "empty-note" }, "The server did not report the sampling options it applied (no fireworks-sampling-options header)."));
      return;
    }
    const rows = Object.entries(applied).map(([key, value]) => {
      const asked = requested[key] ?? (key === "max_tokens" ? requested.max_completion_tokens : undefined);
      let mark;
      if (asked === undefined || asked === null) mark = el("span", { class: "mark default" }, "server default");
      else if (sameValue(asked, value)) mark = el("span", { class: "mark sent" }, "as sent");
      else mark = el("span", { class: "mark changed", title: "The server applied a different value than the one requested (e.g. clamped)" }, "changed by server");
      const differs = asked !== undefined && asked !== null && !sameValue(asked, value);
      return el("tr", { class: differs ? "diff" : "", dataset: { key } },
        el("th", {}, el("code", {}, key)),
        el("td", { class: "num" }, fmtValue(value)),
        el("td", { class: "num" }, asked === undefined || asked === null ? "—" : fmtValue(asked)),
        el("td", {}, mark));
    });
    this.root.append(el("table", { class: "kv" },
      el("thead", {}, el("tr", {}, el("th", {}, "Option"), el("th", { style: "text-align:right" }, "Applied"), el("th", { style: "text-align:right" }, "Requested"), el("th", {}, ""))),
      el("tbody", {}, rows)));
  }
}

export const PERF_EXPLAINED = {
  "prompt-tokens": "tokens in the prompt",
  "cached-prompt-tokens": "prompt tokens served from the prompt cache",
  "server-time-to-first-token": "seconds from the request reaching the server to the first token",
  "server-processing-time": "seconds the server spent on the whole request",
  "speculation-prompt-tokens": "prompt tokens offered as a prediction (predicted outputs)",
  "speculation-prompt-matched-tokens": "predicted tokens that matched the output",
  "speculation-generated-tokens": "tokens drafted by speculative decoding",
  "speculation-acceptance": "share of drafted tokens the model accepted",
  "backend-host": "the server that ran the request",
  "num-concurrent-requests": "requests the deployment was serving at the same time",
  "deployment": "the deployment that served the request",
  "tokenizer-queue-duration": "seconds waiting for the tokenizer",
  "tokenizer-duration": "seconds spent tokenizing the prompt",
  "prefill-queue-duration": "seconds waiting for prefill",
  "prefill-duration": "seconds processing the prompt (prefill)",
  "generation-queue-duration": "seconds waiting for generation",
  "generation-duration": "seconds spent generating the output",
};

export class PerfView {
  constructor(root) {
    this.root = root;
    this.chart = new GapChart();
    this.reset();
  }

  reset() {
    this.choiceCount = 1;
    this.ttft = { server: null, proxy: null, browser: null };
    this.rate = null;
    this.rateNote = "";
    this.chunks = 0;
    this.totalMs = null;
    this.metrics = null;
    this.requestId = null;
    this.rateLimits = {};
    this.ttftBrowserNote = "";
    this.chart.reset();
    this.idle = true;
    this.draw();
  }

  opened(frame) {
    this.idle = false;
    if (typeof frame.server_ttft === "number") this.ttft.server = frame.server_ttft * 1000;
    this.requestId = frame.request_id || null;
    this.rateLimits = frame.rate_limits || {};
    this.draw();
  }

  firstToken(proxyMs, browserMs) {
    this.idle = false;
    this.ttft.proxy = proxyMs;
    this.ttft.browser = browserMs;
    this.draw();
  }

  tick(chunks, gapMs, rate) {
    this.chunks = chunks;
    if (gapMs !== null) this.chart.push(gapMs);
    this.rate = rate;
    this.rateNote = "live, ≈ one token per chunk";
    this.scheduleDraw();
  }

  perf(metrics) {
    this.metrics = metrics || {};
    const serverTtft = Number(this.metrics["server-time-to-first-token"]);
    if (this.ttft.server === null && Number.isFinite(serverTtft)) this.ttft.server = serverTtft * 1000;
    this.draw();
  }

  /** n > 1: the rate counts the tokens of every choice. */
  setChoices(count) {
    this.choiceCount = count;
    this.scheduleDraw();
  }

  /** A saved run (a reopened conversation): what the server kept of it. */
  fromRun(run) {
    this.reset();
    this.idle = false;
    const metrics = run.perf_metrics || {};
    const serverTtft = Number(metrics["server-time-to-first-token"] ?? (run.response_headers || {})["fireworks-server-time-to-first-token"]);
    if (Number.isFinite(serverTtft)) this.ttft.server = serverTtft * 1000;
    const t = run.timings || {};
    if (typeof t.ttft_ms === "number") this.ttft.proxy = t.ttft_ms;
    if (typeof t.total_ms === "number") this.totalMs = t.total_ms;
    if (typeof t.chunks === "number") this.chunks = t.chunks;
    this.choiceCount = run.choices || 1;
    const tokens = run.usage?.completion_tokens;
    const decodeMs = typeof run.decode_ms === "number" ? run.decode_ms : null;
    if (tokens != null && decodeMs > 0) {
      this.rate = tokens / (decodeMs / 1000);
      this.rateNote = "completion tokens ÷ time after the first token";
    }
    this.metrics = run.perf_metrics || null;
    this.requestId = run.request_id || null;
    this.rateLimits = run.rate_limits || {};
    for (const gap of run.gaps_ms || []) this.chart.gaps.push(Math.max(0, gap));
    this.chart.draw();
    this.ttftBrowserNote = "measured live only";
    this.draw();
  }

  done(frame, completionTokens, decodeMs) {
    const t = frame.timings || {};
    if (typeof t.ttft_ms === "number") this.ttft.proxy = t.ttft_ms;
    if (typeof t.total_ms === "number") this.totalMs = t.total_ms;
    if (typeof t.chunks === "number") this.chunks = t.chunks;
    if (completionTokens != null && decodeMs > 0) {
      this.rate = completionTokens / (decodeMs / 1000);
      this.rateNote = "completion tokens ÷ time after the first token";
    }
    this.draw();
  }

  scheduleDraw() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  draw() {
    const stat = (label, ms, sub, testid) => el("div", { class: "stat", "data-testid": testid },
      el("div", { class: "label" }, label), el("div", { class: "value" }, fmtMs(ms)), el("div", { class: "sub" }, sub));
    clear(this.root);
    this.root.append(
      el("div", { class: "section-label", style: "margin-top:0" }, "Time to first token"),
      el("div", { class: "stats three" },
        stat("Server", this.ttft.server, "reported by Fireworks", "ttft-server"),
        stat("Proxy", this.ttft.proxy, "request sent → first chunk", "ttft-proxy"),
        stat("Browser", this.ttft.browser, this.ttftBrowserNote || "click → first token shown", "ttft-browser")),
      el("div", { class: "stats three", style: "margin-top:8px" },
        el("div", { class: "stat", "data-testid": "tokens-per-second" },
          el("div", { class: "label", title: this.choiceCount > 1 ? `Tokens per second, summed over the ${this.choiceCount} choices` : "Tokens per second" },
            this.choiceCount > 1 ? `Tokens / s · ${this.choiceCount} choices` : "Tokens / s"),
          el("div", { class: "value" }, this.rate == null || !Number.isFinite(this.rate) ? "—" : this.rate.toFixed(1)),
          el("div", { class: "sub" }, this.choiceCount > 1 ? `summed over all choices; ${this.rateNote || ""}` : this.rateNote || "")),
        el("div", { class: "stat" }, el("div", { class: "label" }, "Chunks"), el("div", { class: "value" }, fmtNumber(this.chunks || null)), el("div", { class: "sub" }, "deltas received")),
        el("div", { class: "stat" }, el("div", { class: "label" }, "Total time"), el("div", { class: "value" }, fmtMs(this.totalMs)), el("div", { class: "sub" }, "server, start → end"))),
      el("div", { class: "section-label" }, "Gap between chunks (ms)"),
      this.chart.root, this.chart.caption);
    this.root.append(el("div", { class: "section-label" }, "Server perf_metrics"));
    if (this.metrics && Object.keys(this.metrics).length) {
      this.root.append(el("table", { class: "kv", "data-testid": "perf-table" }, el("tbody", {}, Object.entries(this.metrics).map(([key, value]) =>
        el("tr", {}, el("th", {}, el("code", {}, key)), el("td", { class: "num" }, fmtValue(value)),
          el("td", { class: "expl" }, PERF_EXPLAINED[key] || "(not a documented key)"))))));
    } else {
      this.root.append(el("p", { class: "empty-note" }, this.idle ? "Arrives with the final chunk." : (this.metrics ? "The server sent an empty perf_metrics object." : "Not received (yet): it rides on the final chunk.")));
    }
    this.root.append(el("div", { class: "section-label" }, "Request"));
    const ids = el("dl", { class: "ids", "data-testid": "request-meta" }, el("dt", {}, "request id"), el("dd", { "data-testid": "request-id" }, this.requestId || "—"));
    const limits = Object.entries(this.rateLimits);
    for (const [name, value] of limits) ids.append(el("dt", {}, name), el("dd", {}, String(value)));
    if (!limits.length) ids.append(el("dt", {}, "rate limits"), el("dd", {}, this.idle ? "—" : "no x-ratelimit-* headers"));
    this.root.append(ids);
  }
}

export class ErrorView {
  constructor(root) {
    this.root = root;
    this.timer = null;
  }

  clear() {
    clearInterval(this.timer);
    this.root.hidden = true;
    clear(this.root);
  }

  /**
   * Show a failure once: what happened, the details a support request needs, and what to do next.
   * `detail` goes on its own line under the message. A retryable error offers Retry (after a
   * countdown when the server said `retryAfter` seconds); a non-retryable one says what to change
   * (`advice`) and offers "Send again" instead.
   */
  show({ title, message, detail, code, status, requestId, param, retryable, onRetry, advice, retryAfter, warn = false }) {
    clearInterval(this.timer);
    clear(this.root);
    this.root.hidden = false;
    this.root.classList.toggle("warn", warn);
    const meta = el("div", { class: "error-meta" });
    if (code) meta.append(el("span", {}, "code ", el("code", { "data-testid": "error-code" }, code)));
    if (status) meta.append(el("span", {}, "status ", el("code", { "data-testid": "error-status" }, String(status))));
    if (param) meta.append(el("span", {}, "parameter ", el("code", {}, param)));
    if (requestId) meta.append(el("span", {}, "request id ", el("code", {}, requestId)));
    this.root.append(el("h3", {}, title), el("p", { class: "error-message", "data-testid": "error-message" }, message || ""));
    if (detail) this.root.append(el("p", { class: "error-detail", "data-testid": "error-detail" }, detail));
    this.root.append(meta);
    if (retryable === undefined && !onRetry && !advice) return;
    const actions = el("div", { class: "error-actions" });
    const hint = el("span", { class: "small", "data-testid": "retry-advice" });
    actions.append(hint);
    if (retryable) hint.textContent = "This is usually temporary: retrying may work.";
    else if (advice) hint.textContent = advice;
    if (onRetry) {
      const button = el("button", { type: "button", class: "btn btn-sm", "data-testid": "retry", onclick: onRetry },
        retryable === false ? "Send again" : "Retry");
      actions.append(button);
      if (retryable && retryAfter > 0) {
        // The server asked to wait: count down, then offer Retry.
        let left = Math.ceil(retryAfter);
        button.disabled = true;
        const tick = () => {
          if (left <= 0) {
            clearInterval(this.timer);
            button.disabled = false;
            hint.textContent = "The wait the server asked for is over: retrying may work now.";
            return;
          }
          hint.textContent = `Rate limited: the server asked to wait. Retry in ${left} s…`;
          left -= 1;
        };
        tick();
        this.timer = setInterval(tick, 1000);
      }
    }
    this.root.append(actions);
  }
}
