// The Performance panel: time to first token (server, proxy, browser), tokens per second, deltas,
// total time, the gaps between deltas, the server's perf_metrics and the request's ids. Every figure is
// the page fold's (core/stream.js metrics()).

import { el, clear, drawLater } from "../core/dom.js";
import { fmtMs, fmtNumber, fmtTps, fmtValue } from "../core/format.js";
import { STATUS } from "../core/protocol.js";
import { isRunning, metrics, newStreamState } from "../core/stream.js";
import { GapChart } from "./chart.js";

export const PERF_EXPLAINED = {
  "prompt-tokens": "tokens in the prompt",
  "cached-prompt-tokens": "prompt tokens served from the prompt cache",
  "server-time-to-first-token": "seconds from the request reaching the server to the first token",
  "server-processing-time": "seconds the server spent on the whole request",
  "speculation-prompt-tokens": "prompt tokens offered as a prediction (predicted outputs)",
  "speculation-prompt-matched-tokens": "predicted tokens that matched the output",
  "speculation-generated-tokens": "tokens drafted by speculative decoding",
  "speculation-acceptance": "share of drafted tokens the model accepted",
  "backend-host": "the server that ran the request",
  "num-concurrent-requests": "requests the deployment was serving at the same time",
  "deployment": "the deployment that served the request",
  "tokenizer-queue-duration": "seconds waiting for the tokenizer",
  "tokenizer-duration": "seconds spent tokenizing the prompt",
  "prefill-queue-duration": "seconds waiting for prefill",
  "prefill-duration": "seconds processing the prompt (prefill)",
  "generation-queue-duration": "seconds waiting for generation",
  "generation-duration": "seconds spent generating the output",
};

export class PerfView {
  constructor(root) {
    this.root = root;
    this.chart = new GapChart();
    this.schedule = drawLater(() => this.draw());
    this.reset();
  }

  reset() {
    this.state = newStreamState();
    this.choiceCount = 1;
    this.idle = true;
    this.chart.setGaps([]);
    this.draw();
  }

  /** n > 1: the rate counts the tokens of every choice. */
  setChoices(count) {
    this.choiceCount = count;
  }

  /** Show a stream's state (the page fold's), drawn on the next animation frame. */
  update(state) {
    this.state = state;
    this.idle = state.status === STATUS.IDLE;
    this.chart.setGaps(state.gaps);
    if (isRunning(state)) {
      this.schedule();
    } else {
      // Ended: drawn now, not on an animation frame (a hidden tab gets none until it is shown).
      this.chart.draw();
      this.draw();
    }
  }

  draw() {
    const state = this.state;
    const m = metrics(state);
    const live = state.sentAt !== null;
    const rateNote = m.tokens_per_second === null ? "" : m.estimated
      ? "(deltas − 1) ÷ decode time, ≈ one token per delta"
      : "(completion tokens − 1) ÷ decode time";
    const stat = (label, ms, sub, testid) => el("div", { class: "stat", "data-testid": testid },
      el("div", { class: "label" }, label), el("div", { class: "value" }, fmtMs(ms)), el("div", { class: "sub" }, sub));
    clear(this.root);
    this.root.append(
      el("div", { class: "section-label", style: "margin-top:0" }, "Time to first token"),
      el("div", { class: "stats three" },
        stat("Server", m.server_ttft_ms, "reported by Fireworks", "ttft-server"),
        stat("Proxy", m.ttft_ms, "request sent → first delta", "ttft-proxy"),
        stat("Browser", m.browser_ttft_ms, live || this.idle ? "click → first token shown" : "measured live only", "ttft-browser")),
      el("div", { class: "stats three", style: "margin-top:8px" },
        el("div", { class: "stat", "data-testid": "tokens-per-second" },
          el("div", { class: "label", title: this.choiceCount > 1 ? `Tokens per second, summed over the ${this.choiceCount} choices` : "Tokens per second" },
            this.choiceCount > 1 ? `Tokens / s · ${this.choiceCount} choices` : "Tokens / s"),
          el("div", { class: "value" }, fmtTps(m.tokens_per_second)),
          el("div", { class: "sub" }, this.choiceCount > 1 ? `summed over all choices; ${rateNote}` : rateNote)),
        el("div", { class: "stat", "data-testid": "perf-deltas" }, el("div", { class: "label" }, "Chunks"), el("div", { class: "value" }, fmtNumber(m.deltas || null)), el("div", { class: "sub" }, "deltas received")),
        el("div", { class: "stat", "data-testid": "perf-total" }, el("div", { class: "label" }, "Total time"), el("div", { class: "value" }, fmtMs(m.total_ms)), el("div", { class: "sub" }, "server, start → end"))),
      el("div", { class: "section-label" }, "Gap between chunks (ms)"),
      this.chart.root, this.chart.caption);
    this.root.append(el("div", { class: "section-label" }, "Server perf_metrics"));
    const perf = state.perf;
    if (perf && Object.keys(perf).length) {
      this.root.append(el("table", { class: "kv", "data-testid": "perf-table" }, el("tbody", {}, Object.entries(perf).map(([key, value]) =>
        el("tr", {}, el("th", {}, el("code", {}, key)), el("td", { class: "num" }, fmtValue(value)),
          el("td", { class: "expl" }, PERF_EXPLAINED[key] || "(not a documented key)"))))));
    } else {
      this.root.append(el("p", { class: "empty-note" }, this.idle ? "Arrives with the final chunk." : (perf ? "The server sent an empty perf_metrics object." : "Not received (yet): it rides on the final chunk.")));
    }
    this.root.append(el("div", { class: "section-label" }, "Request"));
    const opened = state.opened || {};
    const ids = el("dl", { class: "ids", "data-testid": "request-meta" }, el("dt", {}, "request id"), el("dd", { "data-testid": "request-id" }, opened.request_id || "—"));
    const limits = Object.entries(opened.rate_limits || {});
    for (const [name, value] of limits) ids.append(el("dt", {}, name), el("dd", {}, String(value)));
    if (!limits.length) ids.append(el("dt", {}, "rate limits"), el("dd", {}, this.idle || !state.opened ? "—" : "no x-ratelimit-* headers"));
    this.root.append(ids);
  }
}
