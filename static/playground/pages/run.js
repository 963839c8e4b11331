// The run page (/runs/<id>/): the saved run's frames (#run-chart) folded by the page fold; its reply
// (Markdown, core/markdown.js, with the JSON-schema check), its figures (time to first token, tokens per
// second, tokens, total) and the delta timeline drawn from that state.

import { el } from "../core/dom.js";
import { fmtMs, fmtNumber, fmtTps } from "../core/format.js";
import { foldFrames } from "../core/live.js";
import { ReplyText } from "../core/markdown.js";
import { SchemaCheck } from "../core/schema.js";
import { choiceList, metrics } from "../core/stream.js";
import { drawTimeline } from "../panels/timeline.js";
import { drawCost } from "../panels/cost.js";

class RunPage {
  constructor(data) {
    this.state = foldFrames(data.frames);
    this.showReply(data);
    this.showFigures();
    const chart = document.getElementById("timeline-chart");
    if (chart) drawTimeline(chart, this.state);
  }

  /** Each choice's reasoning and text: Markdown for chat replies, plain for a completion. */
  showReply(data) {
    const mount = document.getElementById("run-reply");
    const choices = choiceList(this.state).filter((c) => c.content || c.reasoning);
    if (!mount || !choices.length) return;
    const request = { response_format: data.response_format };
    const markdown = data.endpoint !== "completions";
    mount.replaceChildren(...choices.map((choice) => {
      const box = el("div", { class: "run-choice", "data-testid": "run-choice" });
      if (choices.length > 1) box.append(el("div", { class: "section-label" }, `Choice ${choice.index + 1}`));
      if (choice.reasoning) {
        const reasoning = new ReplyText({ testid: "run-reasoning-md", label: "reasoning" });
        reasoning.update(choice.reasoning);
        box.append(el("details", { class: "thinking" }, el("summary", {}, "Reasoning"), reasoning.root));
      }
      if (markdown) {
        const reply = new ReplyText({ testid: "run-reply-md", label: "reply" });
        reply.update(choice.content, { format: SchemaCheck.expectsJson(request) ? "json" : "markdown" });
        const check = new SchemaCheck();
        check.show(request, choice.content);
        box.append(reply.root, check.root);
      } else {
        box.append(el("pre", { class: "md-raw" }, choice.content));
      }
      return box;
    }));
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
    // The cost from the saved frames (its price rode on chat.opened), by the page's one formula.
    const cost = document.querySelector("[data-testid=run-cost]");
    if (cost && this.state.price) drawCost(cost, m, this.state.price, { detail: true, ended: true });
    const note = document.querySelector("[data-testid=run-figures-note]");
    if (note && m.estimated) note.append(el("span", {}, " Tokens are counted as one per delta: the server sent no usage."));
  }
}

const data = document.getElementById("run-chart");
if (data) new RunPage(JSON.parse(data.textContent));
