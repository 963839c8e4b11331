// The test-set editor: a table of variable values (one column per variable, plus the expected answer),
// typed in or imported from CSV/JSONL on the server (which checks every line and imports all or nothing).

import { el, clear } from "../core/dom.js";
import { api, csrfToken } from "../core/http.js";

const config = JSON.parse(document.getElementById("testset-config").textContent);
const $ = (id) => document.getElementById(id);
const state = {
  id: config.test_set.id,
  variables: [...config.test_set.variables],
  rows: config.test_set.rows.map((r) => ({ values: { ...r.values }, expected: r.expected })),
};
if (!state.rows.length) state.rows.push({ values: {}, expected: null });
$("ts-name").value = config.test_set.name;
$("ts-scope").value = config.test_set.scope;

function showError(message, lines = []) {
  const box = $("ts-error");
  clear(box);
  box.hidden = !message;
  if (!message) return;
  box.append(el("strong", { text: message }));
  if (lines.length) box.append(el("ul", { "data-testid": "ts-error-lines" }, lines.map((line) => el("li", { text: line }))));
}

function draw() {
  const head = clear($("ts-head"));
  head.append(el("tr", {}, el("th", { class: "num", text: "#" }),
    state.variables.map((name, index) => el("th", {},
      el("input", { class: "ev-var", value: name, "aria-label": `Variable ${index + 1} name`, "data-testid": "ts-var",
        spellcheck: "false", onchange: (event) => { state.rows.forEach((row) => {
          row.values[event.target.value] = row.values[name]; delete row.values[name]; });
          state.variables[index] = event.target.value; draw(); } }))),
    el("th", { text: "expected" }), el("th", {})));
  const body = clear($("ts-body"));
  state.rows.forEach((row, r) => {
    body.append(el("tr", { "data-testid": "ts-row" }, el("td", { class: "num muted", text: r + 1 }),
      state.variables.map((name) => el("td", {}, el("textarea", { rows: 1, "aria-label": `Row ${r + 1} ${name}`,
        oninput: (event) => { row.values[name] = event.target.value; } }, row.values[name] || ""))),
      el("td", {}, el("textarea", { rows: 1, "aria-label": `Row ${r + 1} expected`, placeholder: "(none)",
        oninput: (event) => { row.expected = event.target.value || null; } }, row.expected || "")),
      el("td", {}, el("button", { type: "button", class: "btn btn-ghost btn-sm", "aria-label": `Remove row ${r + 1}`, text: "×",
        onclick: () => { state.rows.splice(r, 1); draw(); } }))));
  });
  $("ts-note").textContent = `${state.rows.length} row${state.rows.length === 1 ? "" : "s"}, ${state.variables.length} variable${state.variables.length === 1 ? "" : "s"}`;
}

$("ts-add-row").addEventListener("click", () => { state.rows.push({ values: {}, expected: null }); draw(); });
$("ts-add-var").addEventListener("click", () => {
  let n = state.variables.length + 1;
  while (state.variables.includes(`var${n}`)) n += 1;
  state.variables.push(`var${n}`);
  draw();
});

$("ts-save").addEventListener("click", async () => {
  showError("");
  const body = { name: $("ts-name").value, scope: $("ts-scope").value, variables: state.variables, rows: state.rows };
  try {
    const data = await api(state.id ? `${config.api}${state.id}/` : config.api, body);
    if (!state.id) { location.assign(data.test_set.url); return; }
    $("ts-note").textContent = "Saved.";
  } catch (error) {
    showError(error.message, error.lines || []);
  }
});

$("ts-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  showError("");
  const form = new FormData();
  form.append("file", file);
  if ($("ts-name").value) form.append("name", $("ts-name").value);
  const response = await fetch(config.api, { method: "POST", body: form, credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" } });
  const data = await response.json().catch(() => ({}));
  event.target.value = "";
  if (!response.ok) { showError(data.error?.message || `The server answered ${response.status}.`, data.error?.lines || []); return; }
  location.assign(data.test_set.url);
});

draw();
