// An eval's grid: rows × columns (prompt × configuration), filled live from eval.cell frames while the
// eval runs on the server; a progress bar with the time left; Stop; each column's summary, read from the
// server (playground/evals/selectors.py computes it, once) as cells end.

import { el, clear } from "../core/dom.js";
import { api, csrfToken } from "../core/http.js";
import { fmtCost, fmtMs, fmtNumber, fmtTps } from "../core/format.js";
import { FRAME, STATUS } from "../core/protocol.js";
import { PlaygroundSocket } from "../core/socket.js";
import { SweepChart } from "../panels/sweepchart.js";

const $ = (id) => document.getElementById(id);
const RUNNING = new Set(["running"]);
const LABELS = { exact: "Exact match", contains: "Contains", regex: "Regular expression", json: "Valid JSON",
  json_schema: "Matches the JSON schema", latency: "Latency", judge: "Model judge (its reasoning)" };
const percent = (v) => `${fmtNumber(v * 100, 0)}%`;

function costNote(s) {
  const unpriced = s.cost.unpriced ? `${s.cost.unpriced} run(s) without a price` : "every run priced";
  return `${s.cost.runs} run(s) costed, ${unpriced}`;
}

/** A sample's summary (selectors.column_summary of its cells) as the figures the sweep chart reads. */
function sampleFigures(s) {
  return {
    ttft_ms: s.ttft_ms.mean,
    tokens_per_second: s.tokens_per_second.mean,
    tokens: s.reply_tokens.mean,
    // A sum that leaves out unpriced runs would mislead: drawn only when every run was priced.
    cost: s.cost.total === null ? null : { total: s.cost.total, estimated: s.cost.unpriced > 0 },
  };
}

/** The eval page: its state (the eval, its cells, progress) and the socket that fills it. */
class EvalPage {
  constructor(config) {
    this.config = config;
    this.data = config.eval;
    this.cells = new Map(this.data.cells.map((c) => [c.id, c]));
    this.progress = this.data.progress;
    this.eta = null;
    this.status = this.data.status;
    this.refreshing = null;
    this.socket = new PlaygroundSocket(config.ws_path);
    // A swept parameter's charts, each point one sample's pass over the rows: the pass rates first (what
    // the eval is for), on a 0–100% axis: overall, then each scorer's.
    const passRates = [{ key: "pass_rate", label: "Pass rate", unit: "of rows", format: percent, domain: [0, 1], first: true,
      value: (state, m, spec) => spec.summary.pass_rate }];
    if (this.data.scorers.length > 1) {
      this.data.scorers.forEach((scorer, i) => passRates.push({ key: `pass_rate_${i}`, label: `Pass rate: ${LABELS[scorer.kind] || scorer.kind}`,
        unit: "of rows", format: percent, domain: [0, 1], first: true, value: (state, m, spec) => spec.summary.scorer_pass_rates[i] ?? null }));
    }
    this.sweepChart = new SweepChart({ series: passRates });
    document.querySelector("[data-testid=ev-summary]").closest("section").after(this.sweepChart.root);
    this.bind();
    this.drawGrid();
    this.drawSummary();
    this.drawSweep();
    this.drawProgress();
    this.socket.connect();
  }

  /** Whether the columns disagree on a row: some scorer's pass/fail differs between them, or (without
   * scorers) their answers do. */
  rowDiffers(byColumn) {
    const seen = new Set();
    for (const list of byColumn.values()) {
      for (const cell of list) {
        if (cell.status !== "done") continue;
        seen.add(this.data.scorers.length ? JSON.stringify(cell.scores.map((s) => s.passed))
          : cell.answer.trim().replace(/\s+/g, " ").toLowerCase());
      }
    }
    return seen.size > 1;
  }

