// The eval setup: a test set, a prompt with {{variable}} placeholders, configurations (columns) and
// scorers. The server checks it all (and builds each request); then the eval page runs it on the server.

import { el, clear } from "../core/dom.js";
import { api } from "../core/http.js";
import { startVariables } from "../core/variables.js";
import { parseSweepValues, sweepable } from "../core/paramtext.js";

const config = JSON.parse(document.getElementById("evalnew-config").textContent);
const $ = (id) => document.getElementById(id);
const TIERS = ["", "priority", "standard", "flex"];
const MODELS = ["accounts/fireworks/models/llama-v3p1-8b-instruct", "accounts/fireworks/models/llama-v3p3-70b-instruct",
  "accounts/fireworks/models/deepseek-v3", "accounts/fireworks/models/qwen3-235b-a22b"];

const select = $("ev-test-set");
for (const t of config.test_sets) select.append(el("option", { value: t.id, text: `${t.name} (${t.rows} rows: ${t.variables.join(", ")})` }));
if (config.selected) select.value = config.selected;
if (!config.test_sets.length) select.append(el("option", { value: "", text: "No test set yet: make one first" }));
$("ev-samples").max = config.max_samples;
$("ev-concurrency").max = config.max_concurrency;
for (const id of MODELS) $("model-options").append(el("option", { value: id }));

if (config.versions.length) {
  $("ev-versions").hidden = false;
  for (const v of config.versions) {
    const labels = v.labels.length ? ` [${v.labels.join(", ")}]` : "";
    $("ev-versions").append(el("label", { class: "param-check" }, el("input", { type: "checkbox", name: "version", value: v.id }),
      ` ${v.label}${labels}${v.note ? ` — ${v.note}` : ""}`));
  }
}

function showVars() {
  const used = startVariables({ system: $("ev-system").value, messages: [{ role: "user", content: $("ev-message").value }] });
  const set = config.test_sets.find((t) => String(t.id) === select.value);
  const missing = set ? used.filter((name) => !set.variables.includes(name)) : [];
  $("ev-vars").textContent = used.length ? `Uses ${used.map((n) => `{{${n}}}`).join(", ")}` +
    (missing.length ? ` — the test set has no column ${missing.join(", ")}` : "") : "No placeholders: every row sends the same prompt.";
}
for (const id of ["ev-system", "ev-message", "ev-test-set"]) $(id).addEventListener("input", showVars);

function addConfig(model = MODELS[0]) {
  const presets = [el("option", { value: "", text: "(none)" }), ...config.presets.map((p) => el("option", { value: p.id, text: p.name }))];
  const item = el("li", { class: "ev-config", "data-testid": "ev-config" },
    el("label", { class: "ev-field" }, el("span", { class: "section-label", text: "Label" }), el("input", { name: "label", placeholder: "optional" })),
    el("label", { class: "ev-field grow" }, el("span", { class: "section-label", text: "Model" }), el("input", { name: "model", list: "model-options", value: model, spellcheck: "false" })),
    el("label", { class: "ev-field" }, el("span", { class: "section-label", text: "Preset" }), el("select", { name: "preset" }, presets)),
    el("label", { class: "ev-field grow" }, el("span", { class: "section-label", text: "Parameters (JSON)" }), el("input", { name: "params", value: '{"max_tokens": 200}', spellcheck: "false" })),
    el("label", { class: "ev-field" }, el("span", { class: "section-label", text: "Serving tier" }), el("select", { name: "service_tier" }, TIERS.map((t) => el("option", { value: t, text: t || "(default)" })))),
    el("label", { class: "ev-field" }, el("span", { class: "section-label", text: "Deployment" }), el("input", { name: "deployment", placeholder: "optional", spellcheck: "false" })),
    el("button", { type: "button", class: "btn btn-ghost btn-sm", "aria-label": "Remove configuration", text: "×", onclick: () => item.remove() }));
  $("ev-configs").append(item);
}
$("ev-add-config").addEventListener("click", () => { addConfig(MODELS[1]); showSweepConfigs(); });
addConfig(MODELS[0]);
addConfig(MODELS[1]);

// "Sweep a parameter": the chosen configuration becomes one per value (the server expands it).
const numeric = sweepable(config.registry);
$("ev-sweep-param").append(...numeric.map((p) => el("option", { value: p.name, text: p.name, selected: p.name === "temperature" })));
function showSweepRange() {
  const p = numeric.find((x) => x.name === $("ev-sweep-param").value);
  $("ev-sweep-range").textContent = p ? `(${p.range})` : "";
}
/** The configuration choices, as many as there are configurations now (removing one renumbers them). */
function showSweepConfigs() {
  const select = $("ev-sweep-config");
  const chosen = select.value;
  clear(select).append(...[...document.querySelectorAll(".ev-config")].map((item, i) => {
    const label = item.querySelector("[name=label]").value.trim() || item.querySelector("[name=model]").value.trim().split("/").pop();
    return el("option", { value: String(i), text: `${i + 1}. ${label || "configuration"}` });
  }));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}
