// The compare page (/compare/, /compare/<id>/): one prompt run against 2–4 columns at once over the one
// websocket, a sweep of one parameter, the summary ranking, a word diff of two replies, saving the
// comparison (POST /api/comparisons/ once every column has its run) and replaying it from the timelines.
// A saved comparison runs again in place (each column in its own conversation, then PATCH with the new
// runs), and its page watches every column live (cmpwatch.js) when someone else runs it.

import { el, clear, fmtMs, fmtNumber } from "./dom.js";
import { PlaygroundSocket } from "./socket.js";
import { ColumnStream, ReplayStream, finishedState, metricsOf, RUNNING } from "./columns.js";
import { ColumnView, fmtTps, shortModel } from "./colview.js";
import { ComparisonWatch, WatchedColumn } from "./cmpwatch.js";
import { wordDiff } from "./diff.js";
import { checkValue, formatParams, parseParams } from "./paramtext.js";

const registry = JSON.parse(document.getElementById("param-registry").textContent);
const config = JSON.parse(document.getElementById("compare-config").textContent);
const $ = (id) => document.getElementById(id);
const MAX_COLUMNS = 4;
const MAX_SWEEP_COLUMNS = 12;

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function api(url, body, method = null) {
  const response = await fetch(url, { method: method || (body ? "POST" : "GET"), credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() }, body: body ? JSON.stringify(body) : undefined });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error?.message || `The server answered ${response.status}.`);
  return data;
}

// --- state -----------------------------------------------------------------------------------------
let specs = [];
let kind = "compare";
let sweep = null;
let streams = []; // ColumnStream | ReplayStream per column
let views = [];
let savedId = config.comparison?.id ?? null;
let saving = false;
let runData = []; // per column: the saved run's replay data (reopened) or null
let presets = [];
let sentMessages = [];
// The saved comparison's columns ({conversation, run}) while the page shows it: "Run all" runs each
// column again in its own conversation when they match the columns on screen.
let savedColumns = null;
let inPlace = false;
const rights = config.comparison?.rights ?? { can_run: true };
const readOnly = !rights.can_run;

const socket = new PlaygroundSocket(config.ws_path);
const conn = $("connection");
socket.onStatus((state) => {
  conn.dataset.state = state;
  conn.querySelector(".conn-text").textContent = state === "open" ? "Connected" : state === "connecting" ? "Connecting…" : "Reconnecting…";
  if (state === "open") socket.send({ type: "models.list" });
});
socket.on("models.list", (frame) => {
  clear($("model-options")).append(...(frame.models || []).map((m) => el("option", { value: m.id })));
});
// A saved comparison: every column's conversation is watched, so a run started elsewhere shows live.
// A comparison saved on this page starts watching once saved (watchSaved).
let watcher = null;
function watchSaved(id, conversations) {
  if (!watcher) {
    watcher = new ComparisonWatch(socket, { comparison: id, onFrame: onWatched,
      onWatching: (count) => { $("columns").dataset.watching = String(count); } });
  }
  watcher.comparison = id;
  watcher.watch(conversations);
}
if (config.comparison) watchSaved(config.comparison.id, []);
socket.connect();

api("/api/presets/").then((data) => {
  presets = data.presets || [];
  renderSpecs();
}).catch(() => {});

function newSpec(model = config.default_model, params = {}) {
  return { label: "", model, params, paramsText: formatParams(params), preset: null, error: null };
}

function setError(message) {
  $("setup-error").hidden = !message;
  $("setup-error").textContent = message || "";
}

