// Tool calls end to end: define function tools (JSON-schema parameters checked as you type), choose
// tool_choice, check a call's arguments against its tool's schema, and answer each call with a result.

import { el, clear } from "../core/dom.js";

const TYPES = { string: "string", integer: "number", number: "number", boolean: "boolean", object: "object", array: "object" };

/** Problems with a JSON schema for function parameters (a minimal structural check). */
export function schemaProblems(text) {
  if (text.trim() === "") return [];
  let schema;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    return [`Not valid JSON: ${err.message}`];
  }
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) return ["The parameters must be a JSON object (a schema)."];
  const out = [];
  if (schema.type !== undefined && schema.type !== "object") out.push('The top-level "type" must be "object".');
  if (schema.properties !== undefined && (typeof schema.properties !== "object" || Array.isArray(schema.properties))) out.push('"properties" must be an object.');
  if (schema.required !== undefined && !Array.isArray(schema.required)) out.push('"required" must be a list of property names.');
  for (const name of Array.isArray(schema.required) ? schema.required : []) {
    if (!schema.properties || !(name in schema.properties)) out.push(`"${name}" is required but not among the properties.`);
  }
  return out;
}

/** Problems with a call's arguments under its tool's schema: JSON, required keys, property types. */
export function argumentProblems(schema, text) {
  let args;
  try {
    args = JSON.parse(text || "{}");
  } catch (err) {
    return [`The arguments are not valid JSON: ${err.message}`];
  }
  if (!args || typeof args !== "object" || Array.isArray(args)) return ["The arguments are not a JSON object."];
  if (!schema || typeof schema !== "object") return [];
  const out = [];
  for (const name of schema.required || []) if (!(name in args)) out.push(`missing required "${name}"`);
  for (const [name, value] of Object.entries(args)) {
    const spec = (schema.properties || {})[name];
    if (!spec) {
      if (schema.additionalProperties === false) out.push(`"${name}" is not in the schema`);
      continue;
    }
    const want = TYPES[spec.type];
    const got = Array.isArray(value) ? "object" : value === null ? "null" : typeof value;
    if (want && got !== want) out.push(`"${name}" should be ${spec.type}, got ${Array.isArray(value) ? "array" : got}`);
    else if (spec.type === "integer" && !Number.isInteger(value)) out.push(`"${name}" should be an integer`);
    else if (spec.type === "array" && !Array.isArray(value)) out.push(`"${name}" should be an array`);
    if (Array.isArray(spec.enum) && !spec.enum.includes(value)) out.push(`"${name}" is not one of ${spec.enum.join(", ")}`);
  }
  return out;
}

const EXAMPLE = '{\n  "type": "object",\n  "properties": {\n    "city": { "type": "string" }\n  },\n  "required": ["city"]\n}';

/** The Tools editor in the prompt column: the tools, tool_choice, and what they add to a request. */
export class ToolsPanel {
  constructor(anchor) {
    this.tools = [];
    this.list = el("div", { class: "tools-list", "data-testid": "tools-list" });
    this.choice = el("select", { "data-testid": "tool-choice", "aria-label": "tool_choice" });
    this.root = el("details", { class: "panel tools-panel", "data-testid": "tools-panel" },
      el("summary", { class: "panel-head" }, el("h2", {}, "Tools"), el("span", { class: "small muted", "data-testid": "tools-count" }, "none defined")),
      el("p", { class: "small muted" }, "Function tools the model may call. When it calls one, paste the tool's result under the reply to continue."),
      this.list,
      el("div", { class: "param-row tools-foot" },
        el("button", { type: "button", class: "btn btn-sm", "data-testid": "add-tool", onclick: () => this.add() }, "+ Add tool"),
        el("label", { class: "small" }, "tool_choice ", this.choice)));
    anchor.append(this.root);
    this.drawChoice();
  }

  add(tool = { name: "", description: "", parameters: EXAMPLE }) {
    this.tools.push({ ...tool });
    this.root.open = true;
    this.draw();
  }

  /** Put tools and tool_choice back from a request's fields (a preset or a saved conversation). */
  load(extra) {
    this.tools = (extra?.tools || []).filter((t) => t.function).map((t) => ({
      name: t.function.name || "", description: t.function.description || "",
      parameters: JSON.stringify(t.function.parameters || {}, null, 2),
    }));
    this.draw();
    const choice = extra?.tool_choice;
    this.choice.value = typeof choice === "object" && choice ? `fn:${choice.function?.name}` : choice || "auto";
    if (!this.choice.value) this.choice.value = "auto";
  }

  /** Take tools and tool_choice out of a request's extra fields into the panel; the rest is returned. */
  take(extra) {
    const { tools, tool_choice: choice, ...rest } = extra && typeof extra === "object" ? extra : {};
    this.load({ tools, tool_choice: choice });
    if (this.tools.length) this.root.open = true;
    return rest;
  }

  /** The panel as it is on screen (half-typed schemas included), for a draft. */
  snapshot() {
    return { tools: this.tools.map((t) => ({ ...t })), choice: this.choice.value };
  }

  restore(snapshot) {
    if (!snapshot || !Array.isArray(snapshot.tools)) return;
    this.tools = snapshot.tools.map((t) => ({ name: t.name || "", description: t.description || "", parameters: t.parameters || "" }));
    this.draw();
    if ([...this.choice.options].some((o) => o.value === snapshot.choice)) this.choice.value = snapshot.choice;
    if (this.tools.length) this.root.open = true;
  }

