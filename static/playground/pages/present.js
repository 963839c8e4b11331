// Presentation mode (/present/): a prepared queue of prompts (kept in localStorage) sent to 1–4 models at
// once, shown in large type with big, simple figures (the page fold's, as on every page). → / Space:
// next prompt; ←: previous; Esc: stop (again: back to the setup); P: show or hide the parameters;
// 1–4: switch that slot between live and a replay.
// Before going on stage, "Check readiness" (panels/readiness.js) sends every model a tiny request. A slot
// that fails (there, or on stage) can be switched to a replay: each prompt then plays the most recent
// successful run of that prompt and configuration (POST /api/runs/recorded/) through core/replay.js,
// labelled as a replay on the stage; when there is none, the slot says so.

import { el, clear } from "../core/dom.js";
import { api } from "../core/http.js";
import { FRAME } from "../core/protocol.js";
import { PlaygroundSocket } from "../core/socket.js";
import { LiveStream } from "../core/live.js";
import { ReplayStream } from "../core/replay.js";
import { newStreamState } from "../core/stream.js";
import { parseParams } from "../core/paramtext.js";
import { ColumnView, columnStartFrame } from "../panels/column.js";
import { ReadinessPanel } from "../panels/readiness.js";

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

    // Slots switched to a replay, by index (kept across the check and the stage).
    this.onReplay = new Set();
    this.readiness = new ReadinessPanel(this.socket, {
      onRequest: () => this.checkReadiness(),
      onSwitch: (index, on) => this.switchSlot(index, on),
      switchLabel: "Use a replay on stage",
    });
    $("present-readiness").append(this.readiness.root);

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

  /** The models on stage as configurations ({label, model, params}), or an error message. */
  parsedSpecs() {
    const parsed = this.specs.map((s) => ({ ...s, ...parseParams(s.paramsText, this.registry) }));
    const bad = parsed.find((s) => s.error || !s.model);
    if (bad) return { error: bad.error || "Every model needs an id." };
    return { list: parsed.map((s, i) => ({ label: s.model.split("/").pop(), model: s.model, params: s.params, index: i })) };
  }

  // --- readiness -------------------------------------------------------------------------------------
  /** Check every model with a tiny request of the first prompt in the queue. */
  checkReadiness() {
    const { list, error } = this.parsedSpecs();
    if (error) return this.setError(error);
    this.setError(null);
    const prompt = $("queue").value.split("\n").map((line) => line.trim()).find(Boolean) || "Reply with OK.";
    const system = $("present-system").value;
    const messages = [{ role: "user", content: prompt }];
    this.readiness.check(list.map((spec, i) => ({ label: `Model ${i + 1} · ${spec.label}`, model: spec.model, params: spec.params, system, messages })));
    return null;
  }

  /** Put slot `index` on a replay (or back to live); on stage, the prompt showing is played again. */
  switchSlot(index, on) {
    if (on) this.onReplay.add(index);
    else this.onReplay.delete(index);
    this.readiness.setSwitched(index, on);
    if (!this.views[index]) return;
    this.views[index].showReplay(on ? "Replay: finding a recorded run…" : null);
    if (this.position >= 0) this.sendSlot(index);
  }

  // --- the stage -------------------------------------------------------------------------------------
  begin() {
    this.queue = $("queue").value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (!this.queue.length) return this.setError("Add at least one prompt to the queue.");
    const { list, error } = this.parsedSpecs();
    if (error) return this.setError(error);
    this.setError(null);
    for (const index of [...this.onReplay]) if (index >= list.length) this.onReplay.delete(index);
    $("stage-columns").style.setProperty("--cols", String(list.length));
    $("stage-columns").dataset.cols = String(list.length);
    this.views = list.map((spec, i) => new ColumnView(spec, i, { big: true, showParams: this.showParams,
      onToggleReplay: (index) => this.switchSlot(index, !this.onReplay.has(index)) }));
    this.columns = list.map(() => null);
    this.views.forEach((view, i) => view.showReplay(this.onReplay.has(i) ? "Replay: each prompt plays a recorded run." : null));
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
    return this.columns.some((c) => c?.running);
  }

  send(to) {
    if (to < 0 || to >= this.queue.length) return;
    this.position = to;
    $("stage-prompt").textContent = this.queue[to];
    $("stage-count").textContent = `${to + 1} / ${this.queue.length}`;
    $("stage-hint").textContent = to + 1 < this.queue.length ? "→ next · Esc stop" : "last prompt · Esc stop";
    this.specsOnStage.forEach((spec, i) => this.sendSlot(i));
  }

  /** Send the prompt on stage to slot `index`: live, or the recorded run of it when the slot is on replay. */
  sendSlot(index) {
    this.columns[index]?.stop(true);
    const view = this.views[index];
    const frame = columnStartFrame(this.specsOnStage[index], { system: $("present-system").value, messages: [{ role: "user", content: this.queue[this.position] }] });
    if (!this.onReplay.has(index)) {
      const live = new LiveStream(this.socket, (state) => { if (this.columns[index] === live) view.update(state); });
      this.columns[index] = live;
      live.start(frame);
      return;
    }
    this.columns[index] = null;
    view.update(newStreamState());
    view.showReplay("Replay: finding a recorded run of this prompt…");
    const position = this.position;
    const { type, ...fields } = frame;
    api("/api/runs/recorded/", fields).then(({ run }) => {
      if (position !== this.position || !this.onReplay.has(index)) return; // moved on meanwhile
      if (!run) {
        view.showReplay("Replay: no recorded run of this prompt with this configuration, so nothing to play.");
        return;
      }
      const when = new Date(run.started_at).toLocaleString();
      view.showReplay(`Replay of a recorded run (#${run.id}, ${when}), not live`);
      const replay = new ReplayStream(`replay-${run.id}`, run.frames, (state) => {
        if (this.columns[index] === replay) view.update(state, { replay: replay.running ? 1 : null });
      });
      this.columns[index] = replay;
      replay.start(1);
    }).catch((err) => {
      if (position === this.position) view.showReplay(`Replay: could not look up a recorded run (${err.message}).`);
    });
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
        for (const c of this.columns) c?.stop();
      } else {
        $("stage").hidden = true;
        $("setup").hidden = false;
        document.body.classList.remove("presenting");
      }
    } else if (/^[1-4]$/.test(event.key) && Number(event.key) <= this.views.length) {
      event.preventDefault();
      const index = Number(event.key) - 1;
      this.switchSlot(index, !this.onReplay.has(index));
    } else if (event.key === "p" || event.key === "P") {
      this.showParams = !this.showParams;
      this.views.forEach((v) => v.showParams(this.showParams));
    }
  }
}

new PresentPage();