// --- the column specs --------------------------------------------------------------------------------
function renderSpecs() {
  const list = clear($("specs"));
  specs.forEach((spec, index) => {
    const model = el("input", { value: spec.model, list: "model-options", spellcheck: "false", "data-testid": "spec-model", "aria-label": `Column ${index + 1} model` });
    model.addEventListener("input", () => { spec.model = model.value.trim(); });
    const preset = el("select", { "data-testid": "spec-preset", "aria-label": `Column ${index + 1} preset` },
      el("option", { value: "" }, presets.length ? "no preset" : "no presets saved"),
      presets.map((p) => el("option", { value: p.id, selected: spec.preset === p.id }, p.name)));
    const params = el("input", { value: spec.paramsText, spellcheck: "false", placeholder: "model defaults · e.g. temperature=0.7", "data-testid": "spec-params", "aria-label": `Column ${index + 1} parameters` });
    const error = el("div", { class: "param-error", role: "alert", hidden: !spec.error }, spec.error || "");
    params.addEventListener("input", () => {
      spec.paramsText = params.value;
      const parsed = parseParams(params.value, registry);
      spec.error = parsed.error;
      spec.params = parsed.params;
      params.classList.toggle("invalid", Boolean(parsed.error));
      error.hidden = !parsed.error;
      error.textContent = parsed.error || "";
    });
    preset.addEventListener("change", () => {
      const p = presets.find((x) => String(x.id) === preset.value);
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
      renderSpecs();
    });
    const remove = el("button", { type: "button", class: "btn btn-ghost btn-sm", title: "Remove this column", "data-testid": "spec-remove",
      disabled: specs.length <= 1, onclick: () => { specs.splice(index, 1); renderSpecs(); } }, "✕");
    list.append(el("li", { class: "cmp-spec", "data-testid": "spec" },
      el("span", { class: "cmp-spec-n" }, spec.label || `Column ${index + 1}`), model, preset, params, remove, error));
  });
  $("add-column").disabled = specs.length >= MAX_COLUMNS;
  if (readOnly) lockSetup();
}

/** Someone who may view but not run the comparison: no editing, no Run; the columns update live. */
function lockSetup() {
  for (const control of document.querySelector("[data-testid=compare-setup]").querySelectorAll("input, textarea, select, button")) {
    if (control.id !== "replay-all" && control.id !== "replay-speed") control.disabled = true;
  }
  for (const id of ["run-all", "stop-all", "add-column"]) $(id).hidden = true;
}

$("add-column").addEventListener("click", () => {
  const last = specs[specs.length - 1];
  specs.push(newSpec(last?.model || config.default_model));
  kind = "compare";
  sweep = null;
  renderSpecs();
});

// --- the sweep ---------------------------------------------------------------------------------------
const sweepable = registry.filter((p) => (p.kind === "float" || p.kind === "int") && (p.modes || ["chat"]).includes("chat"));
$("sweep-param").append(...sweepable.map((p) => el("option", { value: p.name, selected: p.name === "temperature" }, p.name)));
const showRange = () => {
  const p = sweepable.find((x) => x.name === $("sweep-param").value);
  $("sweep-range").textContent = p ? `(${p.range})` : "";
};
$("sweep-param").addEventListener("change", showRange);
showRange();
$("sweep-model").value = config.default_model;

for (const tab of document.querySelectorAll("[data-tab]")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll("[data-tab]")) t.setAttribute("aria-checked", String(t === tab));
    $("sweep-panel").hidden = tab.dataset.tab !== "sweep";
  });
}

$("sweep-generate").addEventListener("click", () => {
  const p = sweepable.find((x) => x.name === $("sweep-param").value);
  const raw = $("sweep-values").value.split(/[\s,;]+/).filter(Boolean);
  const samples = Number($("sweep-samples").value);
  if (!raw.length) return setError("Give the values to sweep, e.g. 0, 0.5, 1.");
  if (!Number.isInteger(samples) || samples < 1 || samples > 4) return setError("Samples each must be a whole number from 1 to 4.");
  const values = [];
  for (const r of raw) {
    const { value, error } = checkValue(p, r);
    if (error) return setError(error);
    values.push(value);
  }
  if (values.length * samples > MAX_SWEEP_COLUMNS) return setError(`A sweep makes at most ${MAX_SWEEP_COLUMNS} columns (values × samples).`);
  const base = parseParams($("sweep-base").value, registry);
  if (base.error) return setError(base.error);
  const model = $("sweep-model").value.trim() || config.default_model;
  setError(null);
  specs = [];
  for (const value of values) {
    for (let s = 1; s <= samples; s += 1) {
      const spec = newSpec(model, { ...base.params, [p.name]: value });
      spec.label = samples > 1 ? `${p.name}=${value} · #${s}` : `${p.name}=${value}`;
      specs.push(spec);
    }
  }
  kind = "sweep";
  sweep = { param: p.name, values, samples, model };
  renderSpecs();
});

