// The compare page (/compare/, /compare/<id>/): one prompt run against 2–4 columns at once over the one
// websocket, a sweep of one parameter, the summary ranking, a word diff of two replies, saving the
// comparison (POST /api/comparisons/ once every column has its run) and replaying it from its saved
// frames. A saved comparison runs again in place (each column in its own conversation, then PATCH with
// the new runs), and its page watches every column live when someone else runs it. One controller
// object (ComparePage) holds the page's state; every column's figures are the page fold's.
// "Serving paths" generates one column per way of serving the same model (standard and priority tier,
// a dedicated deployment, a LoRA add-on, a prompt-cache key, a predicted output), each showing the
// perf_metrics breakdown, cached tokens and cost; its optional ramp sends tiny requests (probes,
// core/probe.js) at 1, 2, 4 and 8 at once per path and charts the time to first token (panels/chart.js).

import { el, clear } from "../core/dom.js";
import { fmtCost, fmtMs, fmtNumber, fmtTps, shortModel } from "../core/format.js";
import { api } from "../core/http.js";
import { PlaygroundSocket } from "../core/socket.js";
import { FRAME, STATUS } from "../core/protocol.js";
import { LiveStream, WatchedStream, foldFrames } from "../core/live.js";
import { ReplayStream } from "../core/replay.js";
import { metrics } from "../core/stream.js";
import { Watcher } from "../core/watch.js";
import { wordDiff } from "../core/diff.js";
import { formatParams, parseParams, parseSweepValues, sweepable } from "../core/paramtext.js";
import { ColumnView, columnStartFrame, missingRun } from "../panels/column.js";
import { RampChart } from "../panels/chart.js";
import { probeConfig } from "../panels/readiness.js";
import { runProbe } from "../core/probe.js";
import { SweepChart } from "../panels/sweepchart.js";

const $ = (id) => document.getElementById(id);
const MAX_COLUMNS = 4;
const MAX_SWEEP_COLUMNS = 12;
const LOWER_BETTER = new Set(["ttft_ms", "tokens", "total_ms", "cost"]);
const RAMP_LEVELS = [1, 2, 4, 8];

/** A saved run shown as it ended (no replay): its frames folded at once. */
class SavedColumn {
  constructor(data) {
    this.data = data;
    this.state = data ? foldFrames(data.frames) : missingRun();
  }

  get running() {
    return false;
  }

  stop() {}
}

function newSpec(model, params = {}) {
  return { label: "", model, params, paramsText: formatParams(params), preset: null, error: null };
}

