// Live watching on a conversation's page (the playground for members, /s/<token>/ for a share link's
// holder): a stream someone else started on it, shown token by token with its figures, from whichever
// server process runs it (README: "Live watching"). The frames are folded by the page fold
// (WatchedStream → core/stream.js): a watcher that joins mid-stream gets a `watch.snapshot` first.

import { el, drawLater } from "../core/dom.js";
import { ReplyText } from "../core/markdown.js";
import { fmtMs, fmtNumber, fmtTps } from "../core/format.js";
import { FRAME, STATUS } from "../core/protocol.js";
import { WatchedStream } from "../core/live.js";
import { Watcher } from "../core/watch.js";
import { choiceList, metrics } from "../core/stream.js";
import { costText } from "./cost.js";

class LiveBox {
  /** onStop: offered while the stream runs (the user's own stream, from another tab); null: no Stop. */
  constructor(onStop = null) {
    this.watched = new WatchedStream();
    this.ended = false;
    this.stop = el("button", { type: "button", class: "btn btn-sm btn-danger", "data-testid": "live-stop", hidden: !onStop,
      title: "Stop this reply (you started it in another tab)", onclick: () => { this.stop.disabled = true; onStop?.(this.watched.stream); } }, "Stop");
    this.draw = drawLater(() => this.render()); // at most once per animation frame
    this.title = el("strong", { "data-testid": "live-title" });
    this.chip = el("span", { class: "chip streaming", "data-testid": "live-status" }, "live");
    this.model = el("span", { class: "small muted" });
    this.reasoningMd = new ReplyText({ testid: "live-reasoning-md", label: "reasoning" });
    this.reasoning = el("details", { class: "small muted live-reasoning", hidden: true, style: "margin-bottom: 6px;" },
      el("summary", {}, "Reasoning"), this.reasoningMd.root);
    this.textMd = new ReplyText({ testid: "live-md", label: "reply" });
    this.text = el("div", { class: "live-text", "data-testid": "live-text", style: "overflow-wrap: anywhere;" }, this.textMd.body);
    this.metrics = el("div", { class: "small muted", "data-testid": "live-metrics", style: "margin-top: 8px;" });
    this.root = el("section", { class: "panel live-stream", "data-testid": "live-stream", style: "margin-bottom: 12px; border-color: var(--accent, #6b4eff);" },
      el("div", { class: "panel-head" }, this.chip, this.title, this.model, this.stop), this.reasoning, this.text, this.textMd.tools, this.metrics);
  }

  render() {
    const state = this.watched.state;
    const by = state.by || "someone";
    if (state.model) this.model.textContent = state.model;
    if (state.status === STATUS.ERROR || state.status === STATUS.DONE || state.status === STATUS.STOPPED) this.stop.hidden = true;
    if (state.status === STATUS.ERROR) {
      this.chip.className = "chip error";
      this.chip.textContent = "error";
      this.title.textContent = `${by}'s reply failed: ${state.error?.message || state.error?.code || ""}`;
    } else if (state.status === STATUS.DONE || state.status === STATUS.STOPPED) {
      this.chip.className = `chip ${state.status}`;
      this.chip.textContent = state.status;
      this.title.textContent = `${by}'s reply is ${state.status === STATUS.STOPPED ? "stopped" : "done"}`;
    } else {
      this.title.textContent = `Live: ${by} is generating…`;
    }
    const choices = choiceList(state);
    const first = choices[0] || { content: "", reasoning: "" };
    const running = state.status !== STATUS.ERROR && state.status !== STATUS.DONE && state.status !== STATUS.STOPPED;
    this.textMd.update(first.content, { streaming: running });
    this.reasoning.hidden = !first.reasoning;
    this.reasoningMd.update(first.reasoning, { streaming: running && !first.content });
    if (running && !first.content) this.reasoning.open = true;
    const m = metrics(state);
    const figure = (testid, text) => el("span", { "data-testid": testid }, text);
    const parts = [figure("live-deltas", `${fmtNumber(m.deltas)} chunks`)];
    if (m.ttft_ms !== null) parts.push(figure("live-ttft", `TTFT ${fmtMs(m.ttft_ms)}`));
    if (m.tokens_per_second !== null) parts.push(figure("live-tps", `${fmtTps(m.tokens_per_second)} tokens/s`));
    if (m.tokens !== null) parts.push(figure("live-tokens", `tokens ${fmtNumber(m.prompt_tokens)} → ${m.estimated ? "~" : ""}${fmtNumber(m.tokens)}`));
    if (choices.length > 1) parts.push(el("span", {}, `${choices.length} choices (first shown)`));
    if (m.cost) parts.push(figure("live-cost", `cost ${costText(m.cost, state.price)}`));
    this.metrics.replaceChildren(...parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
  }
}

export class LiveWatch {
  /**
   * @param socket a PlaygroundSocket (its "watching" handlers get every watched frame)
   * @param mount where the live panels go (prepended)
   * @param share a share link's token, for watchers who are not members
   * @param onEnd called with the stream's state and its box once a watched stream has ended
   * @param username the signed-in user: their own streams (from another tab) get a Stop button
   */
  constructor(socket, { mount, share = null, onEnd = null, username = null }) {
    this.onEnd = onEnd;
    this.socket = socket;
    this.username = username;
    this.conversation = null;
    this.boxes = new Map(); // stream id → LiveBox
    this.root = el("div", { class: "live-watch", "data-testid": "live-watch", "aria-live": "polite" });
    mount.prepend(this.root);
    this.watcher = new Watcher(socket, {
      share,
      onFrame: (frame) => this.onFrame(frame),
      onAccepted: (conversation) => { this.root.dataset.watching = String(conversation); },
    });
  }

  /** Watch this conversation (null: none), leaving the previous one. */
  watch(conversation) {
    if (conversation === this.conversation) return;
    this.conversation = conversation;
    this.boxes.clear();
    this.root.replaceChildren();
    delete this.root.dataset.watching;
    this.watcher.watch([conversation]);
  }

  onFrame(frame) {
    let box = this.boxes.get(frame.stream);
    if (!box) {
      const mine = this.username && frame.started_by === this.username;
      box = new LiveBox(mine ? (stream) => this.socket.send({ type: FRAME.STOP, stream }) : null);
      this.boxes.set(frame.stream, box);
      this.root.prepend(box.root);
    }
    box.watched.handle(frame);
    const ended = frame.type === FRAME.DONE || frame.type === FRAME.ERROR;
    if (!ended) box.draw();
    if (ended && !box.ended) {
      box.render();
      box.ended = true;
      this.onEnd?.(box.watched.state, box.root);
    }
  }
}
