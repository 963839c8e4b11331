// Compare columns: one stream per column over the page's one websocket (its own stream id), or a replay
// of a saved run from its chunk timeline. Both keep the same state, so the views and the metrics are shared.
//
// state: {status, text, reasoning, chunks, ttft, tFirst, tLast, totalMs, usage, sampling, finish, run,
//         conversation, error, replay}
// Times are the server's `t` (ms since the upstream request was sent), or the timeline's t_ms in a replay.

let counter = 0;

export function emptyState() {
  return { status: "idle", text: "", reasoning: "", chunks: 0, ttft: null, tFirst: null, tLast: null, totalMs: null,
    usage: null, sampling: null, finish: null, run: null, conversation: null, error: null, replay: null };
}

/** TTFT, tokens, tokens/s (the tokens after the first over the time since the first), total, finish. */
export function metricsOf(state) {
  const tokens = state.usage?.completion_tokens ?? (state.chunks || null);
  const span = state.tLast !== null && state.ttft !== null ? state.tLast - state.ttft : null;
  const tps = tokens && tokens > 1 && span > 0 ? ((tokens - 1) * 1000) / span : null;
  return { ttft_ms: state.ttft, tokens, tokens_per_second: tps, total_ms: state.totalMs ?? state.tLast,
    finish: state.finish, estimated: !state.usage && Boolean(state.chunks) };
}

export const RUNNING = new Set(["waiting", "streaming", "replaying"]);

export class ColumnStream {
  /** spec: {label, model, params, system?}; onUpdate(state, frame) after every change. */
  constructor(socket, spec, onUpdate) {
    this.socket = socket;
    this.spec = spec;
    this.onUpdate = onUpdate;
    this.state = emptyState();
    this.id = null;
  }

  get running() {
    return RUNNING.has(this.state.status);
  }

  /** conversation: run the column in this saved conversation (a saved comparison run again), else a new one. */
  start({ system, messages, conversation = null }) {
    counter += 1;
    this.id = `cmp-${Date.now().toString(36)}-${counter}`;
    this.state = { ...emptyState(), status: "waiting" };
    this.socket.openStream(this.id, (frame) => this.handle(frame));
    const sent = this.socket.send({ type: "chat.start", stream: this.id, mode: "chat", model: this.spec.model,
      messages, system: this.spec.system ?? system ?? "", params: this.spec.params || {},
      ...(typeof conversation === "number" ? { conversation } : {}) });
    if (!sent) this.end("error", { code: "socket_closed", message: "Not connected: the column was not sent." });
    this.onUpdate(this.state, null);
  }

  stop() {
    if (this.running && this.id) this.socket.send({ type: "chat.stop", stream: this.id });
  }

  end(status, error = null) {
    this.state.status = status;
    if (error) this.state.error = error;
    if (this.id) this.socket.closeStream(this.id);
    this.onUpdate(this.state, null);
  }

  handle(frame) {
    const s = this.state;
    switch (frame.type) {
      case "chat.started":
        s.run = frame.run;
        s.conversation = frame.conversation;
        break;
      case "chat.opened":
        s.sampling = frame.sampling_options;
        s.status = "streaming";
        break;
      case "chat.delta":
        if (frame.choice !== 0) return;
        if (s.ttft === null) s.ttft = frame.t;
        s.tLast = frame.t;
        s.chunks += 1;
        s.text += frame.content || "";
        s.reasoning += frame.reasoning || "";
        s.lastDelta = frame.content || "";
        break;
      case "chat.finish":
        if (frame.choice === 0) s.finish = frame.reason;
        break;
      case "chat.usage":
        s.usage = frame;
        break;
      case "chat.done":
        s.run = frame.run ?? s.run;
        s.totalMs = frame.timings?.total_ms ?? frame.t;
        s.finish = s.finish ?? frame.finish_reasons?.["0"] ?? null;
        this.end(frame.status === "stopped" ? "stopped" : "done");
        return;
      case "chat.error":
        s.run = frame.run ?? s.run;
        this.end("error", { code: frame.code, message: frame.message });
        return;
      case "socket.lost":
        this.end("error", { code: "socket_lost", message: "The connection dropped; the server saved what arrived." });
        return;
      default:
        return;
    }
    this.onUpdate(s, frame);
  }
}

/**
 * Replay a saved run (data from /runs/<id>/replay.json) at its recorded pace: chunk k shows at
 * start + t_ms / speed, on absolute deadlines so that lateness does not add up. No request is sent.
 */
export class ReplayStream {
  constructor(data, onUpdate) {
    this.data = data;
    this.onUpdate = onUpdate;
    this.state = emptyState();
    this.timer = null;
    this.id = `replay-${data.id}`;
  }

  get running() {
    return this.state.status === "replaying";
  }

  start(speed = 1) {
    this.stop(true);
    const rows = (this.data.timeline || []).filter((r) => Array.isArray(r) && r[2] === 0 && typeof r[1] === "number");
    this.state = { ...emptyState(), status: "replaying", replay: speed, sampling: this.data.sampling_options,
      run: this.data.id, conversation: this.data.conversation };
    this.onUpdate(this.state, null);
    const start = performance.now();
    const endAt = Math.max(rows.length ? rows[rows.length - 1][1] : 0, this.data.timings?.total_ms || 0);
    let k = 0;
    const tick = () => {
      const now = performance.now();
      const s = this.state;
      while (k < rows.length && start + rows[k][1] / speed <= now + 1) {
        const [i, t, , content, reasoning] = rows[k];
        if (s.ttft === null) s.ttft = t;
        s.tLast = t;
        s.chunks += 1;
        s.text += content || "";
        s.reasoning += reasoning || "";
        s.lastDelta = content || "";
        k += 1;
        this.onUpdate(s, { type: "chat.delta", i, t });
        document.dispatchEvent(new CustomEvent("replay:chunk", { detail: { stream: this.id, i, t, at: performance.now(), start, speed } }));
      }
      const next = k < rows.length ? start + rows[k][1] / speed : start + endAt / speed;
      if (k >= rows.length && now + 1 >= next) {
        this.finish();
        return;
      }
      this.timer = setTimeout(tick, Math.max(0, next - performance.now()));
    };
    this.timer = setTimeout(tick, 0);
  }

  finish() {
    const s = this.state;
    s.usage = this.data.usage;
    s.totalMs = this.data.timings?.total_ms ?? s.tLast;
    s.finish = this.data.finish_reasons?.["0"] ?? null;
    s.status = this.data.status === "done" ? "done" : this.data.status;
    if (this.data.error) s.error = this.data.error;
    this.timer = null;
    this.onUpdate(s, null);
    document.dispatchEvent(new CustomEvent("replay:end", { detail: { stream: this.id } }));
  }

  stop(silent = false) {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.state.status = "stopped";
    if (!silent) this.onUpdate(this.state, null);
  }
}

/** A saved run shown as it ended, without replaying it. */
export function finishedState(data) {
  const rows = (data.timeline || []).filter((r) => Array.isArray(r) && r[2] === 0);
  return { ...emptyState(), status: data.status, text: data.content || "", reasoning: data.reasoning || "",
    chunks: rows.length, ttft: data.timings?.ttft_ms ?? (rows[0]?.[1] ?? null), tLast: rows.length ? rows[rows.length - 1][1] : null,
    totalMs: data.timings?.total_ms ?? null, usage: data.usage, sampling: data.sampling_options,
    finish: data.finish_reasons?.["0"] ?? null, run: data.id, conversation: data.conversation, error: data.error };
}
