// The Usage panel: prompt, completion, total and cached tokens of a stream, from the page fold's figures.

import { el, clear } from "../core/dom.js";
import { fmtNumber } from "../core/format.js";
import { ENDED, STATUS } from "../core/protocol.js";
import { metrics } from "../core/stream.js";
import { drawCost } from "./cost.js";

export class UsageView {
  constructor(root) {
    this.root = root;
    this.reset();
  }

  reset() {
    this.draw({ prompt_tokens: null, tokens: null, total_tokens: null, cached_tokens: null, estimated: false, cost: null }, false, "Token counts appear when the reply starts.", undefined);
  }

  /** Show a stream's state; `saved`: a saved run (its usage is what was kept). */
  update(state, { saved = false } = {}) {
    if (state.status === STATUS.IDLE) return this.reset();
    const m = metrics(state);
    let note = null;
    if (ENDED.has(state.status) && !state.usage) {
      if (saved && m.tokens === null) note = "No usage was saved for this run.";
      else if (m.tokens !== null) {
        note = state.status === STATUS.DONE
          ? "The server sent no usage for this stream: the completion count is an estimate (one token per delta)."
          : "The stream ended before the usage arrived: the completion count is an estimate.";
      }
    }
    this.draw(m, Boolean(state.usage), note, state.price, ENDED.has(state.status));
  }

  /** `price`: the run's price (null: none known; undefined: no reply yet). */
  draw(m, exact, note, price, ended = false) {
    const approx = m.estimated;
    const total = m.total_tokens ?? (approx && m.prompt_tokens !== null && m.tokens !== null ? m.prompt_tokens + m.tokens : null);
    const stat = (label, value, sub, testid) => el("div", { class: "stat", "data-testid": testid },
      el("div", { class: "label" }, label),
      el("div", { class: "value" }, value),
      el("div", { class: "sub" }, sub));
    clear(this.root).append(el("div", { class: "stats" },
      stat("Prompt", fmtNumber(m.prompt_tokens), m.prompt_tokens != null ? "from headers" : "", "usage-prompt"),
      stat("Completion", (approx ? "≈ " : "") + fmtNumber(m.tokens), approx ? "counting deltas" : (exact ? "exact" : ""), "usage-completion"),
      stat("Total", (approx ? "≈ " : "") + fmtNumber(total), "", "usage-total"),
      stat("Cached", fmtNumber(m.cached_tokens), "from prompt cache", "usage-cached")));
    if (price !== undefined) {
      this.root.append(el("p", { class: "usage-cost" }, el("span", { class: "label" }, "Cost "),
        drawCost(el("span", { "data-testid": "usage-cost" }), m, price, { detail: true, ended })));
    }
    if (note) this.root.append(el("p", { class: "small muted", style: "margin:8px 0 0" }, note));
  }
}
