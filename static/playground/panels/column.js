// One compare column on screen: its spec, the stream's figures (the page fold's metrics), reply,
// effective sampling options and links. Used by the compare page, the shared comparison, the replay
// page and presentation mode (with the "big" variant).

import { el, clear, drawLater } from "../core/dom.js";
import { ReplyText } from "../core/markdown.js";
import { fmtCost, fmtMs, fmtNumber, fmtTps, shortModel } from "../core/format.js";
import { formatParams } from "../core/paramtext.js";
import { STATUS } from "../core/protocol.js";
import { isRunning, metrics, newStreamState } from "../core/stream.js";
import { costText, priceText } from "./cost.js";

const STATUS_TEXT = { idle: "ready", waiting: "waiting", streaming: "streaming", done: "done", stopped: "stopped", error: "error" };

export class ColumnView {
  /**
   * spec {label, model, params}; options {big, onStop, onPreset, showParams, links (false: none),
   * onToggleReplay(index): a slot that may switch between live and a recorded replay (presentation mode),
   * details: the serving-path figures (perf_metrics breakdown, cached tokens, cost parts, dropped fields)}
   */
  constructor(spec, index, options = {}) {
    this.spec = spec;
    this.index = index;
    this.options = options;
    this.status = el("span", { class: "chip", "data-testid": "col-status" }, "ready");
    this.stopBtn = el("button", { type: "button", class: "btn btn-sm btn-danger", "data-testid": "col-stop", hidden: true,
      onclick: () => options.onStop?.(index) }, "Stop");
    this.values = {};
    const stat = (key, label, unit) => {
      this.values[key] = el("span", { class: "cmp-metric-value", "data-testid": `col-${key}` }, "—");
      return el("div", { class: "cmp-metric" }, el("div", { class: "label" }, label), el("div", { class: "value" }, this.values[key], unit ? el("span", { class: "unit" }, unit) : null));
    };
    this.metrics = el("div", { class: "cmp-metrics" }, stat("ttft", "TTFT"), stat("tps", "Tokens/s"), stat("tokens", "Tokens"),
      options.big ? null : stat("finish", "Finish"), options.big ? null : stat("cost", "Cost"));
    // A cost needs more digits than the other figures: its cell is two wide.
    this.values.cost?.closest(".cmp-metric").classList.add("wide");
    this.replyMd = new ReplyText({ testid: "col-md", label: "reply" });
    this.reply = el("div", { class: "cmp-reply reply-text", "data-testid": "col-reply" }, this.replyMd.body);
    this.flag = el("div", { class: "reply-flag", hidden: true, "data-testid": "col-flag" });
    // A slot on a replay says so, always: which recorded run, from when (or that there is none).
    this.replayNote = el("div", { class: "col-replay-note", hidden: true, "data-testid": "col-replay-note" });
    this.replayBtn = options.onToggleReplay
      ? el("button", { type: "button", class: "btn btn-xs col-replay-toggle", "data-testid": "col-replay-toggle",
        onclick: () => options.onToggleReplay(index) }, "Switch to replay")
      : null;
    this.details = options.details ? el("dl", { class: "col-details small", "data-testid": "col-details" }) : null;
    this.sampling = el("div", { class: "cmp-sampling small muted", "data-testid": "col-sampling" });
    this.links = el("div", { class: "cmp-links small" });
    this.presetArea = el("div", { class: "cmp-preset" });
    this.paramsLine = el("div", { class: "cmp-params mono", "data-testid": "col-params", hidden: options.big && !options.showParams },
      specText(spec));
    this.root = el("section", { class: `cmp-col${options.big ? " big" : ""}`, "data-testid": "compare-column", dataset: { index } },
      el("header", { class: "cmp-col-head" },
        el("span", { class: "cmp-col-label", "data-testid": "col-label" }, spec.label || `Column ${index + 1}`),
        this.status, el("div", { class: "topbar-spacer" }), this.replayBtn, this.stopBtn),
      el("div", { class: "cmp-model mono", title: spec.model }, shortModel(spec.model)),
      this.paramsLine, this.replayNote, this.metrics, this.details, this.flag, this.reply, this.replyMd.tools,
      options.big ? null : this.sampling, options.big ? null : this.links, options.big ? null : this.presetArea);
    this.shown = "";
    this.diffed = false;
    // The reply's Markdown is drawn at most once per animation frame while it streams, at once when it ends.
    this.drawReply = drawLater(() => this.showReply());
  }

