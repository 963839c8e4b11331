// The parameters panel, generated from the registry (playground/params.py → registry_json()).
// Every control starts unset; unset values are never sent, so the model's own defaults apply.

import { el, clear, autogrow } from "../core/dom.js";

const SLIDER_MAX_SPAN = 1000; // wider ranges (max_tokens, seed) get a number input only

function describeDefault(p) {
  if (p.default === null || p.default === undefined) return p.kind === "float" || p.kind === "int" ? "off" : "unset";
  return String(p.default);
}

function rangeMessage(p) {
  return `${p.name} must be ${p.range}.`;
}

/** A control whose value is its field's text (a select or a text input); unset when empty. */
function textControl(control, field) {
  Object.assign(control, {
    input: field,
    get: () => (field.value === "" ? undefined : field.value),
    isSet: () => field.value !== "",
    set: (v) => { field.value = v; },
    reset: () => { field.value = ""; },
    validate: () => null,
  });
  return field;
}

export class ParamsPanel {
  /** `count` (optional): the toolbar's badge, filled with the number of set values. */
  constructor(container, registry, { count = null } = {}) {
    this.container = container;
    this.registry = registry;
    this.countBadge = count;
    this.controls = new Map(); // name → {p, root, get(), reset(), errorEl, validate()}
    this.mode = "chat";
    this.build();
  }

  build() {
    clear(this.container);
    const groups = new Map();
    for (const p of this.registry) {
      if (!groups.has(p.group)) groups.set(p.group, []);
      groups.get(p.group).push(p);
    }
    this.groupCounts = new Map();
    // The set values at a glance, above the groups ("temperature 0.7 · max_tokens 200").
    this.summary = el("p", { class: "params-summary", "data-testid": "params-summary", "aria-live": "polite" });
    this.container.append(this.summary);
    for (const [group, params] of groups) {
      const count = el("span", { class: "count" });
      const details = el("details", { class: "param-group", open: group !== "Advanced", dataset: { group } },
        el("summary", {}, group, count));
      for (const p of params) details.append(this.buildControl(p));
      this.groupCounts.set(group, { count, params });
      this.container.append(details);
    }
    this.container.append(this.buildExtra());
    this.refreshCounts();
  }

  buildControl(p) {
    const id = `param-${p.name}`;
    const errorEl = el("div", { class: "param-error", role: "alert", hidden: true });
    const reset = el("button", { type: "button", class: "btn btn-ghost btn-xs reset", title: `Unset ${p.name}`, "data-testid": `reset-${p.name}` }, "reset");
    // Help on demand: a (?) beside the name shows the sentence, rather than every paragraph at once.
    const help = el("p", { class: "param-help", id: `${id}-help`, "data-testid": `help-${p.name}`, hidden: true }, p.help);
    const helpToggle = el("button", { type: "button", class: "btn btn-ghost btn-xs help-toggle", "aria-expanded": "false", "aria-controls": `${id}-help`,
      "aria-label": `About ${p.label || p.name}`, title: `About ${p.name}`, "data-testid": `help-toggle-${p.name}` }, "?");
    helpToggle.addEventListener("click", () => {
      help.hidden = !help.hidden;
      helpToggle.setAttribute("aria-expanded", String(!help.hidden));
    });
    const root = el("div", { class: "param", dataset: { param: p.name, kind: p.kind }, "data-testid": `param-${p.name}` },
      el("div", { class: "param-label" },
        el("label", { for: id, "data-testid": `label-${p.name}` },
          p.label ? el("span", { class: "param-friendly" }, p.label) : null,
          p.label ? el("span", { class: "param-sep", "aria-hidden": "true" }, " · ") : null,
          el("span", { class: "param-api" }, p.name)),
        helpToggle,
        el("span", { class: "range", title: `Allowed: ${p.range}` }, this.rangeBadge(p)),
        reset),
      help);
    const control = { p, root, errorEl };
    const body = this.buildInput(p, id, control);
    root.append(body, errorEl);
    reset.addEventListener("click", () => {
      control.reset();
      this.changed(control);
    });
    this.controls.set(p.name, control);
    return root;
  }

  rangeBadge(p) {
    if (p.kind === "float" || p.kind === "int") {
      if (p.minimum !== null && p.maximum !== null && p.maximum - p.minimum <= SLIDER_MAX_SPAN) return `${p.minimum} – ${p.maximum}`;
      if (p.minimum !== null && p.maximum !== null) return `≥ ${p.minimum}`;
    }
    if (p.kind === "stop") return "≤ 4";
    return "";
  }