// --- running -----------------------------------------------------------------------------------------
function buildColumns(makeStream) {
  const root = clear($("columns"));
  root.style.setProperty("--cols", String(specs.length <= 4 ? specs.length : specs.length % 3 === 0 ? 3 : 4));
  views = specs.map((spec, index) => new ColumnView(spec, index, { onStop: (i) => streams[i]?.stop() }));
  streams = specs.map((spec, index) => makeStream(spec, index, (state) => onUpdate(index, state)));
  root.append(...views.map((v) => v.root));
}

function anyRunning() {
  return streams.some((s) => RUNNING.has(s.state.status));
}

function onUpdate(index, state) {
  views[index].update(state);
  const running = anyRunning();
  $("stop-all").disabled = !running || !streams.some((s) => s instanceof ColumnStream);
  $("run-all").disabled = running;
  $("replay-all").disabled = running || !streams.length || !streams.every((s) => s.state.run || s.data);
  if (!running) streams.forEach((s, i) => { if (s.state.status !== "idle" && !s.state.replay) presetButton(i, s.state); });
  if (!saving && streams.length && streams.every((s) => s instanceof ColumnStream && (s.state.run || !RUNNING.has(s.state.status)))) {
    if (inPlace) updateSaved();
    else if (!savedId) save();
  }
  if (!running) showSummary();
  else $("summary-panel").hidden = true;
}

$("run-all").addEventListener("click", () => {
  const prompt = $("cmp-prompt").value.trim();
  if (!prompt) return setError("Write the message every column is sent.");
  const bad = specs.find((s) => s.error || !s.model);
  if (bad) return setError(bad.error || "Every column needs a model.");
  if (!socket.isOpen) return setError("Not connected yet: wait for the connection.");
  setError(null);
  // The saved comparison on screen, with the same columns: run each again in its own conversation
  // (its watchers see it live) and keep the comparison. Otherwise a new comparison.
  inPlace = Boolean(savedId && savedColumns && savedColumns.length === specs.length
    && savedColumns.every((c) => typeof c.conversation === "number"));
  if (!inPlace) {
    savedId = null;
    savedColumns = null;
    watcher?.watch([]);
    $("compare-access").replaceChildren();
    history.replaceState(null, "", "/compare/");
  }
  $("saved-note").textContent = "";
  $("replay-label").hidden = true;
  sentMessages = [{ role: "user", content: prompt }];
  const system = $("cmp-system").value;
  buildColumns((spec, index, update) => new ColumnStream(socket, spec, update));
  runData = specs.map(() => null);
  streams.forEach((stream, i) => stream.start({ system, messages: sentMessages, conversation: inPlace ? savedColumns[i].conversation : null }));
});

$("stop-all").addEventListener("click", () => { for (const s of streams) s.stop(); });

async function save() {
  saving = true;
  const columns = specs.map((spec, i) => ({ label: spec.label || `Column ${i + 1}`, model: spec.model, params: spec.params, preset: spec.preset, run: streams[i].state.run }))
    .filter((c) => c.run);
  if (!columns.length) { saving = false; return; }
  try {
    const data = await api("/api/comparisons/", { kind, sweep, title: "", system_prompt: $("cmp-system").value, messages: sentMessages, columns });
    savedId = data.comparison.id;
    savedColumns = columns.length === streams.length ? streams.map((s) => ({ conversation: s.state.conversation, run: s.state.run })) : null;
    history.replaceState(null, "", data.comparison.url);
    $("saved-note").replaceChildren("Saved as ", el("a", { href: data.comparison.url, "data-testid": "saved-link" }, `comparison #${savedId}`));
    // As when it is reopened: its visibility and Share…, and its columns watched for runs from elsewhere.
    showAccess(data.comparison);
    if (savedColumns) watchSaved(savedId, savedColumns.map((c) => c.conversation));
  } catch (error) {
    $("saved-note").textContent = `Not saved: ${error.message}`;
  } finally {
    saving = false;
  }
}