class ComparePage {
  constructor() {
    this.registry = JSON.parse($("param-registry").textContent);
    this.config = JSON.parse($("compare-config").textContent);
    this.specs = [];
    this.kind = "compare";
    this.sweep = null;
    this.serving = false; // the columns are serving paths (details shown; the ramp may follow)
    this.rampPending = false;
    this.ramping = false;
    this.streams = []; // per column: LiveStream | ReplayStream | WatchedStream | SavedColumn
    this.views = [];
    // A sweep's figures against the swept value, between the columns and the summary.
    this.sweepChart = new SweepChart();
    $("columns").after(this.sweepChart.root);
    this.savedId = this.config.comparison?.id ?? null;
    this.saving = false;
    this.runData = []; // per column: the saved run's replay data (reopened) or null
    this.presets = [];
    this.sentMessages = [];
    // The saved comparison's columns ({conversation, run}) while the page shows it: "Run all" runs each
    // column again in its own conversation when they match the columns on screen.
    this.savedColumns = null;
    this.inPlace = false;
    this.rights = this.config.comparison?.rights ?? { can_run: true };
    this.readOnly = !this.rights.can_run;

    this.socket = new PlaygroundSocket(this.config.ws_path);
    const conn = $("connection");
    this.socket.onStatus((state) => {
      conn.dataset.state = state;
      conn.querySelector(".conn-text").textContent = state === "open" ? "Connected" : state === "connecting" ? "Connecting…" : "Reconnecting…";
      if (state === "open") this.socket.send({ type: FRAME.MODELS });
    });
    this.socket.on(FRAME.MODELS, (frame) => {
      clear($("model-options")).append(...(frame.models || []).map((m) => el("option", { value: m.id })));
    });
    // A saved comparison: every column's conversation is watched, so a run started elsewhere shows live.
    this.watcher = new Watcher(this.socket, {
      comparison: this.savedId,
      onFrame: (frame) => this.onWatched(frame),
      onAccepted: (conversation, count) => { $("columns").dataset.watching = String(count); },
    });
    this.socket.connect();

    api("/api/presets/").then((data) => {
      this.presets = data.presets || [];
      this.renderSpecs();
    }).catch(() => {});

    this.wireSetup();
    this.wireSweep();
    this.wireServing();
    $("run-all").addEventListener("click", () => this.runAll());
    $("stop-all").addEventListener("click", () => { for (const s of this.streams) s.stop(); });
    $("replay-all").addEventListener("click", () => this.replayAll());
    $("rank-by").addEventListener("change", () => this.showSummary());
    for (const id of ["diff-on", "diff-a", "diff-b"]) $(id).addEventListener("change", () => this.applyDiff());

    if (this.config.comparison) {
      this.reopen(this.config.comparison);
    } else {
      this.specs = [newSpec(this.config.default_model), newSpec(this.config.default_model, { temperature: 1.2 })];
      this.renderSpecs();
    }
  }

  setError(message) {
    $("setup-error").hidden = !message;
    $("setup-error").textContent = message || "";
  }

  // --- the column specs ----------------------------------------------------------------------------
  wireSetup() {
    $("add-column").addEventListener("click", () => {
      const last = this.specs[this.specs.length - 1];
      this.specs.push(newSpec(last?.model || this.config.default_model));
      this.kind = "compare";
      this.sweep = null;
      this.serving = false;
      this.renderSpecs();
    });
  }

  renderSpecs() {
    const list = clear($("specs"));
    this.specs.forEach((spec, index) => {
      const model = el("input", { value: spec.model, list: "model-options", spellcheck: "false", "data-testid": "spec-model", "aria-label": `Column ${index + 1} model` });
      model.addEventListener("input", () => { spec.model = model.value.trim(); });
      const preset = el("select", { "data-testid": "spec-preset", "aria-label": `Column ${index + 1} preset` },
        el("option", { value: "" }, this.presets.length ? "no preset" : "no presets saved"),
        this.presets.map((p) => el("option", { value: p.id, selected: spec.preset === p.id }, p.name)));
      const params = el("input", { value: spec.paramsText, spellcheck: "false", placeholder: "model defaults · e.g. temperature=0.7", "data-testid": "spec-params", "aria-label": `Column ${index + 1} parameters` });
      const error = el("div", { class: "param-error", role: "alert", hidden: !spec.error }, spec.error || "");
      params.addEventListener("input", () => {
        spec.paramsText = params.value;
        const parsed = parseParams(params.value, this.registry);
        spec.error = parsed.error;
        spec.params = parsed.params;
        params.classList.toggle("invalid", Boolean(parsed.error));
        error.hidden = !parsed.error;
        error.textContent = parsed.error || "";
      });
      preset.addEventListener("change", () => {
        const p = this.presets.find((x) => String(x.id) === preset.value);
        spec.preset = p ? p.id : null;
        if (p) {
          spec.label = p.name;
          spec.model = p.model || spec.model;
          spec.params = { ...(p.params || {}) };
          spec.paramsText = formatParams(spec.params);
          spec.system = p.system_prompt || undefined;
          spec.error = null;
        } else {
          spec.system = undefined;
        }
        this.renderSpecs();
      });
      const remove = el("button", { type: "button", class: "btn btn-ghost btn-sm", title: "Remove this column", "data-testid": "spec-remove",
        disabled: this.specs.length <= 1, onclick: () => { this.specs.splice(index, 1); this.renderSpecs(); } }, "✕");
      list.append(el("li", { class: "cmp-spec", "data-testid": "spec" },
        el("span", { class: "cmp-spec-n" }, spec.label || `Column ${index + 1}`), model, preset, params, remove, error));
    });
    $("add-column").disabled = this.specs.length >= MAX_COLUMNS;
    if (this.readOnly) this.lockSetup();
  }

