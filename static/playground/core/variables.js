// `{{ variable }}` placeholders: which names a text uses, and the text with values filled in.
// The page's twin of playground/prompts/template.py: the same rules, checked against the same cases
// (tests/playground/prompts/template_cases.json). The server fills the prompt it sends; the page uses
// this to show the variables form and to say what is missing before anything is sent.
//
// - a placeholder is "{{" + optional spaces or tabs + a name [A-Za-z_][A-Za-z0-9_]* + optional spaces
//   or tabs + "}}"; anything else is plain text;
// - names come in the order of their first appearance, each once;
// - filling is one pass: a value is inserted literally (a value containing {{x}} is never expanded);
// - the texts filled are the system prompt, the text of system and user messages (string content or text
//   parts) and the completions prompt; assistant and tool messages are the model's and the tools' words,
//   sent as they are (a saved reply that mentions {{x}} is never changed when sent back);
// - a value must be a string; a name absent from the values (or null) is missing, and every missing name
//   is reported at once, before anything is filled.

const PLACEHOLDER = /\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}/g;

export class MissingVariables extends Error {
  constructor(names) {
    const plural = names.length !== 1 ? "s" : "";
    super(`Missing value${plural} for variable${plural}: ${names.join(", ")}.`);
    this.name = "MissingVariables";
    this.names = names;
  }
}

export class InvalidValue extends Error {
  constructor(name) {
    super(`The value of variable ${name} must be text.`);
    this.name = "InvalidValue";
    this.variable = name;
  }
}

/** The placeholder names in `text`, in order of first appearance, each once. */
export function variablesIn(text) {
  const seen = new Set();
  for (const match of String(text || "").matchAll(PLACEHOLDER)) seen.add(match[1]);
  return [...seen];
}

const valueOf = (values, name) => (values && Object.hasOwn(values, name) ? values[name] : null);

function check(names, values) {
  const missing = names.filter((n) => valueOf(values, n) == null);
  if (missing.length) throw new MissingVariables(missing);
  for (const name of names) if (typeof valueOf(values, name) !== "string") throw new InvalidValue(name);
}

const fill = (text, values) => String(text || "").replace(PLACEHOLDER, (_, name) => valueOf(values, name));

/** `text` with every placeholder replaced by its value (inserted literally, in one pass). */
export function render(text, values) {
  check(variablesIn(text), values);
  return fill(text, values);
}

// The roles whose messages are templates (the others are the model's and the tools' words).
export const TEMPLATED_ROLES = ["system", "user"];
const templated = (message) => Boolean(message) && typeof message === "object" && TEMPLATED_ROLES.includes(message.role);
const isTextPart = (part) => part && typeof part === "object" && part.type === "text" && typeof part.text === "string";

function* texts(start) {
  if (typeof start.system === "string") yield start.system;
  for (const message of Array.isArray(start.messages) ? start.messages : []) {
    if (!templated(message)) continue;
    const content = message.content;
    if (typeof content === "string") yield content;
    else if (Array.isArray(content)) for (const part of content) if (isTextPart(part)) yield part.text;
  }
  if (typeof start.prompt === "string") yield start.prompt;
}

/** The placeholder names of a chat.start-shaped object (system, then system and user messages, then prompt). */
export function startVariables(start) {
  const names = new Set();
  for (const text of texts(start || {})) for (const name of variablesIn(text)) names.add(name);
  return [...names];
}

function fillMessage(message, values) {
  if (!templated(message)) return message;
  const content = message.content;
  if (typeof content === "string") return { ...message, content: fill(content, values) };
  if (Array.isArray(content)) {
    return { ...message, content: content.map((p) => (isTextPart(p) ? { ...p, text: fill(p.text, values) } : p)) };
  }
  return message;
}

/** A copy of a chat.start-shaped object with its system prompt, system and user messages' text and prompt filled in.
 *  Throws MissingVariables naming every missing value, before filling. */
export function renderStart(start, values) {
  check(startVariables(start), values);
  const out = { ...start };
  if (typeof out.system === "string") out.system = fill(out.system, values);
  if (Array.isArray(out.messages)) out.messages = out.messages.map((m) => fillMessage(m, values));
  if (typeof out.prompt === "string") out.prompt = fill(out.prompt, values);
  return out;
}

// --- Variable definitions: how the playground's form asks for a value, and what a value must be ---------

// text: one line; long_text: a text area; number: a number written in decimal; choice: one of `choices`.
export const VARIABLE_TYPES = ["text", "long_text", "number", "choice"];
const NUMBER = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/** The definition of a variable nobody described yet: one line of text, no default. */
export const defaultDefinition = (name) => ({ name, type: "text", default: "" });

/** Why `value` does not fit the variable's type (null when it does); "" is left to the caller. */
export function valueError(definition, value) {
  const name = definition?.name ?? "?";
  if (typeof value !== "string") return `The value of variable ${name} must be text.`;
  const kind = definition?.type ?? "text";
  if (kind === "number" && value !== "" && !NUMBER.test(value)) return `${name} must be a number (like 3, -0.5 or 1e3).`;
  const choices = definition?.choices || [];
  if (kind === "choice" && value !== "" && !choices.includes(value)) return `${name} must be one of: ${choices.join(", ")}.`;
  return null;
}