  cellView(list, label) {
    if (!list || !list.length) return el("td", { class: "ev-cell", "data-status": "pending", "data-label": label }, el("span", { class: "muted", text: "…" }));
    const first = list[0];
    const done = list.filter((c) => c.status === "done");
    const td = el("td", { class: "ev-cell", "data-status": first.status, "data-testid": "ev-cell", "data-label": label,
      "data-passed": first.passed === null ? "none" : String(first.passed) });
    const badges = el("div", { class: "ev-badges" });
    if (first.status === "done" && first.passed !== null) {
      badges.append(el("span", { class: `chip ${first.passed ? "ev-pass" : "ev-fail"}`, "data-testid": "ev-verdict", text: first.passed ? "pass" : "fail" }));
    } else if (first.status !== "done") {
      badges.append(el("span", { class: "chip", text: first.status }));
    }
    for (const score of first.scores) {
      const mark = score.passed === true ? "✓" : score.passed === false ? "✗" : "?";
      const value = score.score === null || score.score === undefined ? "" : ` ${fmtNumber(score.score, 2)}`;
      badges.append(el("span", { class: "ev-score small", title: `${LABELS[score.kind] || score.kind}: ${score.detail}`,
        "data-testid": `ev-score-${score.kind}`, "data-passed": String(score.passed), text: `${mark} ${score.kind}${value}` }));
    }
    if (first.run) badges.append(el("a", { class: "small", href: this.config.share ? null : `/runs/${first.run}/`, text: "run" }));
    td.append(badges);
    td.append(el("div", { class: "ev-answer", text: first.error || first.answer }));
    const judged = first.scores.find((score) => score.kind === "judge");
    if (judged) {
      td.append(el("details", { class: "ev-judge small" }, el("summary", { text: "Judge's reasoning" }),
        el("div", { class: "ev-answer", "data-testid": "ev-judge-reasoning", text: judged.detail }),
        judged.run && !this.config.share ? el("a", { href: `/runs/${judged.run}/`, text: "judge's run" }) : null));
    }
    const figures = first.figures || {};
    td.append(el("div", { class: "small muted", text: `${fmtMs(figures.ttft_ms)} · ${fmtTps(figures.tokens_per_second)} tok/s · ${fmtNumber(figures.tokens)} tok · ${fmtCost(first.cost)}` }));
    if (this.data.samples > 1) {
      const distinct = new Set(done.map((c) => c.answer.trim())).size;
      td.append(el("div", { class: "small ev-vary", "data-testid": "ev-vary", text: `${done.length}/${this.data.samples} samples · ${distinct} distinct` }));
    }
    return td;
  }

  drawGrid() {
    const head = clear($("ev-grid-head"));
    head.append(el("tr", {}, el("th", { class: "num", text: "#" }), this.data.variables.map((v) => el("th", { text: v })),
      el("th", { text: "expected" }), this.data.columns.map((c) => el("th", { text: c.label }))));
    const byRow = new Map();
    for (const cell of this.cells.values()) {
      if (!byRow.has(cell.row)) byRow.set(cell.row, new Map());
      const columns = byRow.get(cell.row);
      if (!columns.has(cell.column)) columns.set(cell.column, []);
      columns.get(cell.column).push(cell);
    }
    const onlyDiff = $("ev-only-diff").checked;
    const body = clear($("ev-grid-body"));
    let shown = 0;
    this.data.rows.forEach((row, r) => {
      const columns = byRow.get(r) || new Map();
      for (const list of columns.values()) list.sort((a, b) => a.sample - b.sample);
      if (onlyDiff && !this.rowDiffers(columns)) return;
      shown += 1;
      body.append(el("tr", { "data-testid": "ev-row" }, el("td", { class: "num muted ev-num", text: r + 1 }),
        this.data.variables.map((v) => el("td", { class: "ev-value", "data-label": v, text: row.values[v] })),
        el("td", { class: "ev-value muted", "data-label": "expected", text: row.expected ?? "—" }),
        this.data.columns.map((c) => this.cellView(columns.get(c.index), c.label))));
    });
    if (!shown) body.append(el("tr", {}, el("td", { colspan: this.data.variables.length + 2 + this.data.columns.length, class: "muted", text: onlyDiff ? "No row where the configurations differ." : "No rows." })));
  }

  drawSummary() {
    const body = clear($("ev-summary-body"));
    for (const column of this.data.columns) {
      const s = column.summary;
      body.append(el("tr", { "data-testid": "ev-summary-row" }, el("td", { text: column.label }),
        el("td", { class: "num", "data-testid": "ev-pass-rate", text: s.pass_rate === null ? "—" : `${fmtNumber(s.pass_rate * 100, 1)}% (${s.passed}/${s.scored})` }),
        el("td", { class: "num", text: fmtMs(s.ttft_ms.mean) }), el("td", { class: "num", text: fmtMs(s.ttft_ms.p95) }),
        el("td", { class: "num", text: fmtTps(s.tokens_per_second.mean) }), el("td", { class: "num", text: fmtTps(s.tokens_per_second.p95) }),
        el("td", { class: "num", text: `${fmtNumber(s.prompt_tokens)} in · ${fmtNumber(s.completion_tokens)} out` }),
        el("td", { class: "num", "data-testid": "ev-cost", title: costNote(s), text: fmtCost(s.cost.total) +
          (s.judge_cost && s.judge_cost.total !== null ? ` + judge ${fmtCost(s.judge_cost.total)}` : "") }),
        el("td", { class: "num", text: s.agreement === null ? "—" : `${fmtNumber(s.agreement * 100, 0)}%` })));
    }
  }