  draw() {
    clear(this.list);
    this.tools.forEach((tool, index) => {
      const name = el("input", { value: tool.name, placeholder: "function_name", "data-testid": "tool-name", "aria-label": "Tool name", spellcheck: "false" });
      const description = el("input", { value: tool.description, placeholder: "What it does (the model reads this)", "data-testid": "tool-description", "aria-label": "Tool description" });
      const params = el("textarea", { rows: 6, spellcheck: "false", class: "mono", "data-testid": "tool-parameters", "aria-label": "Tool parameters (JSON schema)" });
      params.value = tool.parameters;
      const problems = el("div", { class: "small field-error", "data-testid": "tool-schema-error", role: "status" });
      const check = () => {
        const found = [...schemaProblems(params.value), ...(/^[A-Za-z0-9_-]{1,64}$/.test(name.value) ? [] : ["The name must be 1–64 letters, digits, _ or -."])];
        problems.textContent = found.join(" ");
        params.classList.toggle("invalid", schemaProblems(params.value).length > 0);
        name.classList.toggle("invalid", !/^[A-Za-z0-9_-]{1,64}$/.test(name.value));
      };
      name.addEventListener("input", () => { tool.name = name.value; check(); this.drawChoice(); });
      description.addEventListener("input", () => { tool.description = description.value; });
      params.addEventListener("input", () => { tool.parameters = params.value; check(); });
      check();
      this.list.append(el("div", { class: "tool-def", "data-testid": "tool-def" },
        el("div", { class: "param-row" }, name,
          el("button", { type: "button", class: "btn btn-ghost btn-xs", title: "Remove tool", "aria-label": "Remove tool", onclick: () => { this.tools.splice(index, 1); this.draw(); } }, "✕")),
        description, params, problems));
    });
    this.root.querySelector("[data-testid=tools-count]").textContent = this.tools.length ? `${this.tools.length} defined` : "none defined";
    this.drawChoice();
  }

  drawChoice() {
    const before = this.choice.value || "auto";
    clear(this.choice);
    for (const value of ["auto", "none", "required"]) this.choice.append(el("option", { value }, value));
    for (const tool of this.tools) if (tool.name) this.choice.append(el("option", { value: `fn:${tool.name}` }, `function: ${tool.name}`));
    this.choice.value = [...this.choice.options].some((o) => o.value === before) ? before : "auto";
  }

  /** The schema of a defined tool, by name (null when unknown or invalid). */
  schema(name) {
    const tool = this.tools.find((t) => t.name === name);
    try {
      return tool ? JSON.parse(tool.parameters || "{}") : null;
    } catch {
      return null;
    }
  }

  /** {extra} to add to a request, or {error} naming the tool to fix; {} without tools. */
  collect() {
    if (!this.tools.length) return {};
    const tools = [];
    for (const tool of this.tools) {
      const problems = [...schemaProblems(tool.parameters), ...(/^[A-Za-z0-9_-]{1,64}$/.test(tool.name) ? [] : ["a name is needed"])];
      if (problems.length) return { error: `Tool ${tool.name || "(unnamed)"}: ${problems.join(" ")}` };
      const fn = { name: tool.name, parameters: tool.parameters.trim() ? JSON.parse(tool.parameters) : { type: "object", properties: {} } };
      if (tool.description.trim()) fn.description = tool.description;
      tools.push({ type: "function", function: fn });
    }
    const value = this.choice.value;
    const choice = value.startsWith("fn:") ? { type: "function", function: { name: value.slice(3) } } : value;
    return { extra: { tools, tool_choice: choice } };
  }
}

/**
 * Under a reply that called tools: each call with its arguments checked against its schema, a box
 * for its result, and "Send results" (assistant turn with tool_calls, then one tool turn per call).
 */
export class ToolResults {
  constructor(anchor, { schema, onSend }) {
    this.schema = schema;
    this.onSend = onSend;
    this.root = el("div", { class: "tool-results", "data-testid": "tool-results", hidden: true });
    anchor.after(this.root);
  }

  clear() {
    clear(this.root);
    this.root.hidden = true;
  }

  show(calls) {
    this.clear();
    if (!calls.length) return;
    const boxes = calls.map((call) => {
      const problems = argumentProblems(this.schema(call.function.name), call.function.arguments);
      const known = this.schema(call.function.name) !== null;
      const box = el("textarea", { rows: 3, "data-testid": "tool-result-input", placeholder: `What ${call.function.name} returned (text or JSON)…`, "aria-label": `Result of ${call.function.name}` });
      this.root.append(el("div", { class: "tool-result", "data-testid": "tool-result" },
        el("div", { class: "small" }, el("b", {}, call.function.name), ` · ${call.id} · `,
          el("span", { class: problems.length ? "bad" : "good", "data-testid": "tool-args-check" },
            !known ? "no schema to check against" : problems.length ? `arguments do not fit the schema: ${problems.join("; ")}` : "arguments fit the schema ✓")),
        box));
      return box;
    });
    const button = el("button", { type: "button", class: "btn btn-primary btn-sm", "data-testid": "send-tool-results", onclick: () => {
      const empty = boxes.find((b) => b.value.trim() === "");
      if (empty) {
        empty.classList.add("invalid");
        empty.focus();
        return;
      }
      const results = calls.map((call, i) => ({ call, content: boxes[i].value }));
      this.clear();
      this.onSend(results);
    } }, calls.length > 1 ? "Send results" : "Send result");
    this.root.append(el("div", { class: "param-row" }, button, el("span", { class: "small muted" }, "Continues the conversation: the call, then each result as a tool message.")));
    this.root.hidden = false;
  }
}