  /** Someone who may view but not run the comparison: no editing, no Run; the columns update live. */
  lockSetup() {
    for (const control of document.querySelector("[data-testid=compare-setup]").querySelectorAll("input, textarea, select, button")) {
      if (control.id !== "replay-all" && control.id !== "replay-speed") control.disabled = true;
    }
    for (const id of ["run-all", "stop-all", "add-column"]) $(id).hidden = true;
  }

  // --- the sweep -------------------------------------------------------------------------------------
  wireSweep() {
    const numeric = sweepable(this.registry);
    $("sweep-param").append(...numeric.map((p) => el("option", { value: p.name, selected: p.name === "temperature" }, p.name)));
    const showRange = () => {
      const p = numeric.find((x) => x.name === $("sweep-param").value);
      $("sweep-range").textContent = p ? `(${p.range})` : "";
    };
    $("sweep-param").addEventListener("change", showRange);
    showRange();
    $("sweep-model").value = this.config.default_model;
    for (const tab of document.querySelectorAll("[data-tab]")) {
      tab.addEventListener("click", () => {
        for (const t of document.querySelectorAll("[data-tab]")) t.setAttribute("aria-checked", String(t === tab));
        $("sweep-panel").hidden = tab.dataset.tab !== "sweep";
        $("serving-panel").hidden = tab.dataset.tab !== "serving";
      });
    }
    $("sweep-generate").addEventListener("click", () => this.generateSweep(numeric));
  }

  generateSweep(numeric) {
    const p = numeric.find((x) => x.name === $("sweep-param").value);
    const samples = Number($("sweep-samples").value);
    const { values, error } = parseSweepValues(p, $("sweep-values").value);
    if (error) return this.setError(error);
    if (!Number.isInteger(samples) || samples < 1 || samples > 4) return this.setError("Samples each must be a whole number from 1 to 4.");
    if (values.length * samples > MAX_SWEEP_COLUMNS) return this.setError(`A sweep makes at most ${MAX_SWEEP_COLUMNS} columns (values × samples).`);
    const base = parseParams($("sweep-base").value, this.registry);
    if (base.error) return this.setError(base.error);
    const model = $("sweep-model").value.trim() || this.config.default_model;
    this.setError(null);
    this.specs = [];
    for (const value of values) {
      for (let s = 1; s <= samples; s += 1) {
        const spec = newSpec(model, { ...base.params, [p.name]: value });
        spec.label = samples > 1 ? `${p.name}=${value} · #${s}` : `${p.name}=${value}`;
        this.specs.push(spec);
      }
    }
    this.kind = "sweep";
    this.serving = false;
    this.sweep = { param: p.name, values, samples, model };
    this.renderSpecs();
    return null;
  }

  // --- serving paths ---------------------------------------------------------------------------------
  wireServing() {
    $("serving-model").value = this.config.default_model;
    const placeholders = () => {
      const model = $("serving-model").value.trim() || this.config.default_model;
      $("serving-deployment").placeholder = `${model}#demo-dedicated`;
      $("serving-lora").placeholder = `accounts/demo/models/${shortModel(model)}-lora-support`;
    };
    $("serving-model").addEventListener("input", placeholders);
    placeholders();
    $("serving-generate").addEventListener("click", () => this.generateServing());
  }

