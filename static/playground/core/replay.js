// Replay: a saved run's frames fed through the page fold (core/stream.js) at their recorded `t`, exactly
// as live frames. Deadlines are absolute (start + t / speed), so lateness does not add up; no request
// is sent. Each delta dispatches `replay:chunk` on document (the pace test reads it), the end `replay:end`.

import { ENDED, FRAME, STATUS } from "./protocol.js";
import { applyFrame, newStreamState } from "./stream.js";

/** Expand chat.deltas into its chat.delta items (a saved run's frames may hold either). */
function flatten(frames) {
  const out = [];
  for (const frame of Array.isArray(frames) ? frames : []) {
    if (!frame || typeof frame !== "object") continue;
    if (frame.type === FRAME.DELTAS && Array.isArray(frame.items)) {
      const { items, ...common } = frame;
      for (const item of items) out.push({ ...common, ...item, type: FRAME.DELTA });
    } else {
      out.push(frame);
    }
  }
  return out;
}

export class FramePlayer {
  /** frames: the run's frames (timeline + terminal); onFrame(frame) for each; onEnd() once played. */
  constructor({ id, frames, onFrame, onEnd = null }) {
    this.id = id;
    this.frames = flatten(frames);
    this.onFrame = onFrame;
    this.onEnd = onEnd;
    this.timer = null;
  }

  get playing() {
    return this.timer !== null;
  }

  start(speed = 1) {
    this.stop();
    const frames = this.frames;
    const at = (frame) => (typeof frame.t === "number" && Number.isFinite(frame.t) ? Math.max(0, frame.t) : 0);
    const start = performance.now();
    let k = 0;
    let last = 0;
    const tick = () => {
      const now = performance.now();
      while (k < frames.length && start + Math.max(last, at(frames[k])) / speed <= now + 1) {
        const frame = frames[k];
        last = Math.max(last, at(frame));
        k += 1;
        this.onFrame(frame);
        if (frame.type === FRAME.DELTA) {
          document.dispatchEvent(new CustomEvent("replay:chunk", { detail: { stream: this.id, i: frame.i, t: frame.t, at: performance.now(), start, speed } }));
        }
      }
      if (k >= frames.length) {
        this.timer = null;
        this.onEnd?.();
        document.dispatchEvent(new CustomEvent("replay:end", { detail: { stream: this.id } }));
        return;
      }
      this.timer = setTimeout(tick, Math.max(0, start + Math.max(last, at(frames[k])) / speed - performance.now()));
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stop playing; returns whether it was playing. */
  stop() {
    if (this.timer === null) return false;
    clearTimeout(this.timer);
    this.timer = null;
    return true;
  }
}

/** A saved run replayed into a fresh fold state; onUpdate(state, frame) after each frame, (state, null) at the end. */
export class ReplayStream {
  constructor(id, frames, onUpdate) {
    this.id = id;
    this.onUpdate = onUpdate;
    this.state = newStreamState();
    this.speed = null;
    this.player = new FramePlayer({
      id, frames,
      onFrame: (frame) => {
        applyFrame(this.state, frame);
        this.onUpdate(this.state, frame);
      },
      onEnd: () => {
        this.speed = null;
        this.onUpdate(this.state, null);
      },
    });
  }

  get running() {
    return this.player.playing;
  }

  start(speed = 1) {
    this.player.stop();
    this.state = newStreamState();
    this.speed = speed;
    this.player.start(speed);
    this.onUpdate(this.state, null);
  }

  /** Stop the replay where it is (silent: no update, e.g. a live run takes the column over). */
  stop(silent = false) {
    if (!this.player.stop()) return;
    this.speed = null;
    if (!ENDED.has(this.state.status)) this.state.status = STATUS.STOPPED;
    if (!silent) this.onUpdate(this.state, null);
  }
}
