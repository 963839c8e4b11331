// The Response card: a stream's choices (thinking, text, tool calls, logprobs) drawn from the page
// fold's state (core/stream.js). Model output is rendered as Markdown by core/markdown.js (sanitised),
// or set with textContent (completions mode, tool-call arguments, tokens).

import { el, clear, drawLater } from "../core/dom.js";
import { ReplyText, highlightElement } from "../core/markdown.js";
import { SchemaCheck } from "../core/schema.js";
import { FRAME } from "../core/protocol.js";
import { applyFrame, choiceList, hasOutput, newStreamState } from "../core/stream.js";

/** Tool-call arguments as highlighted JSON (the same highlighter as the replies' code blocks). */
function highlighted(args) {
  const code = el("code", {}, args);
  highlightElement(code, "json");
  return el("pre", { class: "md-hl" }, code);
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
    this.shownTokens = 0;
    this.head = el("div", { class: "choice-head" });
    this.thinkingMd = new ReplyText({ testid: "thinking-md", label: "reasoning" });
    this.thinkingText = el("div", { class: "reply-text" }, this.thinkingMd.root);
    this.thinkingSummary = el("summary", {}, "Thinking");
    this.thinking = el("details", { class: "thinking", hidden: true, "data-testid": "thinking" }, this.thinkingSummary, this.thinkingText);
    // Once the user opens or closes it by hand, leave it as they chose.
    this.thinkingSummary.addEventListener("click", () => { this.thinking.dataset.touched = "1"; });
    // Completions mode shows the prompt (muted) with the completion running on after it.
    this.promptSpan = el("span", { class: "reply-prompt", "data-testid": "reply-prompt", hidden: true });
    this.answerSpan = el("span", { class: "reply-answer" });
    // Chat replies render as Markdown, with their Copy and Raw buttons under the text.
    this.answerMd = new ReplyText({ testid: "reply-md", label: "reply" });
    this.text = el("div", { class: "reply-text", "data-testid": "reply-text" }, this.promptSpan, this.answerSpan, this.answerMd.body);
    this.schema = new SchemaCheck();
    this.tools = el("div", { class: "tools", hidden: true });
    this.tokens = el("div", { class: "tokens" });
    // One popover per choice, filled from the token under the pointer or keyboard focus.
    this.popId = `tok-pop-${index}-${Math.random().toString(36).slice(2, 8)}`;
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
    this.root = el("div", { class: "choice", dataset: { choice: index } }, this.head, this.thinking, this.text,
      this.answerMd.tools, this.schema.root, this.tools, this.logprobs);
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

  /** Draw the choice's state (a choice of the fold's state). */
  render(choice, { streaming, multi, prompt = "", markdown = true, request = null, chosen = null, onChoose = null }) {
    for (const t of choice.logprobs.slice(this.shownTokens)) this.addToken(t);
    this.shownTokens = choice.logprobs.length;
    // Reasoning arrives split out of the text already (the server's chunk parser: proxy/client/chunks.py).
    const thinking = choice.reasoning;
    this.thinking.hidden = thinking === "";
    const stillThinking = streaming && Boolean(choice.reasoning) && !choice.content;
    this.thinkingMd.update(thinking, { streaming: stillThinking });
    this.thinkingSummary.textContent = stillThinking ? "Thinking…" : `Thinking (${thinking.length.toLocaleString()} characters)`;
    // Open while it thinks, folded away once the answer starts (unless the user chose otherwise).
    if (!this.thinking.dataset.touched) this.thinking.open = Boolean(stillThinking);
    // Completions' prompt, or chat's echoed prompt: shown before the reply, never part of it.
    const before = prompt || choice.echo || "";
    this.promptSpan.textContent = before;
    this.promptSpan.hidden = !before;
    // Completions mode continues the prompt's raw text: it stays plain; chat replies are Markdown.
    this.answerSpan.hidden = markdown;
    this.answerMd.body.hidden = !markdown;
    this.answerMd.tools.hidden = !markdown || choice.content === "";
    if (markdown) {
      const json = SchemaCheck.expectsJson(request);
      this.answerMd.update(choice.content, { streaming, format: json ? "json" : "markdown" });
      this.answerMd.tools.hidden = choice.content === "";
    } else {
      this.answerSpan.textContent = choice.content;
    }
    this.text.classList.toggle("caret", streaming && !markdown);
    this.schema.show(request, choice.content, { streaming });
    clear(this.head);
    if (multi) this.head.append(el("strong", {}, `Choice ${this.index + 1}`));
    if (choice.finish) this.head.append(el("span", {}, `finish: ${choice.finish}`));
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
    this.head.hidden = !multi && !choice.finish;
    this.tools.hidden = choice.toolCalls.size === 0;
    clear(this.tools);
    for (const call of choice.toolCalls.values()) {
      let args = call.arguments;
      try {
        args = JSON.stringify(JSON.parse(call.arguments), null, 2);
      } catch {
        /* still assembling: show it as it is */
      }
      this.tools.append(el("div", { class: "tool-call", "data-testid": "tool-call" },
        el("span", { class: "tool-name" }, `${call.name || "…"}(`), el("span", { class: "small muted" }, call.id ? ` ${call.id}` : ""),
        highlighted(args || "…"), el("span", { class: "tool-name" }, ")")));
    }
  }
}