  showParams(on) {
    this.paramsLine.hidden = !on;
  }

  /** Label the slot as a replay (text), or as live again (null); `on` flips the toggle's words. */
  showReplay(text, on = text !== null) {
    this.replayNote.hidden = text === null;
    this.replayNote.textContent = text || "";
    this.root.classList.toggle("on-replay", on);
    if (this.replayBtn) {
      this.replayBtn.textContent = on ? "Back to live" : "Switch to replay";
      this.replayBtn.setAttribute("aria-pressed", String(on));
    }
  }

  /** The serving-path figures: perf_metrics' queue, prefill and generation where reported, cached
   * tokens, the cost's parts, and the fields the server refused (sent without them). */
  showDetails(state, m) {
    const perf = state.perf || {};
    const seconds = (key) => {
      const v = Number(perf[key]);
      return perf[key] === undefined || perf[key] === null || !Number.isFinite(v) ? null : v * 1000;
    };
    const queue = seconds("prefill-queue-duration");
    const rows = [
      ["Queue", queue === null ? null : fmtMs(queue), "queue"],
      ["Prefill", seconds("prefill-duration") === null ? null : fmtMs(seconds("prefill-duration")), "prefill"],
      ["Generation", seconds("generation-duration") === null ? null : fmtMs(seconds("generation-duration")), "generation"],
      ["Cached tokens", m.cached_tokens === null ? null : `${fmtNumber(m.cached_tokens)} of ${fmtNumber(m.prompt_tokens)}`, "cached"],
      // The column's Cost figure is the total (pricing's one formula); here its parts, cached input apart.
      ["Cost parts", m.cost && !m.cost.estimated ? `in ${fmtCost(m.cost.input)} · cached ${fmtCost(m.cost.cached_input)} · out ${fmtCost(m.cost.output)}` : null, "cost-parts"],
    ];
    const ended = !isRunning(state) && state.status !== STATUS.IDLE;
    clear(this.details).append(...rows.flatMap(([label, value, key]) => [
      el("dt", {}, label),
      el("dd", { "data-testid": `col-${key}`, class: value === null ? "muted" : "" }, value ?? (ended ? "not reported" : "—")),
    ]));
    if (state.dropped?.length) {
      this.details.append(el("dt", {}, "Sent without"), el("dd", { class: "col-dropped", "data-testid": "col-dropped" },
        `${state.dropped.join(", ")}: this server does not accept ${state.dropped.length === 1 ? "it" : "them"}`));
    }
  }

