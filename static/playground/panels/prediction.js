// Predicted outputs: the `prediction` field for edit-style prompts, how much of it the server accepted
// (perf_metrics speculation-prompt-tokens / speculation-prompt-matched-tokens), and "Compare without
// prediction": the same request with and without it, run side by side on the one socket.

import { el, clear } from "../core/dom.js";
import { fmtNumber, fmtTps } from "../core/format.js";
import { FRAME, STATUS } from "../core/protocol.js";
import { LiveStream, streamId } from "../core/live.js";
import { metrics } from "../core/stream.js";

/** "N of M predicted tokens accepted (x%)" from perf metrics, or null without speculation keys. */
export function acceptance(metrics) {
  const total = Number(metrics?.["speculation-prompt-tokens"]);
  const matched = Number(metrics?.["speculation-prompt-matched-tokens"]);
  if (!Number.isFinite(total) || !Number.isFinite(matched) || metrics["speculation-prompt-tokens"] === undefined) return null;
  const share = total > 0 ? Math.round((matched / total) * 100) : 0;
  return { total, matched, text: `${fmtNumber(matched)} of ${fmtNumber(total)} predicted tokens accepted (${share}%)` };
}

export class PredictionPanel {
  constructor(anchor, { socket, lastFrame }) {
    this.socket = socket;
    this.lastFrame = lastFrame;
    this.input = el("textarea", { rows: 4, class: "mono", spellcheck: "false", "data-testid": "prediction-input",
      placeholder: "The output you expect, e.g. the code being edited: matching spans are accepted instead of generated" });
    this.compareButton = el("button", { type: "button", class: "btn btn-sm", "data-testid": "compare-prediction",
      title: "Send the last request twice at once, with and without the prediction, and compare tokens per second",
      onclick: () => this.compare() }, "Compare without prediction");
    this.root = el("details", { class: "panel prediction-panel", "data-testid": "prediction-panel" },
      el("summary", { class: "panel-head" }, el("h2", {}, "Predicted output"), el("span", { class: "small muted" }, "prediction")),
      this.input, el("div", { class: "param-row" }, this.compareButton));
    this.result = el("div", { class: "panel prediction-result", "data-testid": "prediction-result", hidden: true });
    anchor.append(this.root);
  }

  /** Where the acceptance and the comparison are shown (in the reply column). */
  place(anchor) {
    anchor.after(this.result);
  }

  /** New conversation: no acceptance note or with/without comparison left from the last one. */
  reset() {
    this.comparing = false;
    clear(this.result);
    this.result.hidden = true;
  }

  /** The prediction to add to a request's extra fields, or null. */
  field() {
    const text = this.input.value;
    return text.trim() ? { type: "content", content: text } : null;
  }

  /** The main stream's perf_metrics arrived: say how much of the prediction was accepted. */
  perf(state) {
    const got = acceptance(state.perf);
    if (!got || this.comparing) return;
    clear(this.result);
    this.result.hidden = false;
    this.result.append(el("div", { class: "panel-head" }, el("h2", {}, "Prediction")),
      el("p", { "data-testid": "prediction-acceptance" }, got.text));
  }

  compare() {
    const base = this.lastFrame();
    const prediction = this.field() || base?.extra?.prediction;
    if (!base || !prediction || base.mode !== "chat" || !this.socket.isOpen) {
      this.result.hidden = false;
      clear(this.result).append(el("p", { class: "small" }, "Send a chat request with a predicted output first; the comparison sends it again with and without."));
      return;
    }
    this.comparing = true;
    clear(this.result);
    this.result.hidden = false;
    const table = el("div", { class: "compare-grid", "data-testid": "prediction-compare" });
    this.result.append(el("div", { class: "panel-head" }, el("h2", {}, "With vs. without prediction")), table);
    const runs = [["with prediction", { ...(base.extra || {}), prediction }], ["without", Object.fromEntries(Object.entries(base.extra || {}).filter(([k]) => k !== "prediction"))]];
    let pending = runs.length;
    const rates = [];
    runs.forEach(([label, extra], i) => {
      const frame = { ...structuredClone(base), extra, stream: streamId("cmp") };
      const cell = el("div", { class: "compare-cell", "data-testid": "compare-cell" }, el("b", {}, label), el("div", { class: "small muted", "data-testid": "compare-status" }, "streaming…"));
      table.append(cell);
      const stream = new LiveStream(this.socket, (state, f) => {
        if (!f || stream.running) return;
        // Ended: the figures are the page fold's, as everywhere else.
        const m = metrics(state);
        const rate = state.status === STATUS.DONE ? m.tokens_per_second : null;
        rates[i] = rate;
        const accepted = acceptance(state.perf);
        cell.querySelector("[data-testid=compare-status]")?.remove();
        cell.append(el("div", { class: "big", "data-testid": "compare-rate" }, rate !== null ? `${fmtTps(rate)} tokens/s` : state.error?.message || "no rate"),
          el("div", { class: "small muted" }, `${fmtNumber(m.tokens)} tokens`));
        if (accepted) cell.append(el("div", { class: "small" }, accepted.text));
        pending -= 1;
        if (!pending) {
          this.comparing = false;
          if (rates[0] && rates[1]) table.after(el("p", { "data-testid": "compare-speedup" }, `${(rates[0] / rates[1]).toFixed(1)}× the speed with the prediction.`));
        }
      });
      stream.start({ ...frame, type: FRAME.START });
    });
  }
}