  buildInput(p, id, control) {
    const changed = () => this.changed(control);
    if (p.kind === "float" || p.kind === "int") {
      const number = el("input", { type: "number", id, step: p.step ?? "any", min: p.minimum ?? undefined, max: p.maximum ?? undefined,
        placeholder: describeDefault(p), inputmode: p.kind === "int" ? "numeric" : "decimal" });
      const row = el("div", { class: "param-row" }, number);
      let slider = null;
      if (p.minimum !== null && p.maximum !== null && p.maximum - p.minimum <= SLIDER_MAX_SPAN) {
        slider = el("input", { type: "range", min: p.minimum, max: p.maximum, step: p.step ?? "any", tabindex: -1, "aria-label": `${p.name} slider` });
        slider.value = p.default ?? p.minimum;
        row.append(slider);
        slider.addEventListener("input", () => {
          number.value = slider.value;
          changed();
        });
      }
      number.addEventListener("input", () => {
        if (slider && number.value !== "" && Number.isFinite(Number(number.value))) slider.value = number.value;
        changed();
      });
      control.input = number;
      control.get = () => (number.value.trim() === "" ? undefined : Number(number.value));
      control.isSet = () => number.value.trim() !== "";
      control.set = (v) => {
        number.value = v;
        if (slider) slider.value = v;
      };
      control.reset = () => {
        number.value = "";
        if (slider) slider.value = p.default ?? p.minimum;
      };
      control.validate = () => {
        const raw = number.value.trim();
        if (raw === "") return null;
        const v = Number(raw);
        if (!Number.isFinite(v) || number.validity.badInput) return `${p.name} must be a number ${p.range}.`;
        if (p.kind === "int" && !Number.isInteger(v)) return `${p.name} must be a whole number ${p.range}.`;
        if ((p.minimum !== null && v < p.minimum) || (p.maximum !== null && v > p.maximum)) return `${rangeMessage(p)} Got ${raw}.`;
        return null;
      };
      return row;
    }
    if (p.kind === "bool") {
      // A checkbox with a third, "unset" state (indeterminate): unset is not sent.
      const box = el("input", { type: "checkbox", id });
      box.indeterminate = true;
      const state = el("span", {}, `unset (default ${describeDefault(p)})`);
      box.addEventListener("change", () => {
        box.dataset.set = "1";
        state.textContent = box.checked ? "true" : "false";
        changed();
      });
      control.input = box;
      control.get = () => (box.dataset.set ? box.checked : undefined);
      control.isSet = () => Boolean(box.dataset.set);
      control.set = (v) => {
        box.dataset.set = "1";
        box.indeterminate = false;
        box.checked = Boolean(v);
        state.textContent = box.checked ? "true" : "false";
      };
      control.reset = () => {
        delete box.dataset.set;
        box.checked = false;
        box.indeterminate = true;
        state.textContent = `unset (default ${describeDefault(p)})`;
      };
      control.validate = () => null;
      return el("label", { class: "param-check" }, box, state);
    }
    if (p.kind === "choice") {
      const select = el("select", { id },
        el("option", { value: "" }, p.default !== null && p.default !== undefined ? `default (${p.default})` : "unset (model default)"),
        p.choices.map((c) => el("option", { value: c }, c)));
      select.addEventListener("change", changed);
      return textControl(control, select);
    }
    if (p.kind === "string") {
      const input = el("input", { type: "text", id, placeholder: "unset", spellcheck: "false" });
      input.addEventListener("input", changed);
      return textControl(control, input);
    }
    if (p.kind === "stop") return this.buildStop(p, id, control, changed);
    if (p.kind === "logit_bias") {
      const area = el("textarea", { id, rows: 2, placeholder: '{"1234": -100}', spellcheck: "false" });
      area.addEventListener("input", changed);
      control.input = area;
      control.get = () => (area.value.trim() === "" ? undefined : JSON.parse(area.value));
      control.isSet = () => area.value.trim() !== "";
      control.set = (v) => { area.value = typeof v === "string" ? v : JSON.stringify(v); };
      control.reset = () => { area.value = ""; };
      control.validate = () => {
        if (area.value.trim() === "") return null;
        let value;
        try {
          value = JSON.parse(area.value);
        } catch (err) {
          return `logit_bias is not valid JSON: ${err.message}`;
        }
        if (typeof value !== "object" || value === null || Array.isArray(value)) return `logit_bias must be ${p.range}.`;
        for (const [token, bias] of Object.entries(value)) {
          if (!/^\d+$/.test(token)) return `logit_bias keys must be token ids (whole numbers); got "${token}".`;
          if (typeof bias !== "number" || bias < -100 || bias > 100) return `logit_bias values must be between -100 and 100; got ${JSON.stringify(bias)} for ${token}.`;
        }
        return null;
      };
      return area;
    }
    if (p.kind === "response_format") return this.buildResponseFormat(p, id, control, changed);
    const fallback = el("input", { type: "text", id, placeholder: "unset" });
    control.input = fallback;
    control.get = () => (fallback.value === "" ? undefined : fallback.value);
    control.isSet = () => fallback.value !== "";
    control.reset = () => { fallback.value = ""; };
    control.validate = () => null;
    fallback.addEventListener("input", changed);
    return fallback;
  }