  /** One column per serving path of the same model, the same parameters on each. */
  generateServing() {
    const model = $("serving-model").value.trim() || this.config.default_model;
    const base = parseParams($("serving-base").value, this.registry);
    if (base.error) return this.setError(base.error);
    const value = (id) => $(id).value.trim() || $(id).placeholder;
    const paths = [{ label: "Standard tier", model, params: { ...base.params } }];
    if ($("path-priority").checked) paths.push({ label: "Priority tier", model, params: { ...base.params, service_tier: "priority" } });
    if ($("path-dedicated").checked) paths.push({ label: "Dedicated deployment", model: value("serving-deployment"), params: { ...base.params } });
    if ($("path-lora").checked) paths.push({ label: "LoRA add-on", model: value("serving-lora"), params: { ...base.params } });
    if ($("path-cache").checked) {
      if (!$("serving-cache-key").value.trim()) return this.setError("Give the prompt-cache key, or untick that path.");
      paths.push({ label: "Prompt-cache key", model, params: { ...base.params }, extra: { prompt_cache_key: $("serving-cache-key").value.trim() } });
    }
    if ($("path-prediction").checked) {
      if (!$("serving-prediction").value.trim()) return this.setError("Give the predicted output, or untick that path.");
      paths.push({ label: "Predicted output", model, params: { ...base.params }, extra: { prediction: { type: "content", content: $("serving-prediction").value.trim() } } });
    }
    this.setError(null);
    this.specs = paths.map((p) => ({ ...newSpec(p.model, p.params), label: p.label, ...(p.extra ? { extra: p.extra } : {}) }));
    this.kind = "compare";
    this.sweep = null;
    this.serving = true;
    this.renderSpecs();
    return null;
  }

  /** The ramp: per path, the same prompt as tiny requests at 1, 2, 4 and 8 at once; median TTFT charted. */
  async runRamp() {
    this.ramping = true;
    $("ramp-panel").hidden = false;
    if (!this.rampChart) {
      this.rampChart = new RampChart(RAMP_LEVELS);
      $("ramp-chart").append(this.rampChart.root, this.rampChart.legend);
    }
    const specs = this.specs;
    const series = specs.map((spec) => ({ label: spec.label, points: [] }));
    const status = (text) => { $("ramp-status").textContent = text; };
    this.rampChart.setSeries(series);
    this.rampTable(series);
    const system = $("cmp-system").value;
    let sent = 0;
    try {
      for (const [index, spec] of specs.entries()) {
        const config = probeConfig({ label: spec.label, model: spec.model, params: spec.params, extra: spec.extra, system: spec.system ?? system, messages: this.sentMessages });
        for (const level of RAMP_LEVELS) {
          status(`Ramp: ${spec.label}, ${level} at once…`);
          const { results } = await runProbe(this.socket, Array(level).fill(config), { concurrency: level, warm: false, max_tokens: 8, timeout_ms: 30_000 });
          sent += level;
          const times = results.filter((r) => r?.status === "ready" && Number.isFinite(r.ttft_ms)).map((r) => r.ttft_ms).sort((a, b) => a - b);
          const failed = results.filter((r) => r?.status === "failed");
          series[index].points.push({ level, ttft_ms: times.length ? times[Math.floor((times.length - 1) / 2)] : null, failed: failed.length,
            error: failed[0]?.error?.message || null });
          this.rampChart.setSeries(series);
          this.rampTable(series);
        }
      }
      status(`Ramp done: ${sent} requests; each point is the median time to first token at that many at once.`);
    } catch (err) {
      status(`Ramp stopped: ${err.message}`);
    } finally {
      this.ramping = false;
      $("run-all").disabled = this.anyRunning();
    }
  }

  rampTable(series) {
    clear($("ramp-head")).append(el("tr", {}, el("th", {}, "Path"), RAMP_LEVELS.map((level) => el("th", {}, `${level} at once`))));
    clear($("ramp-body")).append(...series.map((s) => el("tr", { "data-testid": "ramp-row" }, el("td", {}, s.label),
      RAMP_LEVELS.map((level) => {
        const point = s.points.find((p) => p.level === level);
        if (!point) return el("td", { class: "muted" }, "…");
        const text = point.ttft_ms === null ? "failed" : fmtMs(point.ttft_ms);
        return el("td", { title: point.error || "" }, point.failed ? `${text} (${point.failed} failed)` : text);
      }))));
  }