/** After running the saved comparison again in place: point it at the new runs. */
async function updateSaved() {
  inPlace = false;
  saving = true;
  const columns = specs.map((spec, i) => ({ label: spec.label || `Column ${i + 1}`, model: spec.model, params: spec.params,
    preset: spec.preset, run: streams[i].state.run ?? savedColumns[i].run }));
  try {
    const data = await api(`/api/comparisons/${savedId}/`, { columns }, "PATCH");
    savedColumns = data.comparison.columns.map((c) => ({ conversation: c.data ? c.conversation : null, run: c.run }));
    $("saved-note").replaceChildren("Ran again, saved in ", el("a", { href: `/compare/${savedId}/`, "data-testid": "saved-link" }, `comparison #${savedId}`));
  } catch (error) {
    $("saved-note").textContent = `Not saved: ${error.message}`;
  } finally {
    saving = false;
  }
}

// --- watching a saved comparison live ------------------------------------------------------------------
function onWatched(index, frame) {
  let stream = streams[index];
  if (!views[index] || stream instanceof ColumnStream) return; // this tab's own run: never watched twice
  if (!(stream instanceof WatchedColumn)) {
    stream?.stop?.(true); // a replay in progress gives way to the live run
    stream = streams[index] = new WatchedColumn(stream?.state);
  }
  const before = stream.stream;
  if (!stream.handle(frame)) return;
  if (stream.stream !== before) {
    runData[index] = null; // a new run: the saved one is no longer what the column shows
    views.forEach((v) => v.showDiff(null));
  }
  onUpdate(index, stream.state);
  const live = streams.filter((s) => s instanceof WatchedColumn && s.running);
  $("live-note").hidden = !live.length;
  if (live.length) $("live-note").textContent = `Live: ${live[0].state.by || "someone"} is running this comparison`;
}

// --- replay ------------------------------------------------------------------------------------------
$("replay-all").addEventListener("click", async () => {
  const speed = Number($("replay-speed").value);
  const ids = streams.map((s, i) => runData[i]?.id ?? s.state.run);
  const data = await Promise.all(ids.map((id, i) => (runData[i] && runData[i].timeline ? runData[i] : api(`/runs/${id}/replay.json`).then((d) => d.run))));
  runData = data;
  $("replay-label").hidden = false;
  $("replay-label").textContent = `Replay · ${speed}x · recorded, no API call`;
  buildColumns((spec, index, update) => new ReplayStream(data[index], update));
  for (const s of streams) s.start(speed);
});

// --- save a column as a preset --------------------------------------------------------------------------
function presetButton(index, state) {
  const area = views[index].presetArea;
  if (area.dataset.ready === "1" || state.status === "error" && !state.run) return;
  area.dataset.ready = "1";
  const spec = specs[index];
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
      presets.push(data.preset);
    } catch (error) {
      note.textContent = error.message;
    }
  });
  area.append(open, form);
}

// --- summary and diff ----------------------------------------------------------------------------------
const LOWER_BETTER = new Set(["ttft_ms", "tokens", "total_ms"]);