  buildStop(p, id, control, changed) {
    const list = el("div", { class: "stop-list" });
    const add = el("button", { type: "button", class: "btn btn-ghost btn-xs", "data-testid": "stop-add" }, "+ add sequence");
    const addItem = (value = "") => {
      const input = el("input", { type: "text", value, placeholder: "e.g. \\n\\nUser:", spellcheck: "false" });
      input.value = value;
      const remove = el("button", { type: "button", class: "btn btn-ghost btn-xs", title: "Remove", "aria-label": "Remove stop sequence" }, "×");
      const item = el("div", { class: "stop-item" }, input, remove);
      input.addEventListener("input", changed);
      remove.addEventListener("click", () => {
        item.remove();
        if (!list.children.length) addItem();
        add.disabled = list.children.length >= 4;
        changed();
      });
      list.append(item);
      add.disabled = list.children.length >= 4;
      return input;
    };
    addItem();
    list.firstChild.querySelector("input").id = id;
    add.addEventListener("click", () => addItem().focus());
    // Escapes typed as text (\n, \t) become the real characters: stop sequences are usually newlines.
    const unescape = (s) => s.replace(/\\n/g, "\n").replace(/\\t/g, "\t");
    const values = () => [...list.querySelectorAll("input")].map((i) => i.value).filter((v) => v !== "").map(unescape);
    control.input = list.querySelector("input");
    control.get = () => (values().length ? values() : undefined);
    control.isSet = () => values().length > 0;
    control.set = (v) => {
      clear(list);
      for (const s of [].concat(v)) addItem(s.replace(/\n/g, "\\n").replace(/\t/g, "\\t"));
    };
    control.reset = () => {
      clear(list);
      addItem();
    };
    control.validate = () => (values().length > 4 ? `stop must be ${p.range}.` : null);
    return el("div", {}, list, add);
  }

  buildResponseFormat(p, id, control, changed) {
    const select = el("select", { id },
      el("option", { value: "" }, "unset (free text)"),
      el("option", { value: "text" }, "text"),
      el("option", { value: "json_object" }, "json_object"),
      el("option", { value: "json_schema" }, "json_schema"));
    const schema = el("textarea", { rows: 5, spellcheck: "false", "data-testid": "json-schema-editor",
      placeholder: '{\n  "type": "object",\n  "properties": {"answer": {"type": "string"}},\n  "required": ["answer"]\n}' });
    const schemaWrap = el("div", { hidden: true, style: "margin-top:6px" }, el("div", { class: "small muted" }, "JSON schema"), schema);
    select.addEventListener("change", () => {
      schemaWrap.hidden = select.value !== "json_schema";
      changed();
    });
    schema.addEventListener("input", changed);
    autogrow(schema);
    control.input = select;
    control.get = () => {
      if (select.value === "") return undefined;
      if (select.value !== "json_schema") return { type: select.value };
      return { type: "json_schema", json_schema: { name: "output", schema: JSON.parse(schema.value) } };
    };
    control.isSet = () => select.value !== "";
    control.set = (v) => {
      select.value = v.type || v;
      schemaWrap.hidden = select.value !== "json_schema";
      if (v.json_schema) schema.value = JSON.stringify(v.json_schema.schema, null, 2);
    };
    control.reset = () => {
      select.value = "";
      schemaWrap.hidden = true;
    };
    // An empty schema the user has not written yet is no error until they send (no red on an untouched field).
    control.validate = ({ submitting = false } = {}) => {
      schema.classList.remove("invalid");
      if (select.value !== "json_schema") return null;
      if (!submitting && schema.value.trim() === "") return null;
      let value;
      try {
        value = JSON.parse(schema.value);
      } catch (err) {
        schema.classList.add("invalid");
        return schema.value.trim() === "" ? "json_schema needs a JSON schema object." : `The JSON schema is not valid JSON: ${err.message}`;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        schema.classList.add("invalid");
        return "The JSON schema must be an object.";
      }
      return null;
    };
    return el("div", {}, select, schemaWrap);
  }

  buildExtra() {
    const area = el("textarea", { id: "param-extra", rows: 3, spellcheck: "false", "data-testid": "extra-body",
      placeholder: '{"prompt_cache_key": "demo"}' });
    const errorEl = el("div", { class: "param-error", role: "alert", hidden: true });
    const root = el("details", { class: "param-group", dataset: { group: "extra" } },
      el("summary", {}, "Extra body (JSON)"),
      el("div", { class: "param" },
        el("p", { class: "param-help" }, "Fields merged into the request body as they are, for anything the controls above do not cover."),
        area, errorEl));
    autogrow(area);
    this.extraArea = area;
    this.extraError = errorEl;
    area.addEventListener("input", () => this.validateExtra());
    return root;
  }

