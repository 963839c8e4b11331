// The arena's stage (/arena/<id>/): projected, so blind until each reveal. The presenter steps through
// the queue with one button (or → / Space): send the prompt to every configuration, close the voting,
// reveal, next prompt. The phones' votes arrive as a live tally (arena.tally, the presenter's only).
// Below, "Check readiness" (panels/readiness.js, the one probe: `probe.start` on the chat socket) sends
// each configuration a tiny request; it names them, so it sits folded once the arena has started.

import { FRAME } from "../core/protocol.js";
import { PlaygroundSocket } from "../core/socket.js";
import { ArenaRoundView, statusWord } from "../panels/arena.js";
import { ReadinessPanel } from "../panels/readiness.js";

const $ = (id) => document.getElementById(id);
const STREAM_FRAMES = [FRAME.DELTA, FRAME.DELTAS, FRAME.FINISH, FRAME.RETHINK];

class StagePage {
  constructor() {
    this.config = JSON.parse($("arena-config").textContent);
    this.queue = [];
    this.current = null;
    this.round = new ArenaRoundView($("arena-slots"), $("arena-tally"), { big: true });
    this.socket = new PlaygroundSocket(this.config.ws_path);
    this.socket.onStatus((state) => {
      $("connection").dataset.state = state;
      $("connection").querySelector(".conn-text").textContent = state === "open" ? "Live" : "Connecting…";
      if (state === "open") this.socket.send({ type: FRAME.ARENA_JOIN, arena: this.config.arena });
    });
    this.socket.on(FRAME.ARENA_STATE, (frame) => {
      this.queue = frame.queue || [];
      this.setCurrent(frame.current);
    });
    this.socket.on(FRAME.ARENA_PROMPT, (frame) => {
      const entry = this.queue.find((p) => p.position === frame.position);
      if (entry) entry.status = frame.status;
      this.setCurrent(frame);
    });
    this.socket.on(FRAME.ARENA_TALLY, (frame) => {
      if (frame.prompt === this.current?.position) this.round.tally(frame.counts);
    });
    for (const type of STREAM_FRAMES) this.socket.on(type, (frame) => this.round.frame(frame));
    this.socket.on(FRAME.ARENA_SNAPSHOT, (frame) => this.round.snapshot(frame));
    this.socket.on(FRAME.ARENA_SLOT, (frame) => this.round.slotEnded(frame));
    this.socket.on(FRAME.ERROR, (frame) => this.setError(frame.message));
    this.socket.connect();
    this.probeSocket = new PlaygroundSocket(this.config.probe_ws_path);
    this.probeSocket.connect();
    // The arena's workspace key, as its rounds use (the header's current workspace may be another).
    this.readiness = new ReadinessPanel(this.probeSocket, {
      onRequest: () => this.readiness.check(this.config.configs),
      workspace: this.config.workspace,
    });
    $("arena-readiness-panel").append(this.readiness.root);
    $("arena-next").addEventListener("click", () => this.next());
    $("arena-stop").addEventListener("click", () => this.socket.send({ type: FRAME.ARENA_STOP }));
    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest?.("input, textarea, button, a")) return;
      if (event.key === "ArrowRight" || event.key === " ") {
        event.preventDefault();
        this.next();
      }
    });
  }

  setError(message) {
    $("arena-error").hidden = !message;
    $("arena-error").textContent = message || "";
  }

  setCurrent(prompt) {
    if (prompt && this.current && prompt.position < this.current.position) return; // an older round's news
    this.current = prompt;
    this.setError(null);
    if (prompt) {
      $("arena-prompt").textContent = prompt.text;
      this.round.set(prompt);
    }
    const count = this.queue.length;
    $("arena-count").textContent = prompt ? `Prompt ${prompt.position + 1} of ${count}` : `${count} prompt${count === 1 ? "" : "s"} queued`;
    $("arena-status").textContent = prompt ? statusWord(prompt.status) : "Ready";
    $("arena-status").dataset.status = prompt?.status || "ready";
    this.controls();
  }

  /** What the next step is: [label, frame or null]. */
  step() {
    const prompt = this.current;
    const nextQueued = this.queue.find((p) => p.status === "queued");
    if (!prompt || prompt.status === "revealed") {
      if (!nextQueued) return ["All prompts done: see the results", null];
      return [`Send prompt ${nextQueued.position + 1}`, { type: FRAME.ARENA_SEND, prompt: nextQueued.position }];
    }
    if (prompt.status === "streaming") return ["Answers streaming…", null];
    // The server stopped mid-round: the answers that had not finished are sent again.
    if (prompt.status === "interrupted") return [`Send prompt ${prompt.position + 1} again`, { type: FRAME.ARENA_SEND, prompt: prompt.position }];
    if (prompt.status === "voting") return ["Close voting", { type: FRAME.ARENA_CLOSE, prompt: prompt.position }];
    if (prompt.status === "closed") return ["Reveal", { type: FRAME.ARENA_REVEAL, prompt: prompt.position }];
    return ["…", null];
  }

  controls() {
    const [label, frame] = this.step();
    $("arena-next").textContent = label;
    $("arena-next").disabled = !frame;
    $("arena-stop").hidden = this.current?.status !== "streaming";
    if (!frame && !this.queue.some((p) => p.status === "queued") && this.current?.status === "revealed") {
      $("arena-next").disabled = false;
    }
  }

  next() {
    const [, frame] = this.step();
    if (frame) {
      this.setError(null);
      if (!this.socket.send(frame)) this.setError("Not connected: nothing was sent.");
    } else if (this.current?.status === "revealed") {
      location.href = this.config.results_url;
    }
  }
}

new StagePage();
