// Presentation mode (/present/): a prepared queue of prompts (kept in localStorage) sent to 1–4 models at
// once, shown in large type with big, simple figures (the page fold's, as on every page). → / Space:
// next prompt; ←: previous; Esc: stop (again: back to the setup); P: show or hide the parameters.

import { el, clear } from "../core/dom.js";
import { FRAME } from "../core/protocol.js";
import { PlaygroundSocket } from "../core/socket.js";
import { LiveStream } from "../core/live.js";
import { parseParams } from "../core/paramtext.js";
import { ColumnView, columnStartFrame } from "../panels/column.js";

const $ = (id) => document.getElementById(id);
const STORE = "playground.present";

function loadStored() {
  try {
    return JSON.parse(localStorage.getItem(STORE)) || {};
  } catch {
    return {};
  }
}

class PresentPage {
  constructor() {
    this.registry = JSON.parse($("param-registry").textContent);
    this.config = JSON.parse($("present-config").textContent);
    const stored = loadStored();
    const model = this.config.default_model;
    this.specs = stored.specs || [{ model, paramsText: "" }, { model, paramsText: "temperature=1.2" }];
    this.queue = [];
    this.position = -1;
    this.columns = [];
    this.views = [];
    this.showParams = false;
    $("queue").value = stored.queue || "";
    $("present-system").value = stored.system || "";
    $("queue").addEventListener("input", () => this.store());
    $("present-system").addEventListener("input", () => this.store());

    this.socket = new PlaygroundSocket(this.config.ws_path);
    this.socket.onStatus((state) => {
      $("connection").dataset.state = state;
      $("connection").querySelector(".conn-text").textContent = state === "open" ? "Connected" : "Connecting…";
      if (state === "open") this.socket.send({ type: FRAME.MODELS });
    });
    this.socket.on(FRAME.MODELS, (frame) => clear($("model-options")).append(...(frame.models || []).map((m) => el("option", { value: m.id }))));
    this.socket.connect();

    $("present-add").addEventListener("click", () => {
      this.specs.push({ model: this.specs[this.specs.length - 1]?.model || model, paramsText: "" });
      this.store();
      this.renderSpecs();
    });
    this.renderSpecs();
    $("present-start").addEventListener("click", () => this.begin());
    document.addEventListener("keydown", (event) => this.onKey(event));
  }

  store() {
    localStorage.setItem(STORE, JSON.stringify({ queue: $("queue").value, system: $("present-system").value,
      specs: this.specs.map((s) => ({ model: s.model, paramsText: s.paramsText })) }));
  }

  renderSpecs() {
    clear($("present-specs")).append(...this.specs.map((spec, index) => {
      const model = el("input", { value: spec.model, list: "model-options", spellcheck: "false", "data-testid": "present-model", "aria-label": `Model ${index + 1}` });
      model.addEventListener("input", () => { spec.model = model.value.trim(); this.store(); });
      const params = el("input", { value: spec.paramsText || "", spellcheck: "false", placeholder: "model defaults", "data-testid": "present-params", "aria-label": `Model ${index + 1} parameters` });
      params.addEventListener("input", () => { spec.paramsText = params.value; this.store(); });
      const remove = el("button", { type: "button", class: "btn btn-ghost btn-sm", disabled: this.specs.length <= 1, title: "Remove",
        onclick: () => { this.specs.splice(index, 1); this.store(); this.renderSpecs(); } }, "✕");
      return el("li", { class: "cmp-spec" }, el("span", { class: "cmp-spec-n" }, `Model ${index + 1}`), model, params, remove);
    }));
    $("present-add").disabled = this.specs.length >= 4;
  }

  setError(message) {
    $("present-error").hidden = !message;
    $("present-error").textContent = message || "";
  }

  // --- the stage -------------------------------------------------------------------------------------
  begin() {
    this.queue = $("queue").value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (!this.queue.length) return this.setError("Add at least one prompt to the queue.");
    const parsed = this.specs.map((s) => ({ ...s, ...parseParams(s.paramsText, this.registry) }));
    const bad = parsed.find((s) => s.error || !s.model);
    if (bad) return this.setError(bad.error || "Every model needs an id.");
    this.setError(null);
    const list = parsed.map((s, i) => ({ label: s.model.split("/").pop(), model: s.model, params: s.params, index: i }));
    $("stage-columns").style.setProperty("--cols", String(list.length));
    this.views = list.map((spec, i) => new ColumnView(spec, i, { big: true, showParams: this.showParams }));
    this.columns = list.map((spec, i) => new LiveStream(this.socket, (state) => this.views[i].update(state)));
    this.specsOnStage = list;
    clear($("stage-columns")).append(...this.views.map((v) => v.root));
    this.position = -1;
    $("stage-prompt").textContent = "";
    $("stage-count").textContent = `0 / ${this.queue.length}`;
    $("setup").hidden = true;
    $("stage").hidden = false;
    document.body.classList.add("presenting");
    return null;
  }

  running() {
    return this.columns.some((c) => c.running);
  }

  send(to) {
    if (to < 0 || to >= this.queue.length) return;
    for (const c of this.columns) c.stop();
    this.position = to;
    $("stage-prompt").textContent = this.queue[to];
    $("stage-count").textContent = `${to + 1} / ${this.queue.length}`;
    $("stage-hint").textContent = to + 1 < this.queue.length ? "→ next · Esc stop" : "last prompt · Esc stop";
    const messages = [{ role: "user", content: this.queue[to] }];
    this.columns.forEach((c, i) => c.start(columnStartFrame(this.specsOnStage[i], { system: $("present-system").value, messages })));
  }

  onKey(event) {
    if ($("stage").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "ArrowRight" || event.key === " ") {
      event.preventDefault();
      this.send(this.position + 1);
    } else if (event.key === "ArrowLeft") {
      event.preventDefault();
      this.send(this.position - 1);
    } else if (event.key === "Escape") {
      event.preventDefault();
      if (this.running()) {
        for (const c of this.columns) c.stop();
      } else {
        $("stage").hidden = true;
        $("setup").hidden = false;
        document.body.classList.remove("presenting");
      }
    } else if (event.key === "p" || event.key === "P") {
      this.showParams = !this.showParams;
      this.views.forEach((v) => v.showParams(this.showParams));
    }
  }
}

new PresentPage();