export class ReplyView {
  constructor(root, statusChip, modelLabel, emulatorChip) {
    this.root = root;
    this.statusChip = statusChip;
    this.modelLabel = modelLabel;
    this.emulatorChip = emulatorChip;
    this.views = new Map(); // choice index → ChoiceView
    this.state = newStreamState();
    this.streaming = false;
    this.schedule = drawLater(() => this.render());
    this.prompt = "";
    this.chosen = null;
    this.onChoose = null;
  }

  /** A new reply: `prompt` (completions mode) is shown before the completion. */
  start(model, { prompt = "", markdown = true } = {}) {
    clear(this.root);
    this.views = new Map();
    this.state = newStreamState();
    this.streaming = true;
    this.flag = null;
    this.prompt = prompt;
    this.markdown = markdown;
    this.chosen = null;
    this.onChoose = null;
    this.grid = el("div", { class: "choices" });
    // Before the first token: a timer, not a static message (a cold model can take a while).
    this.waitingTime = el("span", { class: "waiting-time", "data-testid": "waiting-time" }, "0.0 s");
    this.waiting = el("p", { class: "waiting", "data-testid": "waiting" }, "Waiting for the first token… ", this.waitingTime);
    const startedAt = performance.now();
    clearInterval(this.waitTimer);
    this.waitTimer = setInterval(() => {
      if (this.waiting.hidden) return clearInterval(this.waitTimer);
      this.waitingTime.textContent = `${((performance.now() - startedAt) / 1000).toFixed(1)} s`;
    }, 100);
    if (this.announcer) this.announcer.textContent = "";
    this.stallNote = el("p", { class: "stall-note", "data-testid": "stall-note", role: "status", hidden: true });
    this.droppedNote = el("p", { class: "reply-dropped", "data-testid": "reply-dropped", role: "status", hidden: true });
    this.resumeLine = el("p", { class: "resume-note", "data-testid": "resume-note", role: "status", hidden: true });
    this.root.append(this.waiting, this.droppedNote, this.grid, this.stallNote, this.resumeLine);
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

  /** "This server does not accept `top_k`; sent without it": the fields the request went without. */
  showDropped(names) {
    if (!this.droppedNote) return;
    const key = names.join(",");
    if (this.droppedNote.dataset.names === key) return;
    this.droppedNote.dataset.names = key;
    this.droppedNote.hidden = names.length === 0;
    const codes = names.flatMap((name, i) => [i ? (i === names.length - 1 ? " or " : ", ") : "", el("code", {}, name)]);
    this.droppedNote.replaceChildren("This server does not accept ", ...codes, "; sent without ", names.length > 1 ? "them" : "it", ".");
  }

  /** "No tokens for N s…" while a stream stalls; null clears it. */
  stall(seconds) {
    if (!this.stallNote) return;
    this.stallNote.hidden = seconds == null;
    if (seconds != null) this.stallNote.textContent = `No tokens for ${seconds} s…`;
  }

  /**
   * The connection while the reply streams: "reconnecting" (the socket dropped; the server keeps the
   * stream), "resuming" (after a reload, before the server answered), "resumed" (re-attached: the text
   * so far came back and the rest follows); null hides the line.
   */
  resumeNote(kind) {
    if (!this.resumeLine) return;
    const text = {
      reconnecting: "Connection lost — reconnecting… The reply keeps streaming on the server.",
      resuming: "Resuming the reply that was streaming…",
      resumed: "Resumed: the connection is back and the reply continues where it was.",
    }[kind];
    this.resumeLine.hidden = !text;
    this.resumeLine.dataset.kind = kind || "";
    this.resumeLine.textContent = text || "";
    if (kind === "reconnecting" || kind === "resuming") this.setChip("waiting", kind === "reconnecting" ? "Reconnecting" : "Resuming");
    else if (kind === "resumed" && this.streaming) this.setChip("streaming", "Streaming");
  }

  /** Mark which choice continues the conversation; `onChoose(index)` offers the others (n > 1). */
  choose(index, onChoose) {
    this.chosen = index;
    if (onChoose !== undefined) this.onChoose = onChoose;
    this.render();
  }

  /** The number of choices shown. */
  get size() {
    return this.state.choices.size;
  }

  view(index) {
    if (!this.views.has(index)) {
      this.views.set(index, new ChoiceView(index));
      const ordered = [...this.views.values()].sort((a, b) => a.index - b.index);
      this.grid.replaceChildren(...ordered.map((c) => c.root));
      this.grid.style.setProperty("--cols", String(Math.min(this.views.size, 4)));
      this.grid.classList.toggle("multi", this.views.size > 1);
    }
    return this.views.get(index);
  }

  /** Show the stream's state (the page fold's), drawn on the next animation frame. */
  update(state) {
    this.state = state;
    if (state.deltas > 0) this.waiting.hidden = true;
    this.setEmulator(state.emulator);
    this.showDropped(state.dropped || []);
    this.schedule();
  }

  /** A saved reply (no stream): its text and reasoning, through the same fold. */
  showSaved(content, reasoning) {
    const state = newStreamState();
    applyFrame(state, { type: FRAME.DELTA, choice: 0, content, reasoning });
    this.update(state);
  }

  render() {
    const choices = choiceList(this.state);
    const ctx = { streaming: this.streaming, multi: choices.length > 1, prompt: this.prompt, markdown: this.markdown !== false,
      request: this.state.request, chosen: this.chosen, onChoose: this.onChoose };
    for (const choice of choices) this.view(choice.index).render(choice, ctx);
  }

  text(index = 0) {
    const c = this.state.choices.get(index);
    return c ? c.content : "";
  }

  reasoning(index = 0) {
    const c = this.state.choices.get(index);
    return c ? c.reasoning : "";
  }

  /** Whether any choice got text, reasoning or a tool call. */
  hasOutput() {
    return hasOutput(this.state);
  }

  /** End the reply. `note` is one short line under it; with no text at all the card says why. */
  end(status, note) {
    this.streaming = false;
    this.root.dataset.status = status;
    this.waiting.hidden = true;
    clearInterval(this.waitTimer);
    this.stall(null);
    if (!this.state.choices.size) {
      const empty = {
        done: "The model returned no text.",
        stopped: "Stopped before any text arrived.",
        error: "No reply: the request failed before any text arrived.",
      };
      this.grid.append(el("p", { class: "empty-note", "data-testid": "reply-empty" }, empty[status] || empty.error));
    }
    const labels = { done: "Done", stopped: "Stopped", error: "Failed" };
    this.setChip(status, labels[status] || status);
    // Announced once, whole, when the reply ends (the reply itself is not a live region).
    if (this.announcer) this.announcer.textContent = `Reply ${(labels[status] || status).toLowerCase()}. ${this.text(0).slice(0, 600)}`;
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