$("ev-sweep-param").addEventListener("change", showSweepRange);
$("ev-sweep-on").addEventListener("change", () => { $("ev-sweep-fields").hidden = !$("ev-sweep-on").checked; showSweepConfigs(); });
$("ev-configs").addEventListener("click", () => setTimeout(showSweepConfigs));
$("ev-configs").addEventListener("change", showSweepConfigs);
showSweepRange();
showSweepConfigs();

/** The sweep the eval is created with: null (none), {error}, or {param, values, config}. */
function sweepSetup() {
  if (!$("ev-sweep-on").checked) return null;
  const p = numeric.find((x) => x.name === $("ev-sweep-param").value);
  if (!p) return { error: "Sweep: choose a parameter." };
  const { values, error } = parseSweepValues(p, $("ev-sweep-values").value);
  if (error) return { error: `Sweep: ${error}` };
  return { param: p.name, values, config: Number($("ev-sweep-config").value) || 0 };
}

const OPTIONS = {
  contains: [["text", "input", "Text (else the expected answer)"]],
  regex: [["pattern", "input", "Pattern"]],
  json_schema: [["schema", "textarea", "JSON schema"]],
  latency: [["ms", "number", "Under (ms)"], ["figure", "select", "Figure"]],
  judge: [["prompt", "textarea", "Judge prompt"], ["model", "input", "Judge model (else the first configuration's)"]],
};
for (const scorer of config.scorers) {
  const fields = (OPTIONS[scorer.kind] || []).map(([name, kind, label]) => {
    let input;
    if (kind === "textarea") input = el("textarea", { name, rows: 3, spellcheck: "false" }, name === "prompt" ? config.judge_prompt : name === "schema" ? '{"type": "object"}' : "");
    else if (kind === "select") input = el("select", { name }, el("option", { value: "ttft_ms", text: "time to first token" }), el("option", { value: "total_ms", text: "total time" }));
    else input = el("input", { name, type: kind === "number" ? "number" : "text", value: name === "ms" ? "2000" : "", list: name === "model" ? "model-options" : null, spellcheck: "false" });
    return el("label", { class: "ev-field grow" }, el("span", { class: "section-label", text: label }), input);
  });
  $("ev-scorers").append(el("fieldset", { class: "ev-scorer", "data-kind": scorer.kind, "data-testid": `scorer-${scorer.kind}` },
    el("label", { class: "param-check" }, el("input", { type: "checkbox", name: "on" }), ` ${scorer.label}`), ...fields));
}

function showError(message) {
  $("ev-error").hidden = !message;
  $("ev-error").textContent = message || "";
}

function checkedVersions() {
  return [...document.querySelectorAll("#ev-versions input:checked")].map((input) => Number(input.value));
}

$("ev-create").addEventListener("click", async () => {
  showError("");
  const configs = [];
  for (const [index, item] of [...document.querySelectorAll(".ev-config")].entries()) {
    const value = (name) => item.querySelector(`[name=${name}]`).value.trim();
    let params = {};
    try {
      params = value("params") ? JSON.parse(value("params")) : {};
    } catch {
      showError(`Configuration ${index + 1}: the parameters are not JSON (e.g. {"temperature": 0.2}).`);
      return;
    }
    configs.push({ label: value("label"), model: value("model"), preset: value("preset") || null, params,
      service_tier: value("service_tier") || null, deployment: value("deployment") || null });
  }
  const scorers = [];
  for (const box of document.querySelectorAll(".ev-scorer")) {
    if (!box.querySelector("[name=on]").checked) continue;
    const scorer = { kind: box.dataset.kind };
    for (const input of box.querySelectorAll("input:not([name=on]), textarea, select")) {
      if (input.value === "") continue;
      scorer[input.name] = input.type === "number" ? Number(input.value) : input.value;
    }
    scorers.push(scorer);
  }
  const sweep = sweepSetup();
  if (sweep?.error) {
    showError(sweep.error);
    return;
  }
  const system = $("ev-system").value;
  const body = {
    name: $("ev-name").value || "Eval",
    test_set: select.value || null,
    prompts: checkedVersions().length ? checkedVersions().map((id) => ({ version: id }))
      : [{ label: "prompt", start: { mode: "chat", system, messages: [{ role: "user", content: $("ev-message").value }] } }],
    configs, scorers,
    samples: Number($("ev-samples").value) || 1,
    concurrency: Number($("ev-concurrency").value) || 4,
    ...(sweep ? { sweep } : {}),
  };
  try {
    const data = await api(location.pathname, body);
    location.assign(data.eval.url);
  } catch (error) {
    showError(error.message);
  }
});
showVars();
