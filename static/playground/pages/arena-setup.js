// A new arena (/arena/): 2–4 configurations (a model or a deployment's model id, parameters as name=value
// checked against the registry, an optional label for the results) and the prompt queue; created with
// POST /api/arenas/ (the server checks everything again), then the stage opens.

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
    this.specs = [{ model, paramsText: "temperature=0.2", label: "" }, { model, paramsText: "temperature=1.2", label: "" }];
    $("arena-add").addEventListener("click", () => {
      this.specs.push({ model: this.specs[this.specs.length - 1]?.model || model, paramsText: "", label: "" });
      this.render();
    });
    $("arena-create").addEventListener("click", () => this.create());
    this.render();
  }

  render() {
    clear($("arena-specs")).append(...this.specs.map((spec, index) => {
      const field = (key, attrs) => {
        const input = el("input", { value: spec[key] || "", spellcheck: "false", ...attrs });
        input.addEventListener("input", () => { spec[key] = input.value; });
        return input;
      };
      const remove = el("button", { type: "button", class: "btn btn-ghost btn-sm", disabled: this.specs.length <= 2, title: "Remove", "aria-label": `Remove configuration ${index + 1}`,
        onclick: () => { this.specs.splice(index, 1); this.render(); } }, "✕");
      return el("li", { class: "cmp-spec arena-spec" }, el("span", { class: "cmp-spec-n" }, `Configuration ${index + 1}`),
        field("model", { "data-testid": "arena-model", "aria-label": `Configuration ${index + 1} model` }),
        field("label", { placeholder: "label (results only)", "data-testid": "arena-label", "aria-label": `Configuration ${index + 1} label` }),
        field("paramsText", { placeholder: "model defaults", "data-testid": "arena-params", "aria-label": `Configuration ${index + 1} parameters` }),
        remove);
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
      const { params, error } = parseParams(spec.paramsText, this.registry);
      if (error) return this.setError(`Configuration ${index + 1}: ${error}`);
      if (!spec.model.trim()) return this.setError(`Configuration ${index + 1} needs a model.`);
      const label = spec.label.trim() || `${shortModel(spec.model.trim())}${spec.paramsText.trim() ? ` (${spec.paramsText.trim()})` : ""}`;
      configs.push({ model: spec.model.trim(), params, label });
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