  validateExtra() {
    const text = this.extraArea.value.trim();
    let message = null;
    let value;
    if (text !== "") {
      try {
        value = JSON.parse(text);
        if (typeof value !== "object" || value === null || Array.isArray(value)) message = "Extra body must be a JSON object.";
      } catch (err) {
        message = `Extra body is not valid JSON: ${err.message}`;
      }
    }
    this.extraError.hidden = !message;
    this.extraError.textContent = message || "";
    this.extraArea.classList.toggle("invalid", Boolean(message));
    return { message, value: text === "" || message ? undefined : value };
  }

  changed(control) {
    this.showError(control.p.name, control.validate());
    control.root.classList.toggle("is-set", control.isSet());
    this.refreshCounts();
  }

  refreshCounts() {
    for (const { count, params } of this.groupCounts.values()) {
      const n = params.filter((p) => this.controls.get(p.name).isSet()).length;
      count.textContent = n ? `${n} set` : "";
    }
    this.refreshSummary();
  }

  /** The values Send would send, in the registry's order, at the top of the panel and as the toolbar's count. */
  refreshSummary() {
    const set = [...this.controls.values()].filter((c) => c.isSet() && c.p.modes.includes(this.mode));
    const shown = (c) => {
      let value;
      try {
        value = c.get();
      } catch {
        return "(invalid)"; // JSON still being typed: its error shows under the control
      }
      const text = typeof value === "string" ? value : JSON.stringify(value);
      return text.length > 24 ? `${text.slice(0, 23)}…` : text;
    };
    this.summary.textContent = set.length ? set.map((c) => `${c.p.name} ${shown(c)}`).join(" · ") : "Nothing set: the model's defaults apply.";
    this.summary.classList.toggle("is-empty", !set.length);
    if (this.countBadge) {
      this.countBadge.textContent = set.length ? String(set.length) : "";
      this.countBadge.title = set.length ? `${set.length} set` : "";
    }
  }

  showError(name, message) {
    const control = this.controls.get(name);
    if (!control) {
      if (name === "extra") {
        this.extraError.hidden = !message;
        this.extraError.textContent = message || "";
        this.extraArea.classList.toggle("invalid", Boolean(message));
      }
      return false;
    }
    control.errorEl.hidden = !message;
    control.errorEl.textContent = message || "";
    control.root.classList.toggle("has-error", Boolean(message));
    control.input?.classList?.toggle("invalid", Boolean(message));
    if (message) {
      const group = control.root.closest("details");
      if (group) group.open = true;
    }
    return true;
  }

  /** Highlight the control the server refused, scrolled into view. */
  flagFromServer(name, message) {
    if (!this.showError(name, message)) return false;
    this.controls.get(name).root.scrollIntoView({ block: "center", behavior: "smooth" });
    return true;
  }

  setMode(mode) {
    this.mode = mode;
    for (const { p, root } of this.controls.values()) {
      const off = !p.modes.includes(mode);
      root.classList.toggle("mode-off", off);
      root.title = off ? `${p.name} is only available in ${p.modes.join(", ")} mode` : "";
      for (const input of root.querySelectorAll("input, select, textarea, button")) input.disabled = off;
    }
    this.refreshSummary();
  }

  resetAll() {
    for (const control of this.controls.values()) {
      control.reset();
      this.changed(control);
    }
    this.extraArea.value = "";
    this.validateExtra();
  }

  /** Set the controls to a preset's values; parameters it leaves out are unset. */
  applyValues(params = {}, extra = {}) {
    for (const control of this.controls.values()) {
      const value = params[control.p.name];
      if (value === undefined || value === null) control.reset();
      else control.set(value);
      this.changed(control);
    }
    this.extraArea.value = extra && Object.keys(extra).length ? JSON.stringify(extra, null, 2) : "";
    this.extraArea.dispatchEvent(new Event("input"));
  }

  /** The set values, or the first client-side error (name + message) to show instead of sending. */
  collect() {
    const params = {};
    let first = null;
    for (const control of this.controls.values()) {
      const { p } = control;
      if (!p.modes.includes(this.mode) || !control.isSet()) continue;
      const message = control.validate({ submitting: true });
      this.showError(p.name, message);
      if (message) {
        first = first || { param: p.name, message };
        continue;
      }
      params[p.name] = control.get();
    }
    const extra = this.validateExtra();
    if (extra.message) first = first || { param: "extra", message: extra.message };
    if (first) {
      const control = this.controls.get(first.param);
      (control ? control.root : this.extraArea).scrollIntoView({ block: "center" });
    }
    return { params, extra: extra.value, error: first };
  }
}
