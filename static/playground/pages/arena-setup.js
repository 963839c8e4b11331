// A new arena (/arena/): 2–4 configurations (a model or a deployment's model id with parameters as
// name=value checked against the registry, or a preset, or a saved prompt's version and the variable the
// queued prompt fills; an optional label for the results) and the prompt queue; created with
// POST /api/arenas/ (the server resolves presets and versions once and checks everything again), then the
// stage opens.

import { el, clear } from "../core/dom.js";
import { api } from "../core/http.js";
import { parseParams } from "../core/paramtext.js";
import { shortModel } from "../core/models.js";

const $ = (id) => document.getElementById(id);

class SetupPage {
  constructor() {
    this.registry = JSON.parse($("param-registry").textContent);
    this.config = JSON.parse($("arena-config").textContent);
    const model = this.config.default_model;
    this.specs = [{ source: "model", model, paramsText: "temperature=0.2", label: "" }, { source: "model", model, paramsText: "temperature=1.2", label: "" }];
    $("arena-add").addEventListener("click", () => {
      this.specs.push({ source: "model", model: this.specs[this.specs.length - 1]?.model || model, paramsText: "", label: "" });
      this.render();
    });
    $("arena-create").addEventListener("click", () => this.create());
    this.render();
  }

  render() {
    const { presets = [], versions = [] } = this.config;
    clear($("arena-specs")).append(...this.specs.map((spec, index) => {
      const n = index + 1;
      const field = (key, attrs) => {
        const input = el("input", { value: spec[key] || "", spellcheck: "false", ...attrs });
        input.addEventListener("input", () => { spec[key] = input.value; });
        return input;
      };
      const select = (key, options, attrs, rerender = false) => {
        const node = el("select", attrs, ...options.map(([value, text]) => el("option", { value: String(value), selected: String(spec[key] ?? "") === String(value) }, text)));
        node.addEventListener("change", () => { spec[key] = node.value; if (rerender) this.render(); });
        return node;
      };
      const sources = [["model", "Model"]];
      if (presets.length) sources.push(["preset", "Preset"]);
      if (versions.length) sources.push(["version", "Prompt version"]);
      const source = select("source", sources, { "data-testid": "arena-source", "aria-label": `Configuration ${n} source` }, true);
      let what;
      let how;
      if (spec.source === "preset") {
        spec.preset = spec.preset || String(presets[0].id);
        what = select("preset", presets.map((p) => [p.id, `${p.name}${p.model ? ` · ${shortModel(p.model)}` : ""}`]), { "data-testid": "arena-preset", "aria-label": `Configuration ${n} preset` }, true);
        how = el("span", { class: "small muted arena-spec-note" }, "the preset's model and parameters");
      } else if (spec.source === "version") {
        spec.version = spec.version || String(versions[0].id);
        const version = versions.find((v) => String(v.id) === spec.version) || versions[0];
        if (!version.variables.includes(spec.variable)) spec.variable = "";
        what = select("version", versions.map((v) => [v.id, `${v.name}${v.model ? ` · ${shortModel(v.model)}` : ""}`]), { "data-testid": "arena-version", "aria-label": `Configuration ${n} prompt version` }, true);
        how = select("variable", [["", "prompt fills: automatic"], ...version.variables.map((name) => [name, `prompt fills {{${name}}}`])],
          { "data-testid": "arena-variable", "aria-label": `Configuration ${n}: the variable the queued prompt fills` });
      } else {
        what = field("model", { "data-testid": "arena-model", "aria-label": `Configuration ${n} model` });
        how = field("paramsText", { placeholder: "model defaults", "data-testid": "arena-params", "aria-label": `Configuration ${n} parameters` });
      }
      const remove = el("button", { type: "button", class: "btn btn-ghost btn-sm", disabled: this.specs.length <= 2, title: "Remove", "aria-label": `Remove configuration ${n}`,
        onclick: () => { this.specs.splice(index, 1); this.render(); } }, "✕");
      return el("li", { class: "cmp-spec arena-spec" }, el("span", { class: "cmp-spec-n" }, `Configuration ${n}`), source, what,
        field("label", { placeholder: "label (results only)", "data-testid": "arena-label", "aria-label": `Configuration ${n} label` }),
        how, remove);
    }));
    $("arena-add").disabled = this.specs.length >= 4;
  }

  setError(message) {
    $("arena-error").hidden = !message;
    $("arena-error").textContent = message || "";
  }

  async create() {
    const configs = [];
    for (const [index, spec] of this.specs.entries()) {
      // A preset or a version is resolved by the server; its label defaults to the preset's or version's name.
      const label = spec.label.trim();
      if (spec.source === "preset") { configs.push({ preset: Number(spec.preset), ...(label && { label }) }); continue; }
      if (spec.source === "version") {
        configs.push({ version: Number(spec.version), ...(spec.variable && { variable: spec.variable }), ...(label && { label }) });
        continue;
      }
      const { params, error } = parseParams(spec.paramsText, this.registry);
      if (error) return this.setError(`Configuration ${index + 1}: ${error}`);
      if (!spec.model.trim()) return this.setError(`Configuration ${index + 1} needs a model.`);
      const named = label || `${shortModel(spec.model.trim())}${spec.paramsText.trim() ? ` (${spec.paramsText.trim()})` : ""}`;
      configs.push({ model: spec.model.trim(), params, label: named });
    }
    const prompts = $("arena-queue").value.split("\n").map((line) => line.trim()).filter(Boolean);
    const body = { title: $("arena-title").value.trim(), system: $("arena-system").value, configs, prompts };
    $("arena-create").disabled = true;
    try {
      const { arena } = await api(this.config.create_url, body);
      location.href = arena.url;
    } catch (exc) {
      this.setError(exc.message);
      $("arena-create").disabled = false;
    }
    return null;
  }
}

new SetupPage();
