// Presentation mode (/present/): a prepared queue of prompts (kept in localStorage) sent to 1–4 models at
// once, shown in large type with big, simple metrics. → / Space: next prompt; ←: previous; Esc: stop
// (again: back to the setup); P: show or hide the parameters.

import { el, clear } from "./dom.js";
import { PlaygroundSocket } from "./socket.js";
import { ColumnStream } from "./columns.js";
import { ColumnView } from "./colview.js";
import { parseParams } from "./paramtext.js";

const registry = JSON.parse(document.getElementById("param-registry").textContent);
const config = JSON.parse(document.getElementById("present-config").textContent);
const $ = (id) => document.getElementById(id);
const STORE = "playground.present";

const saved = (() => {
  try {
    return JSON.parse(localStorage.getItem(STORE)) || {};
  } catch {
    return {};
  }
})();
let specs = (saved.specs || [{ model: config.default_model, paramsText: "" }, { model: config.default_model, paramsText: "temperature=1.2" }]);
$("queue").value = saved.queue || "";
$("present-system").value = saved.system || "";

function store() {
  localStorage.setItem(STORE, JSON.stringify({ queue: $("queue").value, system: $("present-system").value,
    specs: specs.map((s) => ({ model: s.model, paramsText: s.paramsText })) }));
}
$("queue").addEventListener("input", store);
$("present-system").addEventListener("input", store);

const socket = new PlaygroundSocket(config.ws_path);
socket.onStatus((state) => {
  $("connection").dataset.state = state;
  $("connection").querySelector(".conn-text").textContent = state === "open" ? "Connected" : "Connecting…";
  if (state === "open") socket.send({ type: "models.list" });
});
socket.on("models.list", (frame) => clear($("model-options")).append(...(frame.models || []).map((m) => el("option", { value: m.id }))));
socket.connect();

function renderSpecs() {
  clear($("present-specs")).append(...specs.map((spec, index) => {
    const model = el("input", { value: spec.model, list: "model-options", spellcheck: "false", "data-testid": "present-model", "aria-label": `Model ${index + 1}` });
    model.addEventListener("input", () => { spec.model = model.value.trim(); store(); });
    const params = el("input", { value: spec.paramsText || "", spellcheck: "false", placeholder: "model defaults", "data-testid": "present-params", "aria-label": `Model ${index + 1} parameters` });
    params.addEventListener("input", () => { spec.paramsText = params.value; store(); });
    const remove = el("button", { type: "button", class: "btn btn-ghost btn-sm", disabled: specs.length <= 1, title: "Remove",
      onclick: () => { specs.splice(index, 1); store(); renderSpecs(); } }, "✕");
    return el("li", { class: "cmp-spec" }, el("span", { class: "cmp-spec-n" }, `Model ${index + 1}`), model, params, remove);
  }));
  $("present-add").disabled = specs.length >= 4;
}
$("present-add").addEventListener("click", () => { specs.push({ model: specs[specs.length - 1]?.model || config.default_model, paramsText: "" }); store(); renderSpecs(); });
renderSpecs();

// --- the stage ---------------------------------------------------------------------------------------
let queue = [];
let position = -1;
let columns = [];
let views = [];
let showParams = false;

function setError(message) {
  $("present-error").hidden = !message;
  $("present-error").textContent = message || "";
}

$("present-start").addEventListener("click", () => {
  queue = $("queue").value.split("\n").map((line) => line.trim()).filter(Boolean);
  if (!queue.length) return setError("Add at least one prompt to the queue.");
  const parsed = specs.map((s) => ({ ...s, ...parseParams(s.paramsText, registry) }));
  const bad = parsed.find((s) => s.error || !s.model);
  if (bad) return setError(bad.error || "Every model needs an id.");
  setError(null);
  const list = parsed.map((s, i) => ({ label: s.model.split("/").pop(), model: s.model, params: s.params, index: i }));
  $("stage-columns").style.setProperty("--cols", String(list.length));
  views = list.map((spec, i) => new ColumnView(spec, i, { big: true, showParams }));
  columns = list.map((spec, i) => new ColumnStream(socket, spec, (state) => views[i].update(state)));
  clear($("stage-columns")).append(...views.map((v) => v.root));
  position = -1;
  $("stage-prompt").textContent = "";
  $("stage-count").textContent = `0 / ${queue.length}`;
  $("setup").hidden = true;
  $("stage").hidden = false;
  document.body.classList.add("presenting");
});

function running() {
  return columns.some((c) => c.running);
}

function send(to) {
  if (to < 0 || to >= queue.length) return;
  for (const c of columns) c.stop();
  position = to;
  $("stage-prompt").textContent = queue[position];
  $("stage-count").textContent = `${position + 1} / ${queue.length}`;
  $("stage-hint").textContent = position + 1 < queue.length ? "→ next · Esc stop" : "last prompt · Esc stop";
  const messages = [{ role: "user", content: queue[position] }];
  views.forEach((v) => { v.shown = ""; v.textNode.data = ""; });
  for (const c of columns) c.start({ system: $("present-system").value, messages });
}

document.addEventListener("keydown", (event) => {
  if ($("stage").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "ArrowRight" || event.key === " ") {
    event.preventDefault();
    send(position + 1);
  } else if (event.key === "ArrowLeft") {
    event.preventDefault();
    send(position - 1);
  } else if (event.key === "Escape") {
    event.preventDefault();
    if (running()) {
      for (const c of columns) c.stop();
    } else {
      $("stage").hidden = true;
      $("setup").hidden = false;
      document.body.classList.remove("presenting");
    }
  } else if (event.key === "p" || event.key === "P") {
    showParams = !showParams;
    views.forEach((v) => v.showParams(showParams));
  }
});

