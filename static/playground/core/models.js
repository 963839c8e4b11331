// Model ids: a short name (the last part of an id, e.g. `llama-v3p1-8b-instruct`) resolves to the full
// id of the one catalogue model it names. One definition for every page with a model field.

/** The full id `value` means, given the catalogue `models` ({id} objects); `value` itself when it names none or several. */
export function resolveModel(value, models) {
  const text = String(value || "").trim();
  if (!text || !Array.isArray(models) || models.length === 0) return text;
  if (models.some((m) => m.id === text)) return text;
  const wanted = text.toLowerCase();
  const matches = models.filter((m) => {
    const id = String(m.id || "").toLowerCase();
    return id.endsWith(`/${wanted}`) || id.split("/").pop() === wanted;
  });
  return matches.length === 1 ? matches[0].id : text;
}

/** The short name of a model id: the part that tells models apart. */
export function shortModel(id) {
  return String(id || "").split("/").pop();
}