  /** Show a stream's state; `replay`: the speed while a replay plays; `watched`: someone else's run. */
  update(state, { replay = null, watched = false } = {}) {
    const running = replay !== null || isRunning(state);
    this.status.className = `chip ${replay !== null ? STATUS.STREAMING : state.status}`;
    this.status.textContent = replay !== null ? `replay ${replay}x` : STATUS_TEXT[state.status] || state.status;
    this.stopBtn.hidden = !running || watched || !this.options.onStop;
    this.root.classList.toggle("running", running);
    if (watched && state.requested) {
      // A run watched live: the values it asked for, over the column's saved parameters.
      this.paramsLine.textContent = specText({ ...this.spec, params: { ...(this.spec.params || {}), ...state.requested } });
    }
    const m = metrics(state);
    this.values.ttft.textContent = fmtMs(m.ttft_ms);
    this.values.tps.textContent = fmtTps(m.tokens_per_second);
    this.values.tokens.textContent = m.tokens === null ? "—" : `${m.estimated ? "~" : ""}${fmtNumber(m.tokens)}`;
    if (this.values.finish) this.values.finish.textContent = m.finish || (running ? "…" : "—");
    if (this.details) this.showDetails(state, m);
    if (this.values.cost) {
      // Exact once usage arrived, an estimate (≈) from the tokens so far before that (panels/cost.js).
      const cost = this.values.cost;
      cost.textContent = state.status === STATUS.IDLE ? "—" : costText(m.cost, state.price).replace("no price for this model", "no price");
      cost.dataset.usd = m.cost ? String(m.cost.total) : "";
      cost.dataset.estimated = m.cost?.estimated ? "true" : "false";
      cost.parentElement.title = m.cost?.estimated ? `Estimate until the usage arrives; ${priceText(state.price)}` : priceText(state.price);
    }
    const text = state.choices.get(0)?.content ?? "";
    this.shown = text;
    this.running = running;
    if (running) this.drawReply();
    else this.showReply();
    if (state.error) {
      this.flag.hidden = false;
      this.flag.className = "reply-flag error";
      this.flag.textContent = `${state.error.code || "error"}: ${state.error.message}`;
    } else if (state.status === "stopped") {
      this.flag.hidden = false;
      this.flag.className = "reply-flag stopped";
      this.flag.textContent = "Stopped: the partial reply is saved.";
    } else {
      this.flag.hidden = true;
    }
    if (state.sampling && this.sampling.dataset.filled !== "1") {
      this.sampling.dataset.filled = "1";
      const keys = Object.entries(state.sampling).filter(([, v]) => v !== null && v !== undefined);
      clear(this.sampling).append(el("span", { class: "section-label" }, "Applied sampling"),
        el("span", { class: "mono" }, keys.map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join("  ") || "—"));
    } else if (!state.sampling) {
      delete this.sampling.dataset.filled;
      clear(this.sampling);
    }
    if (this.options.links === false) {
      // A share link's page: the run and conversation pages are not the link holder's to open.
    } else if (state.run && !running) {
      clear(this.links).append(
        el("a", { href: `/runs/${state.run}/`, "data-testid": "col-run-link" }, `Run #${state.run}`),
        state.conversation ? el("a", { href: `/c/${state.conversation}/` }, "Conversation") : null,
        el("a", { href: `/runs/${state.run}/replay/`, "data-testid": "col-replay-link" }, "Replay"));
    } else if (running) {
      clear(this.links);
    }
  }

  showReply() {
    if (!this.diffed) this.replyMd.update(this.shown, { streaming: Boolean(this.running) });
  }

  /** Show the reply as a diff against another (ops from diff.js), or plain again with ops = null. */
  showDiff(ops, side) {
    if (!ops) {
      this.diffed = false;
      clear(this.reply).append(this.replyMd.body);
      this.showReply();
      this.root.classList.remove("diff-a", "diff-b");
      return;
    }
    this.diffed = true;
    this.root.classList.toggle("diff-a", side === "a");
    this.root.classList.toggle("diff-b", side === "b");
    const keep = side === "a" ? "del" : "ins";
    clear(this.reply).append(...ops.filter((o) => o.op === "same" || o.op === keep).map((o) =>
      (o.op === "same" ? document.createTextNode(o.text) : el("mark", { class: `diff-${o.op}`, "data-testid": `diff-${o.op}` }, o.text))));
  }
}

/** A column's parameters as text, and the extra fields it sends (a serving path's prompt_cache_key, …). */
export function specText(spec) {
  const extra = Object.entries(spec.extra || {}).map(([key, value]) => {
    const text = typeof value === "object" ? JSON.stringify(value) : String(value);
    return `${key}=${text.length > 60 ? `${text.slice(0, 59)}…` : text}`;
  });
  return [formatParams(spec.params), ...extra].filter(Boolean).join("  ") || "model defaults";
}

/** The chat.start frame of a column (compare, sweep, presentation): its spec over the shared prompt. */
export function columnStartFrame(spec, { system, messages, conversation = null }) {
  return { type: "chat.start", mode: "chat", model: spec.model, messages, system: spec.system ?? system ?? "", params: spec.params || {},
    ...(spec.extra && Object.keys(spec.extra).length ? { extra: spec.extra } : {}),
    ...(typeof conversation === "number" ? { conversation } : {}) };
}

/** A column whose run is missing (deleted, or not visible to this user). */
export function missingRun() {
  const state = newStreamState();
  state.status = STATUS.ERROR;
  state.error = { code: "missing", message: "This run is no longer available." };
  return state;
}
