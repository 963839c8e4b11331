// The run page (/runs/<id>/): the saved run's frames (#run-chart) folded by the page fold; its figures
// (time to first token, tokens per second, tokens, total) and the delta timeline drawn from that state.

import { el } from "../core/dom.js";
import { fmtMs, fmtNumber, fmtTps } from "../core/format.js";
import { foldFrames } from "../core/live.js";
import { metrics } from "../core/stream.js";
import { drawTimeline } from "../panels/timeline.js";

class RunPage {
  constructor(data) {
    this.state = foldFrames(data.frames);
    this.showFigures();
    const chart = document.getElementById("timeline-chart");
    if (chart) drawTimeline(chart, this.state);
  }

  showFigures() {
    const m = metrics(this.state);
    const set = (testid, text) => {
      const node = document.querySelector(`[data-testid="${testid}"]`);
      if (node) node.textContent = text;
    };
    set("run-ttft", fmtMs(m.ttft_ms));
    set("run-tps", fmtTps(m.tokens_per_second));
    set("run-tokens", m.tokens === null ? "—" : `${m.estimated ? "~" : ""}${fmtNumber(m.tokens)}`);
    set("run-total", fmtMs(m.total_ms));
    set("run-deltas", fmtNumber(m.deltas));
    const note = document.querySelector("[data-testid=run-figures-note]");
    if (note && m.estimated) note.append(el("span", {}, " Tokens are counted as one per delta: the server sent no usage."));
  }
}

const data = document.getElementById("run-chart");
if (data) new RunPage(JSON.parse(data.textContent));
