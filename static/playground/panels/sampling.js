// The Sampling panel: the options the server applied (fireworks-sampling-options) against the ones the
// run asked for, from the page fold's state.

import { el, clear } from "../core/dom.js";
import { fmtValue } from "../core/format.js";

function sameValue(a, b) {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b) < 1e-9;
  return JSON.stringify(a) === JSON.stringify(b);
}

export class SamplingView {
  constructor(root) {
    this.root = root;
    this.reset();
  }

  reset() {
    this.shown = null;
    clear(this.root).append(el("p", { class: "empty-note" }, "The sampling options the server applied (fireworks-sampling-options) appear here."));
  }

  /** A row per applied option once the stream opened; `sent`: the params sent, when the run's own are unknown. */
  update(state, sent = {}) {
    if (!state.opened) return;
    if (this.shown === state.opened) return; // drawn already
    this.shown = state.opened;
    const applied = state.sampling;
    const requested = state.requested && typeof state.requested === "object" ? state.requested : sent || {};
    clear(this.root);
    if (!applied || typeof applied !== "object") {
      this.root.append(el("p", { class: "empty-note" }, "The server did not report the sampling options it applied (no fireworks-sampling-options header)."));
      return;
    }
    const rows = Object.entries(applied).map(([key, value]) => {
      const asked = requested[key] ?? (key === "max_tokens" ? requested.max_completion_tokens : undefined);
      let mark;
      if (asked === undefined || asked === null) mark = el("span", { class: "mark default" }, "server default");
      else if (sameValue(asked, value)) mark = el("span", { class: "mark sent" }, "as sent");
      else mark = el("span", { class: "mark changed", title: "The server applied a different value than the one requested (e.g. clamped)" }, "changed by server");
      const differs = asked !== undefined && asked !== null && !sameValue(asked, value);
      return el("tr", { class: differs ? "diff" : "", dataset: { key } },
        el("th", {}, el("code", {}, key)),
        el("td", { class: "num" }, fmtValue(value)),
        el("td", { class: "num" }, asked === undefined || asked === null ? "—" : fmtValue(asked)),
        el("td", {}, mark));
    });
    this.root.append(el("table", { class: "kv" },
      el("thead", {}, el("tr", {}, el("th", {}, "Option"), el("th", { style: "text-align:right" }, "Applied"), el("th", { style: "text-align:right" }, "Requested"), el("th", {}, ""))),
      el("tbody", {}, rows)));
  }
}
