// An audience member's phone (/a/<token>/, no sign-in): the answers live as "A", "B", … and one vote per
// prompt (a slot, a tie or both bad; voting again replaces it), counted by this browser's signed cookie.
// After the voting closes the tally shows; after the reveal, which configuration each slot was.

import { el, clear } from "../core/dom.js";
import { FRAME } from "../core/protocol.js";
import { PlaygroundSocket } from "../core/socket.js";
import { ArenaRoundView, choiceLabel, statusWord } from "../panels/arena.js";

const $ = (id) => document.getElementById(id);
const STREAM_FRAMES = [FRAME.DELTA, FRAME.DELTAS, FRAME.FINISH, FRAME.RETHINK];
const VOTABLE = new Set(["streaming", "voting"]);

class AudiencePage {
  constructor() {
    this.config = JSON.parse($("arena-config").textContent);
    this.current = null;
    this.myVote = null;
    this.round = new ArenaRoundView($("arena-slots"), $("arena-tally"));
    this.socket = new PlaygroundSocket(this.config.ws_path);
    this.socket.onStatus((state) => {
      $("connection").dataset.state = state;
      $("connection").querySelector(".conn-text").textContent = state === "open" ? "Live" : "Connecting…";
      if (state === "open") this.socket.send({ type: FRAME.ARENA_JOIN, token: this.config.token });
    });
    this.socket.on(FRAME.ARENA_STATE, (frame) => {
      if (frame.current) this.myVote = frame.current.my_vote || null;
      this.setCurrent(frame.current);
    });
    this.socket.on(FRAME.ARENA_PROMPT, (frame) => this.setCurrent(frame));
    for (const type of STREAM_FRAMES) this.socket.on(type, (frame) => this.round.frame(frame));
    this.socket.on(FRAME.ARENA_SNAPSHOT, (frame) => this.round.snapshot(frame));
    this.socket.on(FRAME.ARENA_SLOT, (frame) => this.round.slotEnded(frame));
    this.socket.on(FRAME.ARENA_VOTED, (frame) => {
      if (frame.prompt !== this.current?.position) return;
      this.myVote = frame.choice;
      this.voteButtons();
    });
    this.socket.on(FRAME.ERROR, (frame) => this.setError(frame.message));
    this.socket.connect();
  }

  setError(message) {
    $("arena-error").hidden = !message;
    $("arena-error").textContent = message || "";
  }

  setCurrent(prompt) {
    if (!prompt || (this.current && prompt.position < this.current.position)) return;
    if (prompt.position !== this.current?.position) this.myVote = prompt.my_vote || null;
    this.current = prompt;
    this.setError(null);
    $("arena-prompt").hidden = false;
    $("arena-prompt").textContent = prompt.text;
    $("arena-status").textContent = `Prompt ${prompt.position + 1} · ${statusWord(prompt.status)}`;
    $("arena-status").dataset.status = prompt.status;
    this.round.set(prompt);
    this.voteButtons();
  }

  voteButtons() {
    const prompt = this.current;
    const open = VOTABLE.has(prompt.status);
    $("arena-vote").hidden = !open && !this.myVote;
    $("vote-buttons").hidden = !open;
    $("arena-vote").querySelector("h2").hidden = !open;
    const choices = [...prompt.slots, "tie", "bad"];
    clear($("vote-buttons")).append(...choices.map((choice) => el("button", {
      type: "button", class: `btn vote-btn${this.myVote === choice ? " chosen" : ""}`, disabled: !open,
      "aria-pressed": String(this.myVote === choice), "data-testid": `vote-${choice}`,
      onclick: () => this.vote(choice),
    }, choiceLabel(choice))));
    $("vote-note").textContent = this.myVote
      ? `Your vote: ${choiceLabel(this.myVote)}${open ? " · tap another to change it" : ""}`
      : "One vote per prompt; vote again to change it.";
  }

  vote(choice) {
    this.setError(null);
    if (!this.socket.send({ type: FRAME.ARENA_VOTE, prompt: this.current.position, choice })) {
      this.setError("Not connected: your vote was not sent.");
    }
  }
}

new AudiencePage();