  // --- running ---------------------------------------------------------------------------------------
  /** Lay out one view per spec and make each column's stream with `make(spec, index, update)`. */
  buildColumns(make) {
    const root = clear($("columns"));
    const n = this.specs.length;
    root.style.setProperty("--cols", String(n <= 4 ? n : n % 3 === 0 ? 3 : 4));
    this.views = this.specs.map((spec, index) => new ColumnView(spec, index, { onStop: (i) => this.streams[i]?.stop(), details: this.serving }));
    this.streams = this.specs.map((spec, index) => make(spec, index, () => this.onUpdate(index)));
    root.append(...this.views.map((v) => v.root));
  }

  anyRunning() {
    return this.streams.some((s) => s.running);
  }

  onUpdate(index) {
    const stream = this.streams[index];
    if (!stream) return;
    this.views[index].update(stream.state, { replay: stream instanceof ReplayStream && stream.running ? stream.speed : null, watched: stream instanceof WatchedStream });
    const running = this.anyRunning();
    $("stop-all").disabled = !running || !this.streams.some((s) => s instanceof LiveStream);
    $("run-all").disabled = running || this.ramping;
    $("replay-all").disabled = running || !this.streams.length || !this.streams.every((s, i) => s.state.run || this.runData[i]);
    if (!running) {
      this.streams.forEach((s, i) => {
        if (s.state.status !== STATUS.IDLE && !(s instanceof ReplayStream)) this.presetButton(i, s.state);
      });
    }
    const live = this.streams.length && this.streams.every((s) => s instanceof LiveStream && (s.state.run || !s.running));
    if (!this.saving && live) {
      if (this.inPlace) this.updateSaved();
      else if (!this.savedId) this.save();
    }
    if (!running) this.showSummary();
    else $("summary-panel").hidden = true;
    if (!running && this.rampPending) {
      this.rampPending = false;
      this.runRamp();
    }
    this.showSweepChart();
  }

  /** A sweep's chart: every column is one sample at its value of the swept parameter. */
  showSweepChart() {
    const param = this.kind === "sweep" ? this.sweep?.param : null;
    if (!param || !this.streams.length) return this.sweepChart.hide();
    const samples = this.streams.map((s, i) => ({ value: this.specs[i]?.params?.[param], state: s.state, spec: this.specs[i], label: this.specs[i]?.label || `Column ${i + 1}` }))
      .filter((sample) => typeof sample.value === "number");
    if (!samples.length) return this.sweepChart.hide();
    this.sweepChart.update(param, samples);
  }

  runAll() {
    const prompt = $("cmp-prompt").value.trim();
    if (!prompt) return this.setError("Write the message every column is sent.");
    const bad = this.specs.find((s) => s.error || !s.model);
    if (bad) return this.setError(bad.error || "Every column needs a model.");
    if (!this.socket.isOpen) return this.setError("Not connected yet: wait for the connection.");
    if (this.ramping) return this.setError("The ramp is still running: wait for it to finish.");
    this.setError(null);
    // The saved comparison on screen, with the same columns: run each again in its own conversation
    // (its watchers see it live) and keep the comparison. Otherwise a new comparison.
    this.inPlace = Boolean(this.savedId && this.savedColumns && this.savedColumns.length === this.specs.length
      && this.savedColumns.every((c) => typeof c.conversation === "number"));
    if (!this.inPlace) {
      this.savedId = null;
      this.savedColumns = null;
      this.watcher.watch([]);
      $("compare-access").replaceChildren();
      history.replaceState(null, "", "/compare/");
    }
    $("saved-note").textContent = "";
    $("replay-label").hidden = true;
    this.sentMessages = [{ role: "user", content: prompt }];
    const system = $("cmp-system").value;
    this.rampPending = this.serving && $("ramp-on").checked;
    $("ramp-panel").hidden = true;
    this.buildColumns((spec, index, update) => new LiveStream(this.socket, update));
    this.runData = this.specs.map(() => null);
    this.streams.forEach((stream, i) => stream.start(columnStartFrame(this.specs[i], {
      system, messages: this.sentMessages, conversation: this.inPlace ? this.savedColumns[i].conversation : null })));
    return null;
  }

