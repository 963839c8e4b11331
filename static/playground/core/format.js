// How figures and values are written on the page: one place for every view.

export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined || value === "" || Number.isNaN(Number(value))) return "—";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function fmtValue(value) {
  if (value === undefined) return "—";
  if (value === null) return "null (off)";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Tokens per second, with one decimal ("—" when undefined). */
export function fmtTps(value) {
  return value === null || value === undefined || !Number.isFinite(value) ? "—" : fmtNumber(value, 1);
}

/** The last path part of a model id (accounts/x/models/y → y). */
export function shortModel(model) {
  return (model || "").split("/").pop();
}

/** A cost in USD: cents for a dollar and more, three significant digits below ("—" when unknown). */
export function fmtCost(usd) {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return "—";
  if (usd === 0) return "$0";
  if (Math.abs(usd) >= 1) return `$${usd.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  if (Math.abs(usd) < 0.0000001) return "< $0.0000001";
  return `$${Number(usd.toPrecision(3)).toLocaleString("en-US", { maximumFractionDigits: 10 })}`;
}

/** A price in USD per million tokens ("$0.22/M"). */
export function fmtPrice(usdPerMillion) {
  if (usdPerMillion === null || usdPerMillion === undefined || !Number.isFinite(usdPerMillion)) return "—";
  return `$${Number(usdPerMillion.toPrecision(6)).toLocaleString("en-US", { maximumFractionDigits: 6 })}/M`;
}
