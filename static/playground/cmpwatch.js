// Watching a comparison live: every column's conversation is watched with the live-watching protocol
// (README "Live watching"): `watch {conversation, comparison}` for a member on the compare page, or
// `watch {conversation, share}` with the comparison's share link on /s/<token>/. Each column's watched
// frames drive a WatchedColumn, which keeps the same state as a ColumnStream (columns.js), so the
// column views, metrics and summary are the compare page's own. Joining mid-stream: the server sends a
// `watch.snapshot` (the text so far, the last chunk index `i`); deltas at or below `i` are ignored.

import { emptyState } from "./columns.js";

export class WatchedColumn {
  constructor(state) {
    this.state = state || emptyState();
    this.stream = null;
    this.lastI = -1;
  }

  get running() {
    return this.state.status === "waiting" || this.state.status === "streaming";
  }

  stop() {} // a watcher cannot stop someone else's stream

  /** A new stream on the column's conversation: start from nothing. */
  reset(frame) {
    this.stream = frame.stream;
    this.lastI = -1;
    this.state = { ...emptyState(), status: "waiting", watched: true, by: frame.started_by || null,
      run: frame.run ?? null, conversation: frame.conversation ?? null };
  }

  /** Apply a watched frame; returns whether the state changed. */
  handle(frame) {
    if (frame.stream == null) return false;
    if (frame.stream !== this.stream) this.reset(frame);
    const s = this.state;
    if (frame.started_by) s.by = frame.started_by;
    switch (frame.type) {
      case "chat.started":
        s.run = frame.run ?? s.run;
        s.model = frame.model || null;
        break;
      case "watch.snapshot": {
        // Everything up to chunk `i`: it replaces what arrived before it; later deltas continue it.
        const first = (frame.choices || []).find((c) => c.choice === 0) || {};
        s.run = frame.run ?? s.run;
        s.model = frame.model || s.model;
        s.text = first.content || "";
        s.reasoning = first.reasoning || "";
        s.finish = first.finish_reason || s.finish;
        this.lastI = frame.i;
        s.chunks = frame.timings?.chunks ?? frame.i + 1;
        s.ttft = frame.timings?.ttft_ms ?? s.ttft;
        s.tLast = s.chunks ? frame.t : null;
        if (frame.opened) s.sampling = frame.opened.sampling_options || s.sampling;
        if (frame.usage) s.usage = frame.usage;
        s.status = frame.opened || s.chunks ? "streaming" : "waiting";
        break;
      }
      case "chat.opened":
        s.sampling = frame.sampling_options || null;
        s.requested = frame.requested || null; // what this run asked for (absent when the link hides it)
        s.status = "streaming";
        break;
      case "chat.delta":
        if (frame.choice !== 0 || frame.i <= this.lastI) return false;
        this.lastI = frame.i;
        if (s.ttft === null) s.ttft = frame.t;
        s.tLast = frame.t;
        s.chunks += 1;
        s.text += frame.content || "";
        s.reasoning += frame.reasoning || "";
        s.status = "streaming";
        break;
      case "chat.finish":
        if (frame.choice === 0) s.finish = frame.reason;
        break;
      case "chat.usage":
        s.usage = frame;
        break;
      case "chat.done":
        s.run = frame.run ?? s.run;
        s.totalMs = frame.timings?.total_ms ?? frame.t ?? null;
        s.finish = s.finish ?? frame.finish_reasons?.["0"] ?? null;
        s.status = frame.status === "stopped" ? "stopped" : "done";
        break;
      case "chat.error":
        s.run = frame.run ?? s.run;
        s.status = "error";
        s.error = { code: frame.code, message: frame.message };
        break;
      default:
        return false;
    }
    return true;
  }
}

export class ComparisonWatch {
  /**
   * @param socket a PlaygroundSocket (/ws/chat/ for members, /ws/watch/ for a share link)
   * @param comparison the comparison's id (members) — or share: the comparison's share-link token
   * @param onFrame (index, frame) for each watched frame of column `index`'s conversation
   * @param onWatching (count) once the server has accepted another column's watch
   */
  constructor(socket, { comparison = null, share = null, onFrame, onWatching = null }) {
    this.socket = socket;
    this.comparison = comparison;
    this.share = share;
    this.onFrame = onFrame;
    this.conversations = [];
    this.accepted = new Set();
    socket.on("watch.ok", (frame) => {
      if (!this.conversations.includes(frame.conversation)) return;
      this.accepted.add(frame.conversation);
      onWatching?.(this.accepted.size);
    });
    socket.on("watching", (frame) => {
      const index = this.conversations.indexOf(frame.conversation);
      if (index >= 0) this.onFrame(index, frame);
    });
    // After a reconnect the server has forgotten the socket's groups: watch again.
    socket.onStatus((state) => { if (state === "open") this.subscribe(); });
  }

  /** Watch these conversations (one per column, null for a missing one), leaving the others. */
  watch(conversations) {
    const next = conversations.map((c) => (typeof c === "number" ? c : null));
    for (const old of this.conversations) {
      if (old !== null && !next.includes(old)) this.socket.send({ type: "unwatch", conversation: old });
    }
    const before = new Set(this.conversations);
    this.conversations = next;
    for (const c of [...this.accepted]) if (!next.includes(c)) this.accepted.delete(c);
    this.subscribe(next.filter((c) => c !== null && !before.has(c)));
  }

  subscribe(only = null) {
    for (const conversation of only || this.conversations) {
      if (conversation === null) continue;
      const frame = { type: "watch", conversation };
      if (this.share) frame.share = this.share;
      else if (this.comparison !== null) frame.comparison = this.comparison;
      this.socket.send(frame);
    }
  }
}