function showSummary() {
  if (!streams.length) return;
  const rows = streams.map((s, i) => ({ i, spec: specs[i], state: s.state, m: metricsOf(s.state) }));
  const by = $("rank-by").value;
  const best = {};
  for (const key of ["ttft_ms", "tokens_per_second", "tokens", "total_ms"]) {
    // Only finished columns compete: a stopped reply is short and quick by construction.
    const values = rows.filter((r) => r.state.status === "done").map((r) => r.m[key]).filter((v) => typeof v === "number");
    if (values.length > 1) best[key] = LOWER_BETTER.has(key) ? Math.min(...values) : Math.max(...values);
  }
  const score = (r) => (typeof r.m[by] === "number" ? (LOWER_BETTER.has(by) ? r.m[by] : -r.m[by]) : Infinity);
  rows.sort((a, b) => score(a) - score(b) || a.i - b.i);
  const isBest = (r, key) => r.state.status === "done" && best[key] !== undefined && r.m[key] === best[key];
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
    el("td", {}, r.m.finish || "—"),
    el("td", {}, el("span", { class: `chip ${r.state.status}` }, r.state.status)));
  }));
  $("summary-panel").hidden = false;
  for (const id of ["diff-a", "diff-b"]) {
    const select = $(id);
    const keep = select.value;
    clear(select).append(...specs.map((s, i) => el("option", { value: i }, s.label || `Column ${i + 1}`)));
    select.value = keep !== "" && Number(keep) < specs.length ? keep : String(id === "diff-a" ? 0 : Math.min(1, specs.length - 1));
  }
  applyDiff();
}

function applyDiff() {
  views.forEach((v) => v.showDiff(null));
  $("diff-note").textContent = "";
  if (!$("diff-on").checked || anyRunning()) return;
  const a = Number($("diff-a").value);
  const b = Number($("diff-b").value);
  if (a === b) { $("diff-note").textContent = "Pick two different columns."; return; }
  const ops = wordDiff(streams[a].state.text, streams[b].state.text);
  views[a].showDiff(ops, "a");
  views[b].showDiff(ops, "b");
  const changed = ops.filter((o) => o.op !== "same").length;
  $("diff-note").textContent = changed ? `${changed} changed stretch${changed === 1 ? "" : "es"}: removed in the first, added in the second.` : "The two replies are identical.";
}

$("rank-by").addEventListener("change", showSummary);
for (const id of ["diff-on", "diff-a", "diff-b"]) $(id).addEventListener("change", applyDiff);

// --- a saved comparison ----------------------------------------------------------------------------------
function reopen(saved) {
  $("compare-title").textContent = saved.title || `Comparison #${saved.id}`;
  $("cmp-system").value = saved.system_prompt || "";
  const user = (saved.messages || []).filter((m) => m.role === "user").pop();
  $("cmp-prompt").value = typeof user?.content === "string" ? user.content : "";
  sentMessages = saved.messages || [];
  kind = saved.kind;
  sweep = saved.sweep;
  specs = saved.columns.map((c) => ({ ...newSpec(c.model, c.params), label: c.label, preset: c.preset }));
  renderSpecs();
  runData = saved.columns.map((c) => c.data);
  buildColumns((spec, index, update) => {
    const data = runData[index];
    const stream = data ? new ReplayStream(data, update) : { state: { status: "error", text: "", error: { code: "missing", message: "This run is no longer available." } }, stop() {} };
    return stream;
  });
  streams.forEach((s, i) => {
    if (runData[i]) s.state = finishedState(runData[i]);
    onUpdate(i, s.state);
  });
  $("saved-note").textContent = `Saved ${new Date(saved.created_at).toLocaleString()}`;
  savedColumns = saved.columns.map((c) => ({ conversation: c.data ? c.conversation : null, run: c.run }));
  watchSaved(saved.id, savedColumns.map((c) => c.conversation));
  showAccess(saved);
}

/** The saved comparison's visibility chip, read-only note and Share… button. */
function showAccess(saved) {
  const access = [el("span", { class: "chip", "data-testid": "compare-visibility" }, saved.visibility === "workspace" ? "workspace" : "private")];
  if (readOnly) access.push(el("span", { class: "small muted", "data-testid": "compare-read-only" }, `Read-only: ${saved.owner}'s comparison; its runs show here live.`));
  if (saved.share_url) access.push(el("a", { class: "btn btn-ghost btn-sm", href: saved.share_url, "data-testid": "compare-share" }, "Share…"));
  $("compare-access").replaceChildren(...access);
}

if (config.comparison) {
  reopen(config.comparison);
} else {
  specs = [newSpec(), newSpec(config.default_model, { temperature: 1.2 })];
  renderSpecs();
}