  columnsToSave() {
    return this.specs.map((spec, i) => ({ label: spec.label || `Column ${i + 1}`, model: spec.model, params: spec.params, preset: spec.preset,
      system: spec.system ?? null, // a preset's own system prompt, so running it again sends the same
      run: this.streams[i].state.run ?? this.savedColumns?.[i]?.run ?? null }));
  }

  async save() {
    this.saving = true;
    const columns = this.columnsToSave().filter((c) => c.run);
    if (!columns.length) {
      this.saving = false;
      return;
    }
    try {
      const data = await api("/api/comparisons/", { kind: this.kind, sweep: this.sweep, title: "", system_prompt: $("cmp-system").value, messages: this.sentMessages, columns });
      this.savedId = data.comparison.id;
      this.savedColumns = columns.length === this.streams.length ? this.streams.map((s) => ({ conversation: s.state.conversation, run: s.state.run })) : null;
      history.replaceState(null, "", data.comparison.url);
      $("saved-note").replaceChildren("Saved as ", el("a", { href: data.comparison.url, "data-testid": "saved-link" }, `comparison #${this.savedId}`));
      // As when it is reopened: its visibility and Share…, and its columns watched for runs from elsewhere.
      this.showAccess(data.comparison);
      if (this.savedColumns) this.watchSaved();
    } catch (error) {
      $("saved-note").textContent = `Not saved: ${error.message}`;
    } finally {
      this.saving = false;
    }
  }

  /** After running the saved comparison again in place: point it at the new runs. */
  async updateSaved() {
    this.inPlace = false;
    this.saving = true;
    try {
      const data = await api(`/api/comparisons/${this.savedId}/`, { columns: this.columnsToSave() }, "PATCH");
      this.savedColumns = data.comparison.columns.map((c) => ({ conversation: c.data ? c.conversation : null, run: c.run }));
      $("saved-note").replaceChildren("Ran again, saved in ", el("a", { href: `/compare/${this.savedId}/`, "data-testid": "saved-link" }, `comparison #${this.savedId}`));
    } catch (error) {
      $("saved-note").textContent = `Not saved: ${error.message}`;
    } finally {
      this.saving = false;
    }
  }

  // --- watching a saved comparison live -----------------------------------------------------------
  watchSaved() {
    this.watcher.comparison = this.savedId;
    this.watcher.watch(this.savedColumns.map((c) => c.conversation));
  }

  onWatched(frame) {
    const index = this.watcher.conversations.indexOf(frame.conversation);
    let stream = this.streams[index];
    if (index < 0 || !this.views[index] || stream instanceof LiveStream) return; // this tab's own run: never watched twice
    if (!(stream instanceof WatchedStream)) {
      stream?.stop?.(true); // a replay in progress gives way to the live run
      stream = this.streams[index] = new WatchedStream(stream?.state);
    }
    if (stream.handle(frame)) {
      this.runData[index] = null; // a new run: the saved one is no longer what the column shows
      this.views.forEach((v) => v.showDiff(null));
    }
    this.onUpdate(index);
    const live = this.streams.filter((s) => s instanceof WatchedStream && s.running);
    $("live-note").hidden = !live.length;
    if (live.length) $("live-note").textContent = `Live: ${live[0].state.by || "someone"} is running this comparison`;
  }

