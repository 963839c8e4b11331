// A stream's state as the views read it, kept by the page fold (core/stream.js) whatever the source:
// a stream this page runs over its websocket (LiveStream), a stream someone else runs on a watched
// conversation (WatchedStream), or a saved run (foldFrames; replay is core/replay.js).

import { FRAME, STATUS } from "./protocol.js";
import { applyFrame, isRunning, newStreamState } from "./stream.js";

/** A fresh, unguessable-enough stream id for this socket. */
export function streamId(prefix = "s") {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A saved run's frames folded at once: the state it ended with. */
export function foldFrames(frames) {
  const state = newStreamState();
  for (const frame of frames) applyFrame(state, frame);
  return state;
}

export class LiveStream {
  /** onUpdate(state, frame) after every frame folded (frame null: a local change). */
  constructor(socket, onUpdate) {
    this.socket = socket;
    this.onUpdate = onUpdate;
    this.state = newStreamState();
    this.id = null;
    this.frame = null;
  }

  get running() {
    return isRunning(this.state);
  }

  /** Send the chat.start `frame` (its stream id is set here); false when the socket is down. */
  start(frame) {
    this.id = frame.stream || streamId();
    this.frame = { ...frame, stream: this.id };
    this.state = newStreamState({ sentAt: performance.now() });
    this.state.status = STATUS.WAITING;
    this.state.stream = this.id;
    this.state.model = frame.model;
    // A stream started again before the last one ended (presentation mode's → mid-answer): the old
    // stream's last frames (its chat.done "stopped") belong to it, never to the new state.
    const id = this.id;
    this.socket.openStream(id, (f) => {
      if (id === this.id) this.handle(f);
      else if (f.type === FRAME.DONE || f.type === FRAME.ERROR) this.socket.closeStream(id);
    }, { resume: true });
    if (!this.socket.send(this.frame)) {
      this.handle({ type: FRAME.ERROR, stream: this.id, code: "socket_closed", message: "Not connected: nothing was sent." });
      return false;
    }
    this.onUpdate(this.state, null);
    return true;
  }

  /**
   * Attach to a stream this page started before a reload (`frame`: what it kept of the chat.start, with
   * the stream id): the server answers with the stream so far, then the rest.
   */
  attach(frame) {
    this.id = frame.stream;
    this.frame = { ...frame };
    this.state = newStreamState();
    this.state.status = STATUS.WAITING;
    this.state.stream = this.id;
    this.state.model = frame.model;
    this.socket.attachStream(this.id, (f) => this.handle(f));
    this.onUpdate(this.state, null);
  }

  handle(frame) {
    if (frame.type === FRAME.ERROR && frame.code === "not_found" && frame.param === "stream") {
      frame = { type: FRAME.GONE, stream: this.id }; // it ended while the page was away, and was saved
    }
    applyFrame(this.state, frame);
    if (!this.running) this.socket.closeStream(this.id);
    this.onUpdate(this.state, frame);
  }

  stop() {
    if (this.running && this.id) this.socket.send({ type: FRAME.STOP, stream: this.id });
  }
}

export class WatchedStream {
  /** state: what the view showed before (a saved run), until a watched stream starts. */
  constructor(state = null) {
    this.state = state || newStreamState();
    this.stream = null;
    this.watched = true;
  }

  get running() {
    return isRunning(this.state);
  }

  stop() {} // a watcher cannot stop someone else's stream

  /** Fold a watched frame; a frame of a new stream starts from nothing. Returns whether it is new. */
  handle(frame) {
    const fresh = frame.stream !== this.stream;
    if (fresh) {
      this.stream = frame.stream;
      this.state = newStreamState();
      applyFrame(this.state, { type: FRAME.STARTED, stream: frame.stream, run: frame.run, conversation: frame.conversation, started_by: frame.started_by, model: frame.model });
    }
    if (frame.started_by) this.state.by = frame.started_by;
    applyFrame(this.state, frame);
    return fresh;
  }
}
