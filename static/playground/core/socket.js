// One websocket for the page: reconnects with backoff and routes frames by their stream id (chat.deltas
// frames go to their stream as they are: the fold expands them). A stream opened with `resume` survives a
// drop: the server keeps it running for a grace period, and after the reconnect this socket sends
// `chat.attach` for it (proxy/PROTOCOL.md, "Resuming a stream"); its handler gets a local `socket.down`
// frame meanwhile. Any other stream in flight ends with a local `socket.lost` frame.

import { FRAME } from "./protocol.js";

export class PlaygroundSocket {
  constructor(path) {
    this.url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
    this.streams = new Map(); // stream id → handler(frame)
    this.resumable = new Set(); // stream ids to re-attach after a reconnect
    this.handlers = new Map(); // frame type → [handler] for frames that belong to no stream
    this.statusListeners = [];
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
  }

  connect() {
    clearTimeout(this.timer);
    this.setStatus("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      // Re-attach before anything else is sent: the server answers each with chat.attached (or not_found).
      for (const id of this.resumable) ws.send(JSON.stringify({ type: FRAME.ATTACH, stream: id }));
      this.setStatus("open");
    });
    ws.addEventListener("message", (event) => this.dispatch(event.data));
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      for (const [id, handler] of [...this.streams]) {
        if (this.resumable.has(id)) {
          handler({ type: FRAME.SOCKET_DOWN, stream: id }); // it runs on, on the server: re-attached on open
        } else {
          this.streams.delete(id);
          handler({ type: FRAME.SOCKET_LOST, stream: id });
        }
      }
      // Backoff: 0.5 s, 1 s, 2 s, … capped at 15 s, with jitter so tabs do not reconnect in step.
      const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
      this.attempt += 1;
      this.setStatus("closed", delay);
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Route every frame carrying `stream: id` to handler until the stream ends; `resume`: re-attach it
   * after a reconnect instead of ending it. */
  openStream(id, handler, { resume = false } = {}) {
    this.streams.set(id, handler);
    if (resume) this.resumable.add(id);
  }

  /** Attach to a stream this page started before a reload: chat.attach now, or once connected. */
  attachStream(id, handler) {
    this.openStream(id, handler, { resume: true });
    this.send({ type: FRAME.ATTACH, stream: id });
  }

  closeStream(id) {
    this.streams.delete(id);
    this.resumable.delete(id);
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, []);
    this.handlers.get(type).push(handler);
  }

  onStatus(listener) {
    this.statusListeners.push(listener);
  }

  setStatus(state, delay) {
    for (const listener of this.statusListeners) listener(state, delay);
  }

  dispatch(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      console.warn("ignored a websocket frame that is not JSON");
      return;
    }
    this.route(frame);
  }

  route(frame) {
    if (!frame || typeof frame !== "object") return;
    if (frame.watching || frame.type === FRAME.SNAPSHOT) {
      // A stream of a watched conversation (watch.js), unless it is one of this page's own: those come
      // directly (attached), never twice.
      if (this.streams.has(frame.stream)) return;
      for (const handler of this.handlers.get("watching") || []) handler(frame);
      return;
    }
    if (frame.stream != null && this.streams.has(frame.stream)) {
      this.streams.get(frame.stream)(frame);
      return;
    }
    for (const handler of this.handlers.get(frame.type) || []) handler(frame);
  }
}
