// The arena's round on screen, for the stage and the phones alike: one card per slot ("A", "B", …) whose
// text is folded from the anonymised frames by the page's one fold (core/stream.js), and the tally. Which
// configuration a slot was is shown only once the server sends the reveal (proxy/arena.py).

import { el, clear, drawLater } from "../core/dom.js";
import { FRAME, STATUS } from "../core/protocol.js";
import { applyFrame, newStreamState } from "../core/stream.js";
import { ReplyText } from "../core/markdown.js";

export const CHOICE_LABELS = { tie: "Tie", bad: "Both bad" };
const STATUS_WORDS = {
  queued: "Queued", streaming: "Answers streaming…", voting: "Voting open", closed: "Voting closed", revealed: "Revealed",
  interrupted: "Interrupted: the server stopped mid-answer",
};
const SLOT_WORDS = { [STATUS.WAITING]: "waiting…", [STATUS.STREAMING]: "writing…", [STATUS.DONE]: "done", [STATUS.STOPPED]: "stopped", [STATUS.ERROR]: "failed" };

export function statusWord(status) {
  return STATUS_WORDS[status] || status || "";
}

export function choiceLabel(choice) {
  return CHOICE_LABELS[choice] || choice;
}

/** A slot's answer text as the fold holds it. */
function textOf(state) {
  return state.choices.get(0)?.content || "";
}

class SlotCard {
  constructor(slot, { big }) {
    this.slot = slot;
    this.state = newStreamState();
    this.state.status = STATUS.WAITING;
    this.reply = new ReplyText({ className: "arena-md", testid: `slot-${slot}-text`, label: `answer ${slot}` });
    this.letter = el("span", { class: "slot-letter", "aria-hidden": "true" }, slot);
    this.chip = el("span", { class: "slot-state", "data-testid": `slot-${slot}-state` });
    this.who = el("span", { class: "slot-who", "data-testid": `slot-${slot}-who`, hidden: true });
    this.flag = el("span", { class: "badge badge-warn slot-flag", "data-testid": `slot-${slot}-flag`, hidden: true });
    this.root = el("article", { class: `arena-slot${big ? " big" : ""}`, "data-testid": `slot-${slot}`, "aria-label": `Answer ${slot}` },
      el("header", { class: "slot-head" }, this.letter, el("div", { class: "slot-meta" }, this.who, this.chip), this.flag),
      this.reply.root);
  }

  render() {
    const running = this.state.status === STATUS.WAITING || this.state.status === STATUS.STREAMING;
    this.reply.update(textOf(this.state), { streaming: running });
    this.chip.textContent = SLOT_WORDS[this.state.status] || "";
    this.root.dataset.status = this.state.status;
  }

  reveal(info) {
    this.who.hidden = !info;
    this.root.classList.toggle("revealed", Boolean(info));
    if (info) {
      clear(this.who).append(el("strong", {}, info.label), el("span", { class: "mono" }, info.model));
    }
  }

  flagged(names) {
    this.flag.hidden = !names;
    this.flag.textContent = names ? "named itself: votes void" : "";
  }
}

export class ArenaRoundView {
  /** slotsRoot: where the cards go; tallyRoot: where the tally goes; big: the stage's large type. */
  constructor(slotsRoot, tallyRoot, { big = false } = {}) {
    this.slotsRoot = slotsRoot;
    this.tallyRoot = tallyRoot;
    this.big = big;
    this.position = null;
    this.cards = new Map();
    this.prompt = null;
    this.draw = drawLater(() => this.render());
  }

  get slots() {
    return [...this.cards.keys()];
  }

  /** A prompt as the server describes it (arena.state's `current`, or an arena.prompt frame). */
  set(prompt) {
    if (!prompt) return;
    if (prompt.position !== this.position) {
      this.position = prompt.position;
      this.cards = new Map(prompt.slots.map((slot) => [slot, new SlotCard(slot, { big: this.big })]));
      this.slotsRoot.style.setProperty("--slots", String(prompt.slots.length));
      clear(this.slotsRoot).append(...[...this.cards.values()].map((card) => card.root));
    }
    this.prompt = prompt;
    for (const [slot, answer] of Object.entries(prompt.answers || {})) {
      const card = this.cards.get(slot);
      if (card && answer.status === "streaming" && ![STATUS.WAITING, STATUS.STREAMING].includes(card.state.status)) {
        // An interrupted prompt sent again: this slot's answer starts over.
        card.state = newStreamState();
        card.state.status = STATUS.WAITING;
      }
      if (!card || answer.status === "streaming") continue;
      // A saved answer (it ended before this page joined): folded as one delta and its end.
      if (!textOf(card.state) && answer.text) applyFrame(card.state, { type: FRAME.DELTA, i: 0, choice: 0, content: answer.text });
      this.end(card, answer.status);
    }
    const reveal = prompt.reveal || null;
    for (const card of this.cards.values()) {
      card.reveal(reveal ? reveal[card.slot] : null);
      card.flagged((prompt.flagged || []).includes(card.slot) || (reveal?.[card.slot]?.self_named?.length > 0));
    }
    if (prompt.tally) this.tally(prompt.tally);
    else this.tallyRoot.hidden = true;
    this.draw();
  }

  /** Which card a frame's stream ("<prompt>:<slot>") belongs to, if it is this prompt's. */
  cardOf(stream) {
    const [position, slot] = String(stream || "").split(":");
    return Number(position) === this.position ? this.cards.get(slot) || null : null;
  }

  /** An anonymised stream frame (chat.delta, chat.deltas, chat.finish, chat.rethink). */
  frame(frame) {
    const card = this.cardOf(frame.stream);
    if (!card || ![STATUS.WAITING, STATUS.STREAMING].includes(card.state.status)) return;
    applyFrame(card.state, frame);
    if (card.state.status === STATUS.WAITING) card.state.status = STATUS.STREAMING;
    this.draw();
  }

  /** A slot's answer so far, for a page that joined mid-stream: the fold's snapshot. */
  snapshot(frame) {
    const card = frame.prompt === this.position ? this.cards.get(frame.slot) : null;
    if (!card) return;
    applyFrame(card.state, { type: FRAME.SNAPSHOT, stream: frame.stream, i: frame.i, frames: frame.frames });
    card.state.status = STATUS.STREAMING;
    this.draw();
  }

  /** arena.slot: a slot's answer ended. */
  slotEnded(frame) {
    const card = frame.prompt === this.position ? this.cards.get(frame.slot) : null;
    if (card) this.end(card, frame.status);
    this.draw();
  }

  end(card, status) {
    if (status === "error") applyFrame(card.state, { type: FRAME.ERROR, code: "error", message: "This answer failed." });
    else applyFrame(card.state, { type: FRAME.DONE, status });
  }

  /** The votes per choice as bars. */
  tally(counts) {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    this.tallyRoot.hidden = false;
    clear(this.tallyRoot).append(
      el("div", { class: "tally-head" }, el("strong", {}, "Votes"), el("span", { "data-testid": "tally-total" }, String(total))),
      ...Object.entries(counts).map(([choice, n]) => {
        const fill = el("span", { class: "tally-fill" });
        fill.style.setProperty("--share", total ? String(n / total) : "0");
        return el("div", { class: "tally-row", "data-testid": `tally-${choice}` },
          el("span", { class: "tally-label" }, choiceLabel(choice)), el("span", { class: "tally-bar" }, fill),
          el("span", { class: "tally-n", "data-testid": `tally-${choice}-n` }, String(n)));
      }));
  }

  render() {
    for (const card of this.cards.values()) card.render();
  }
}
