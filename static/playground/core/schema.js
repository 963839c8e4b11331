// Does a JSON reply match the schema the request asked for (response_format json_schema, or json_object
// with a schema)? Checked in the page with @cfworker/json-schema (no eval: it works under the CSP), once
// the reply has ended; the one place the playground and the run page say "matches" or "does not match".

import { Validator } from "../../vendor/json-schema/index.js";
import { el } from "./dom.js";

// Errors that only say "a child failed": the child's own error says what is wrong.
const WRAPPERS = new Set(["properties", "items", "prefixItems", "$ref", "allOf", "anyOf", "oneOf", "additionalProperties", "unevaluatedProperties", "dependentSchemas", "if", "then", "else"]);
const SHOWN_ERRORS = 3;

/** The JSON schema a request asked the reply to follow, or null. */
export function schemaOf(request) {
  const format = request && typeof request === "object" ? request.response_format : null;
  if (!format || typeof format !== "object") return null;
  if (format.type === "json_schema" && format.json_schema && typeof format.json_schema.schema === "object") return format.json_schema.schema;
  if (format.type === "json_object" && format.schema && typeof format.schema === "object") return format.schema;
  return null;
}

/** Whether the request asked for a JSON reply (with or without a schema). */
export function expectsJson(request) {
  const type = request?.response_format?.type;
  return type === "json_object" || type === "json_schema";
}

/** Check `text` against the request's JSON format: {ok, title, details: [str]}, or null when none was asked for. */
export function checkReply(request, text) {
  if (!expectsJson(request)) return null;
  const schema = schemaOf(request);
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, title: "Not valid JSON", details: [String(error.message || error)] };
  }
  if (!schema) return { ok: true, title: "Valid JSON (the request gave no schema)", details: [] };
  let result;
  try {
    result = new Validator(schema, "2020-12", false).validate(value);
  } catch (error) {
    return { ok: false, title: "The schema could not be checked", details: [String(error.message || error)] };
  }
  if (result.valid) return { ok: true, title: "Matches the JSON schema", details: [] };
  const leaves = result.errors.filter((e) => !WRAPPERS.has(e.keyword) && e.keyword !== "false");
  const shown = (leaves.length ? leaves : result.errors).map((e) => `${e.instanceLocation.replace(/^#/, "") || "(the whole value)"}: ${e.error}`);
  const extra = result.errors.filter((e) => e.keyword === "additionalProperties").map((e) => `${e.instanceLocation.replace(/^#/, "") || "(the whole value)"}: ${e.error}`);
  const details = [...new Set([...shown, ...extra])];
  return {
    ok: false,
    title: "Does not match the JSON schema",
    details: details.length > SHOWN_ERRORS ? [...details.slice(0, SHOWN_ERRORS), `and ${details.length - SHOWN_ERRORS} more`] : details,
  };
}

/** The line under a reply that says whether it matched; hidden while it streams and when no JSON was asked for. */
export class SchemaCheck {
  static expectsJson = expectsJson;

  constructor() {
    this.root = el("div", { class: "schema-check", hidden: true, "data-testid": "schema-check", role: "status" });
    this.key = null;
  }

  show(request, text, { streaming = false } = {}) {
    const key = streaming ? null : text;
    if (key === this.key && (streaming || this.request === request)) return;
    this.key = key;
    this.request = request;
    const result = streaming ? null : checkReply(request, text);
    this.root.hidden = !result;
    if (!result) return;
    this.root.className = `schema-check ${result.ok ? "ok" : "bad"}`;
    this.root.dataset.result = result.ok ? "match" : "mismatch";
    this.root.replaceChildren(el("strong", {}, `${result.ok ? "✓" : "✗"} ${result.title}`));
    if (result.details.length) this.root.append(el("ul", {}, result.details.map((d) => el("li", {}, d))));
  }
}