  // --- replay ----------------------------------------------------------------------------------------
  async replayAll() {
    const speed = Number($("replay-speed").value);
    const ids = this.streams.map((s, i) => this.runData[i]?.id ?? s.state.run);
    const data = await Promise.all(ids.map((id, i) => (this.runData[i] ? this.runData[i] : api(`/runs/${id}/replay.json`).then((d) => d.run))));
    this.runData = data;
    $("replay-label").hidden = false;
    $("replay-label").textContent = `Replay · ${speed}x · recorded, no API call`;
    this.buildColumns((spec, index, update) => new ReplayStream(`replay-${data[index].id}`, data[index].frames, update));
    for (const s of this.streams) s.start(speed);
  }

  // --- save a column as a preset ---------------------------------------------------------------------
  presetButton(index, state) {
    const area = this.views[index].presetArea;
    if (area.dataset.ready === "1" || (state.status === STATUS.ERROR && !state.run)) return;
    area.dataset.ready = "1";
    const spec = this.specs[index];
    const name = el("input", { value: spec.label || `${shortModel(spec.model)} ${formatParams(spec.params)}`.trim(), "data-testid": "preset-name", "aria-label": "Preset name" });
    const note = el("span", { class: "small muted", "data-testid": "preset-note" });
    const form = el("form", { class: "cmp-preset-form", hidden: true }, name, el("button", { type: "submit", class: "btn btn-sm btn-primary", "data-testid": "preset-save" }, "Save"), note);
    const open = el("button", { type: "button", class: "btn btn-sm", "data-testid": "col-save-preset", onclick: () => { form.hidden = false; open.hidden = true; name.focus(); name.select(); } }, "Save as preset");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const data = await api("/api/presets/", { name: name.value.trim(), mode: "chat", model: spec.model,
          system_prompt: spec.system ?? $("cmp-system").value, params: spec.params });
        form.replaceChildren(el("span", { class: "small ok-text", "data-testid": "preset-saved" }, `Saved preset “${data.preset.name}”`));
        this.presets.push(data.preset);
      } catch (error) {
        note.textContent = error.message;
      }
    });
    area.append(open, form);
  }

  // --- summary and diff ------------------------------------------------------------------------------
  showSummary() {
    if (!this.streams.length) return;
    // Each row's figures, with its exact cost in USD as one more figure (null until the usage arrived).
    const rows = this.streams.map((s, i) => {
      const m = metrics(s.state);
      return { i, spec: this.specs[i], state: s.state, m: { ...m, cost: m.cost && !m.cost.estimated ? m.cost.total : null } };
    });
    const by = $("rank-by").value;
    const best = {};
    for (const key of ["ttft_ms", "tokens_per_second", "tokens", "total_ms", "cost"]) {
      // Only finished columns compete: a stopped reply is short and quick by construction.
      const values = rows.filter((r) => r.state.status === STATUS.DONE).map((r) => r.m[key]).filter((v) => typeof v === "number");
      if (values.length > 1) best[key] = LOWER_BETTER.has(key) ? Math.min(...values) : Math.max(...values);
    }
    const score = (r) => (typeof r.m[by] === "number" ? (LOWER_BETTER.has(by) ? r.m[by] : -r.m[by]) : Infinity);
    rows.sort((a, b) => score(a) - score(b) || a.i - b.i);
    const isBest = (r, key) => r.state.status === STATUS.DONE && best[key] !== undefined && r.m[key] === best[key];
    const costed = rows.filter((r) => r.m.cost !== null);
    const spent = costed.reduce((sum, r) => sum + r.m.cost, 0);
    const total = $("summary-cost");
    total.dataset.usd = costed.length ? String(spent) : "";
    total.textContent = costed.length
      ? `All columns together cost ${fmtCost(spent)}${costed.length < rows.length ? ` (${rows.length - costed.length} without a cost: no price or no usage yet)` : ""}.`
      : "No column has a cost yet (no price for its model, or no usage yet).";
    clear($("summary-body")).append(...rows.map((r, rank) => {
      const cell = (key, shown) => el("td", { class: `num${isBest(r, key) ? " best" : ""}` }, isBest(r, key) ? "★ " : "", shown);
      return el("tr", { "data-testid": "summary-row" },
        el("td", {}, String(rank + 1)),
        el("td", {}, r.spec.label || `Column ${r.i + 1}`),
        el("td", { class: "mono", title: r.spec.model }, shortModel(r.spec.model)),
        cell("ttft_ms", fmtMs(r.m.ttft_ms)),
        cell("tokens_per_second", fmtTps(r.m.tokens_per_second)),
        cell("tokens", r.m.tokens === null ? "—" : fmtNumber(r.m.tokens)),
        cell("total_ms", fmtMs(r.m.total_ms)),
        cell("cost", fmtCost(r.m.cost)),
        el("td", {}, r.m.finish || "—"),
        el("td", {}, el("span", { class: `chip ${r.state.status}` }, r.state.status)));
    }));
    $("summary-panel").hidden = false;
    for (const id of ["diff-a", "diff-b"]) {
      const select = $(id);
      const keep = select.value;
      clear(select).append(...this.specs.map((s, i) => el("option", { value: i }, s.label || `Column ${i + 1}`)));
      select.value = keep !== "" && Number(keep) < this.specs.length ? keep : String(id === "diff-a" ? 0 : Math.min(1, this.specs.length - 1));
    }
    this.applyDiff();
  }

  applyDiff() {
    this.views.forEach((v) => v.showDiff(null));
    $("diff-note").textContent = "";
    if (!$("diff-on").checked || this.anyRunning()) return;
    const a = Number($("diff-a").value);
    const b = Number($("diff-b").value);
    if (a === b) {
      $("diff-note").textContent = "Pick two different columns.";
      return;
    }
    const text = (i) => this.streams[i].state.choices.get(0)?.content ?? "";
    const ops = wordDiff(text(a), text(b));
    this.views[a].showDiff(ops, "a");
    this.views[b].showDiff(ops, "b");
    const changed = ops.filter((o) => o.op !== "same").length;
    $("diff-note").textContent = changed ? `${changed} changed stretch${changed === 1 ? "" : "es"}: removed in the first, added in the second.` : "The two replies are identical.";
  }

  // --- a saved comparison ----------------------------------------------------------------------------
  reopen(saved) {
    $("compare-title").textContent = saved.title || `Comparison #${saved.id}`;
    $("cmp-system").value = saved.system_prompt || "";
    const user = (saved.messages || []).filter((m) => m.role === "user").pop();
    $("cmp-prompt").value = typeof user?.content === "string" ? user.content : "";
    this.sentMessages = saved.messages || [];
    this.kind = saved.kind;
    this.sweep = saved.sweep;
    this.specs = saved.columns.map((c) => ({ ...newSpec(c.model, c.params), label: c.label, preset: c.preset,
      ...(typeof c.system === "string" ? { system: c.system } : {}) }));
    this.renderSpecs();
    this.runData = saved.columns.map((c) => c.data);
    this.buildColumns((spec, index) => new SavedColumn(this.runData[index]));
    this.streams.forEach((s, i) => this.onUpdate(i));
    $("saved-note").textContent = `Saved ${new Date(saved.created_at).toLocaleString()}`;
    this.savedColumns = saved.columns.map((c) => ({ conversation: c.data ? c.conversation : null, run: c.run }));
    this.watchSaved();
    this.showAccess(saved);
  }

  /** The saved comparison's visibility chip, read-only note and Share… button. */
  showAccess(saved) {
    const access = [el("span", { class: "chip", "data-testid": "compare-visibility" }, saved.visibility === "workspace" ? "workspace" : "private")];
    if (this.readOnly) access.push(el("span", { class: "small muted", "data-testid": "compare-read-only" }, `Read-only: ${saved.owner}'s comparison; its runs show here live.`));
    if (saved.share_url) access.push(el("a", { class: "btn btn-ghost btn-sm", href: saved.share_url, "data-testid": "compare-share" }, "Share…"));
    $("compare-access").replaceChildren(...access);
  }
}

new ComparePage();
