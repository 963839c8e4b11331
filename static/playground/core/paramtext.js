// A column's parameter set as short text ("temperature=0.7 max_tokens=200"), checked against the registry
// (the same ranges the server enforces; the server checks again and its refusal names the parameter).

export function formatParams(params) {
  return Object.entries(params || {}).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
}

export function checkValue(p, raw) {
  if (p.kind === "float" || p.kind === "int") {
    const v = Number(raw);
    if (raw === "" || !Number.isFinite(v)) return { error: `${p.name} must be a number ${p.range}.` };
    if (p.kind === "int" && !Number.isInteger(v)) return { error: `${p.name} must be a whole number ${p.range}.` };
    if ((p.minimum !== null && v < p.minimum) || (p.maximum !== null && v > p.maximum)) return { error: `${p.name} must be ${p.range}; got ${raw}.` };
    return { value: v };
  }
  if (p.kind === "bool") {
    if (raw !== "true" && raw !== "false") return { error: `${p.name} must be true or false.` };
    return { value: raw === "true" };
  }
  if (p.kind === "choice") {
    if (!p.choices.includes(raw)) return { error: `${p.name} must be ${p.range}.` };
    return { value: raw };
  }
  try {
    return { value: JSON.parse(raw) };
  } catch {
    return { value: raw };
  }
}

/** Parse "name=value …" into {params, error}; names and values must be in the registry's chat ranges. */
export function parseParams(text, registry) {
  const byName = new Map(registry.filter((p) => (p.modes || ["chat"]).includes("chat")).map((p) => [p.name, p]));
  const params = {};
  for (const token of (text || "").split(/[\s,;]+/).filter(Boolean)) {
    const at = token.indexOf("=");
    if (at < 1) return { params, error: `Write parameters as name=value (got “${token}”).` };
    const name = token.slice(0, at);
    const p = byName.get(name);
    if (!p) return { params, error: `Unknown parameter “${name}”.` };
    const { value, error } = checkValue(p, token.slice(at + 1));
    if (error) return { params, error };
    params[name] = value;
  }
  return { params, error: null };
}

/** The numeric parameters a sweep can take (compare's Sweep, an eval's "Sweep a parameter"). */
export function sweepable(registry) {
  return registry.filter((p) => (p.kind === "float" || p.kind === "int") && (p.modes || ["chat"]).includes("chat"));
}

/** A sweep's values ("0, 0.5 1"): {values, error}, each checked against the parameter's range. */
export function parseSweepValues(p, text) {
  const raw = (text || "").split(/[\s,;]+/).filter(Boolean);
  if (!raw.length) return { values: [], error: "Give the values to sweep, e.g. 0, 0.5, 1." };
  const values = [];
  for (const r of raw) {
    const { value, error } = checkValue(p, r);
    if (error) return { values, error };
    values.push(value);
  }
  return { values, error: null };
}