  drawProgress() {
    const total = this.progress.total || 0;
    const percent = total ? Math.round((this.progress.done / total) * 100) : 0;
    $("ev-bar-fill").style.setProperty("width", `${percent}%`);
    $("ev-bar").setAttribute("aria-valuenow", String(percent));
    $("ev-count").textContent = `${this.progress.done} of ${total} cells${this.progress.failed ? ` · ${this.progress.failed} failed` : ""}`;
    $("ev-eta").textContent = RUNNING.has(this.status) && this.eta !== null ? `about ${this.eta < 60 ? `${Math.ceil(this.eta)} s` : `${Math.ceil(this.eta / 60)} min`} left` : "";
    $("ev-status").textContent = this.status;
    $("ev-status").dataset.status = this.status;
    const stop = $("ev-stop");
    const resume = $("ev-resume");
    if (stop) stop.hidden = !RUNNING.has(this.status);
    if (resume) resume.hidden = RUNNING.has(this.status) || this.status === "queued" || this.progress.done === total;
  }

  drawSweep() {
    const swept = this.data.columns.filter((c) => c.sweep && c.samples);
    if (!swept.length) return this.sweepChart.hide();
    const param = swept[0].sweep.param;
    const samples = swept.flatMap((c) => c.samples.map((summary, i) => ({
      value: c.sweep.value,
      label: `${c.label} · sample ${i + 1}`,
      spec: { summary },
      m: sampleFigures(summary),
      state: { status: summary.cells && summary.ended === summary.cells ? STATUS.DONE : STATUS.STREAMING },
    })));
    this.sweepChart.update(param, samples, `a point: one sample over the ${this.data.rows.length} row${this.data.rows.length === 1 ? "" : "s"} (figures: the mean per row; cost: the sample's total)`);
  }

  refreshSummary(now = false) {
    if (this.config.share || !this.config.urls.data) return;
    if (this.refreshing && !now) return;
    clearTimeout(this.refreshing);
    this.refreshing = setTimeout(async () => {
      this.refreshing = null;
      try {
        const fresh = await api(`${this.config.urls.data}?part=columns`);
        this.data = { ...this.data, columns: fresh.eval.columns };
        this.drawSummary();
        this.drawSweep();
      } catch { /* the next cell refreshes it */ }
    }, now ? 0 : 1500);
  }

  showError(message) {
    $("ev-error").hidden = !message;
    $("ev-error").textContent = message || "";
  }

  /** The socket's frames and the page's buttons. */
  bind() {
    this.socket.onStatus((state) => {
      const conn = $("connection");
      conn.dataset.state = state;
      conn.querySelector(".conn-text").textContent = state === "open" ? "Connected" : state === "connecting" ? "Connecting…" : "Reconnecting…";
      if (state === "open") this.socket.send({ type: FRAME.EVAL_WATCH, eval: this.data.id, ...(this.config.share ? { share: this.config.share } : {}) });
    });
    this.socket.on(FRAME.EVAL_WATCHING, (frame) => {
      this.status = frame.status;
      this.progress = frame.progress;
      this.drawProgress();
      if (this.status === "queued" && this.data.rights.run) this.socket.send({ type: FRAME.EVAL_RUN, eval: this.data.id });
    });
    this.socket.on(FRAME.EVAL_CELL, (frame) => {
      this.cells.set(frame.cell.id, frame.cell);
      this.progress = frame.progress;
      this.eta = frame.eta_s;
      this.drawGrid();
      this.drawProgress();
      this.refreshSummary();
    });
    this.socket.on(FRAME.EVAL_STATUS, (frame) => {
      this.status = frame.status;
      this.progress = frame.progress;
      this.eta = frame.eta_s;
      this.drawProgress();
      this.refreshSummary(true);
    });
    // "conflict": another tab (or process) started it first; its frames follow as they would anyway.
    this.socket.on(FRAME.ERROR, (frame) => { if (frame.code !== "conflict") this.showError(frame.message); });

    $("ev-only-diff").addEventListener("change", () => this.drawGrid());
    $("ev-stop")?.addEventListener("click", () => this.socket.send({ type: FRAME.EVAL_STOP, eval: this.data.id }));
    $("ev-resume")?.addEventListener("click", () => { this.showError(""); this.socket.send({ type: FRAME.EVAL_RUN, eval: this.data.id }); });
    $("ev-share")?.addEventListener("click", async () => {
      const response = await fetch(this.config.urls.share, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" } });
      const body = await response.json().catch(() => ({}));
      const note = $("ev-share-note");
      note.hidden = false;
      clear(note);
      if (!response.ok) { note.textContent = body.error?.message || "Sharing failed."; return; }
      note.append("Read-only link: ", el("input", { class: "ev-share-url", readonly: true, value: body.url, "data-testid": "ev-share-url", "aria-label": "Share link" }),
        " ", el("a", { href: body.manage, text: "manage links" }));
    });
  }
}

new EvalPage(JSON.parse(document.getElementById("eval-config").textContent));
