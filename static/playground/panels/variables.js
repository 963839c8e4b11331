// The playground's variables form: one field per {{ name }} found in the system prompt and the messages
// (core/variables.js finds them; the server fills them in, proxy/frames.py). Each variable has a type
// (text, long text, number, choice) and a default, kept here as its definition and saved with a prompt
// version. The form follows the text as it is typed; a name that disappears keeps its value and
// definition, in case it comes back; definitions and values are kept in this browser across reloads.

import { el, clear, autogrow } from "../core/dom.js";
import { VARIABLE_TYPES, defaultDefinition, valueError } from "../core/variables.js";

const TYPE_LABELS = { text: "Text", long_text: "Long text", number: "Number", choice: "Choice" };
// The variables' definitions and values, kept in this browser across reloads (localStorage).
const STORAGE_KEY = "playground:variables";

/** "a, b , c" → ["a", "b", "c"] (empty entries dropped, each once). */
const splitChoices = (text) => [...new Set(String(text || "").split(",").map((c) => c.trim()).filter(Boolean))];

export class VariablesPanel {
  constructor(root, { onChange = () => {} } = {}) {
    this.root = root;
    this.onChange = onChange;
    this.names = [];
    this.defs = new Map(); // name → {name, type, default, choices?}
    this.vals = new Map(); // name → the value in the form
    this.list = el("div", { class: "var-list", "data-testid": "variables-list" });
    this.count = el("span", { class: "small muted", "data-testid": "variables-count" });
    root.append(
      el("div", { class: "panel-head" },
        el("h2", {}, "Variables"), this.count,
        el("span", { class: "small muted var-hint" }, "filled in on the server before sending")),
      this.list);
    root.hidden = true;
    this.load();
  }

  load() {
    try {
      const kept = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
      for (const def of kept?.definitions || []) if (typeof def?.name === "string") this.defs.set(def.name, def);
      for (const [name, value] of Object.entries(kept?.values || {})) if (typeof value === "string") this.vals.set(name, value);
    } catch {
      /* nothing kept, or storage disabled */
    }
  }

