// Live watching: a stream someone else started on the open conversation, shown token by token with its
// metrics, from whichever server process runs it (README: "Live watching"). The server sends the
// stream's chat.* frames with `watching: true`; a watcher that joins mid-stream first gets a
// `watch.snapshot` (the text so far and the last chunk index `i`) and ignores deltas with i ≤ that.

import { el, fmtNumber } from "./dom.js";

export class LiveWatch {
  /**
   * @param socket a PlaygroundSocket (its "watching" handlers get every watched frame)
   * @param mount where the live panels go (prepended)
   * @param share a share link's token, for watchers who are not members
   * @param onEnd called with the final frame once a watched stream has ended
   */
  constructor(socket, { mount, share = null, onEnd = null }) {
    this.socket = socket;
    this.share = share;
    this.onEnd = onEnd;
    this.conversation = null;
    this.streams = new Map(); // stream id → state
    this.root = el("div", { class: "live-watch", "data-testid": "live-watch", "aria-live": "polite" });
    mount.prepend(this.root);
    socket.on("watching", (frame) => this.onFrame(frame));
    socket.on("watch.ok", (frame) => { this.root.dataset.watching = String(frame.conversation); });
    // After a reconnect the server has forgotten the socket's groups: watch again.
    socket.onStatus((state) => { if (state === "open") this.subscribe(); });
  }

  /** Watch this conversation (null: none), leaving the previous one. */
  watch(conversation) {
    if (conversation === this.conversation) return;
    if (this.conversation !== null) this.socket.send({ type: "unwatch", conversation: this.conversation });
    this.conversation = conversation;
    this.streams.clear();
    this.root.replaceChildren();
    delete this.root.dataset.watching;
    this.subscribe();
  }

  subscribe() {
    if (this.conversation === null) return;
    const frame = { type: "watch", conversation: this.conversation };
    if (this.share) frame.share = this.share;
    this.socket.send(frame);
  }

  state(frame) {
    let s = this.streams.get(frame.stream);
    if (!s) {
      s = { choices: new Map(), lastI: -1, chunks: 0, firstT: null, lastT: null, usage: null, ttft: null, ended: false };
      s.title = el("strong", { "data-testid": "live-title" });
      s.chip = el("span", { class: "chip streaming", "data-testid": "live-status" }, "live");
      s.model = el("span", { class: "small muted" });
      s.reasoning = el("div", { class: "small muted live-reasoning", hidden: true, style: "white-space: pre-wrap; margin-bottom: 6px;" });
      s.text = el("div", { class: "live-text", "data-testid": "live-text", style: "white-space: pre-wrap; overflow-wrap: anywhere;" });
      s.metrics = el("div", { class: "small muted", "data-testid": "live-metrics", style: "margin-top: 8px;" });
      s.box = el("section", { class: "panel live-stream", "data-testid": "live-stream", style: "margin-bottom: 12px; border-color: var(--accent, #6b4eff);" },
        el("div", { class: "panel-head" }, s.chip, s.title, s.model), s.reasoning, s.text, s.metrics);
      this.streams.set(frame.stream, s);
      this.root.prepend(s.box);
    }
    if (frame.started_by) s.by = frame.started_by;
    if (frame.model) s.model.textContent = frame.model;
    if (!s.ended) s.title.textContent = `Live: ${s.by || "someone"} is generating…`;
    return s;
  }

  choice(s, index) {
    if (!s.choices.has(index)) s.choices.set(index, { content: "", reasoning: "" });
    return s.choices.get(index);
  }

  onFrame(frame) {
    if (frame.conversation !== this.conversation || frame.stream == null) return;
    const s = this.state(frame);
    switch (frame.type) {
      case "watch.snapshot":
        // Everything up to chunk `i`: replaces what arrived before it; later deltas continue it.
        s.choices.clear();
        for (const c of frame.choices || []) Object.assign(this.choice(s, c.choice), { content: c.content || "", reasoning: c.reasoning || "" });
        s.lastI = frame.i;
        s.chunks = frame.timings ? frame.timings.chunks : frame.i + 1;
        s.ttft = frame.timings ? frame.timings.ttft_ms : null;
        s.rate = frame.timings ? frame.timings.chunks_per_second : null;
        if (frame.usage) s.usage = frame.usage;
        break;
      case "chat.delta": {
        if (frame.i <= s.lastI) return; // already in the snapshot
        s.lastI = frame.i;
        s.chunks += 1;
        if (s.firstT === null) s.firstT = frame.t;
        if (s.ttft === null) s.ttft = frame.t;
        s.lastT = frame.t;
        const out = this.choice(s, frame.choice);
        if (frame.content) out.content += frame.content;
        if (frame.reasoning) out.reasoning += frame.reasoning;
        if (s.firstT !== null && s.lastT > s.firstT) s.rate = (s.chunks - 1) / ((s.lastT - s.firstT) / 1000);
        break;
      }
      case "chat.usage":
        s.usage = frame;
        break;
      case "chat.done":
      case "chat.error":
        s.ended = true;
        s.chip.className = `chip ${frame.type === "chat.error" ? "error" : frame.status}`;
        s.chip.textContent = frame.type === "chat.error" ? "error" : frame.status;
        s.title.textContent = frame.type === "chat.error"
          ? `${s.by || "Someone"}'s reply failed: ${frame.message || frame.code}`
          : `${s.by || "Someone"}'s reply is ${frame.status === "stopped" ? "stopped" : "done"}`;
        if (frame.timings) Object.assign(s, { chunks: frame.timings.chunks, ttft: frame.timings.ttft_ms, rate: frame.timings.chunks_per_second });
        if (this.onEnd) this.onEnd(frame, s.box);
        break;
      default:
        break;
    }
    this.render(s);
  }

  render(s) {
    const first = this.choice(s, Math.min(...s.choices.keys(), 0));
    s.text.textContent = first.content;
    s.reasoning.hidden = !first.reasoning;
    s.reasoning.textContent = first.reasoning ? `Reasoning: ${first.reasoning}` : "";
    const parts = [`${fmtNumber(s.chunks)} chunks`];
    if (s.ttft !== null && s.ttft !== undefined) parts.push(`TTFT ${fmtNumber(s.ttft)} ms`);
    if (s.rate) parts.push(`${fmtNumber(s.rate, 1)} chunks/s`);
    if (s.usage) parts.push(`tokens ${fmtNumber(s.usage.prompt_tokens)} → ${fmtNumber(s.usage.completion_tokens)}`);
    if (s.choices.size > 1) parts.push(`${s.choices.size} choices (first shown)`);
    s.metrics.textContent = parts.join(" · ");
  }
}
