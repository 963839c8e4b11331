// Responses mode (POST /responses): the thread of responses chained by previous_response_id, each with
// its usage, and whether the next request continues it.

import { el, clear } from "../core/dom.js";
import { fmtNumber } from "../core/format.js";

export class ResponsesThread {
  constructor(anchor) {
    this.items = [];
    this.chain = el("input", { type: "checkbox", checked: true, "data-testid": "responses-chain" });
    this.list = el("ol", { class: "responses-thread", "data-testid": "responses-thread" });
    this.root = el("div", { class: "panel responses-panel", "data-testid": "responses-panel", hidden: true },
      el("div", { class: "panel-head" }, el("h2", {}, "Responses thread"), el("span", { class: "small muted" }, "POST /responses")),
      el("label", { class: "small" }, this.chain, " continue from the last response (previous_response_id; needs store on)"),
      this.list);
    anchor.after(this.root);
  }

  setMode(mode) {
    this.root.hidden = mode !== "responses";
  }

  reset() {
    this.items = [];
    clear(this.list);
  }

  /** Add previous_response_id to a responses frame when the thread continues. */
  decorate(frame) {
    const last = this.items[this.items.length - 1];
    if (frame.mode === "responses" && this.chain.checked && last && last.stored) frame.previous_response_id = last.id;
  }

  /** A finished responses stream: its id, the id it continued, whether it was stored, its usage. */
  done(frame, done, usage) {
    if (frame.mode !== "responses" || !done.response_id) return;
    const item = { id: done.response_id, previous: frame.previous_response_id || null, stored: frame.params?.store !== false, usage };
    this.items.push(item);
    this.list.append(el("li", { "data-testid": "responses-item" },
      el("code", {}, item.id),
      el("span", { class: "small muted" }, item.previous ? ` ← continues ${item.previous}` : " (new thread)"),
      el("span", { class: "small" }, ` · ${item.stored ? "stored" : "not stored"}`),
      usage ? el("span", { class: "small muted", "data-testid": "responses-usage" }, ` · ${fmtNumber(usage.prompt_tokens)} in / ${fmtNumber(usage.completion_tokens)} out tokens`) : null));
  }
}