  save() {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ definitions: [...this.defs.values()], values: Object.fromEntries(this.vals) }));
    } catch {
      /* storage full or disabled: the values last for this page only */
    }
  }

  changed() {
    this.save();
    this.onChange();
  }

  /** Show a field for each of `names` (in this order), keeping what was typed for names already known. */
  setNames(names) {
    const same = names.length === this.names.length && names.every((n, i) => n === this.names[i]);
    if (same) return;
    for (const name of names) {
      if (!this.defs.has(name)) this.defs.set(name, defaultDefinition(name));
      if (!this.vals.has(name)) this.vals.set(name, this.defs.get(name).default || "");
    }
    this.names = [...names];
    this.render();
  }

  /** A restored version: its definitions, every value back to its default. */
  setDefinitions(definitions) {
    for (const def of definitions || []) {
      this.defs.set(def.name, { ...def });
      this.vals.set(def.name, def.default || "");
    }
    this.names = [];
    this.save();
  }

  /** The definitions of the variables on screen, in order (what a prompt version saves). */
  definitions() {
    return this.names.map((name) => {
      const def = this.defs.get(name);
      const out = { name, type: def.type, default: def.default || "" };
      if (def.type === "choice") out.choices = [...(def.choices || [])];
      return out;
    });
  }

  /** {name: value} for every variable on screen: the values to send with chat.start. */
  values() {
    return Object.fromEntries(this.names.map((name) => [name, this.vals.get(name) ?? ""]));
  }

  /** What stops sending: empty values (missing) and values that do not fit their type. */
  problems() {
    const missing = this.names.filter((name) => (this.vals.get(name) ?? "") === "");
    const invalid = this.names.map((name) => valueError(this.defs.get(name), this.vals.get(name) ?? "")).filter(Boolean);
    for (const row of this.list.children) {
      const name = row.dataset.variable;
      row.classList.toggle("is-invalid", missing.includes(name) || Boolean(valueError(this.defs.get(name), this.vals.get(name) ?? "")));
    }
    if (missing.length) {
      const plural = missing.length !== 1 ? "s" : "";
      return `Missing value${plural} for variable${plural}: ${missing.join(", ")}.`;
    }
    return invalid[0] || null;
  }

  render() {
    clear(this.list);
    this.root.hidden = this.names.length === 0;
    this.count.textContent = this.names.length ? `${this.names.length}` : "";
    for (const name of this.names) this.list.append(this.row(name));
  }

  valueField(name, id) {
    const def = this.defs.get(name);
    const value = this.vals.get(name) ?? "";
    const common = { id, "data-testid": `variable-${name}`, "aria-label": `Value of ${name}`, class: "var-value" };
    const set = (event) => {
      this.vals.set(name, event.target.value);
      event.target.closest(".var-row")?.classList.remove("is-invalid");
      this.changed();
    };
    if (def.type === "long_text") {
      const area = el("textarea", { ...common, rows: 3, oninput: set });
      area.value = value;
      autogrow(area);
      return area;
    }
    if (def.type === "choice") {
      const select = el("select", { ...common, onchange: set },
        el("option", { value: "" }, "— choose —"),
        (def.choices || []).map((c) => el("option", { value: c }, c)));
      select.value = (def.choices || []).includes(value) ? value : "";
      if (select.value !== value) this.vals.set(name, select.value);
      return select;
    }
    const input = el("input", { ...common, type: "text", spellcheck: def.type === "text" ? "true" : "false", oninput: set,
      inputmode: def.type === "number" ? "decimal" : undefined, placeholder: def.type === "number" ? "a number" : "" });
    input.value = value;
    return input;
  }

  row(name) {
    const def = this.defs.get(name);
    const id = `var-${name}`;
    const settingsId = `var-def-${name}`;
    const toggle = el("button", { type: "button", class: "btn btn-ghost btn-xs var-toggle", "aria-expanded": "false", "aria-controls": settingsId,
      "data-testid": `variable-settings-${name}`, title: `Type and default of ${name}` }, TYPE_LABELS[def.type] || def.type, " ▾");
    const settings = this.settings(name, settingsId);
    toggle.addEventListener("click", () => {
      settings.hidden = !settings.hidden;
      toggle.setAttribute("aria-expanded", String(!settings.hidden));
    });
    return el("div", { class: "var-row", dataset: { variable: name } },
      el("div", { class: "var-head" }, el("label", { for: id, class: "var-name mono" }, `{{${name}}}`), toggle),
      this.valueField(name, id), settings);
  }

  settings(name, id) {
    const def = this.defs.get(name);
    const replace = () => {
      const row = this.list.querySelector(`[data-variable="${CSS.escape(name)}"]`);
      const fresh = this.row(name);
      row?.replaceWith(fresh);
      const again = fresh.querySelector(".var-toggle");
      again.setAttribute("aria-expanded", "true");
      fresh.querySelector(".var-def").hidden = false;
      this.changed();
    };
    const type = el("select", { "data-testid": `variable-type-${name}`, "aria-label": `Type of ${name}` },
      VARIABLE_TYPES.map((t) => el("option", { value: t }, TYPE_LABELS[t])));
    type.value = def.type;
    type.addEventListener("change", () => {
      def.type = type.value;
      if (def.type === "choice" && !(def.choices || []).length) def.choices = splitChoices(this.vals.get(name));
      replace();
    });
    const fallback = el("input", { type: "text", value: def.default || "", "data-testid": `variable-default-${name}`, "aria-label": `Default of ${name}` });
    const fallbackError = el("span", { class: "field-error small", role: "status" });
    fallback.addEventListener("change", () => {
      const problem = fallback.value ? valueError(def, fallback.value) : null;
      fallbackError.textContent = problem ? `Default: ${problem}` : "";
      if (problem) return;
      const wasDefault = (this.vals.get(name) ?? "") === (def.default || "");
      def.default = fallback.value;
      if (wasDefault) this.vals.set(name, def.default);
      replace();
    });
    const parts = [
      el("label", { class: "var-def-field" }, el("span", { class: "small muted" }, "Type"), type),
      el("label", { class: "var-def-field" }, el("span", { class: "small muted" }, "Default"), fallback),
    ];
    if (def.type === "choice") {
      const choices = el("input", { type: "text", value: (def.choices || []).join(", "), "data-testid": `variable-choices-${name}`,
        "aria-label": `Choices of ${name}, separated by commas`, placeholder: "formal, casual" });
      choices.addEventListener("change", () => {
        def.choices = splitChoices(choices.value);
        if (def.default && !def.choices.includes(def.default)) def.default = "";
        replace();
      });
      parts.push(el("label", { class: "var-def-field var-def-wide" }, el("span", { class: "small muted" }, "Choices (comma-separated)"), choices));
    }
    return el("div", { class: "var-def", id, hidden: true }, ...parts, fallbackError);
  }
}
