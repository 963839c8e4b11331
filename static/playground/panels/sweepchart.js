// A sweep's figures plotted against the swept parameter's value (compare's Sweep): one small chart per
// figure (time to first token, tokens per second, reply length, cost, and any series the page adds when it
// makes the chart, e.g. the scorers' pass rate when a test set is attached), each sample a point,
// the spread per value a band (min to max), the median joined by a line. A series is drawn only when
// some sample has a value. Each chart has a table of the same numbers (for screen readers, and to read
// exact values), and the figures come from the page's one fold (core/stream.js metrics).

import { el, clear, drawLater } from "../core/dom.js";
import { fmtCost, fmtMs, fmtNumber, fmtTps } from "../core/format.js";
import { STATUS } from "../core/protocol.js";
import { metrics } from "../core/stream.js";
import { svg, titled } from "./chart.js";

/**
 * The figures a sweep plots, in order. `value(state, m, spec)` is a sample's figure (null: none);
 * `format` writes one. Finished samples only (done or stopped): a running stream's figures still move.
 */
const BUILT_IN = Object.freeze([
  { key: "ttft_ms", label: "Time to first token", unit: "ms", format: fmtMs, value: (state, m) => m.ttft_ms },
  { key: "tokens_per_second", label: "Tokens per second", unit: "tokens/s", format: fmtTps, value: (state, m) => m.tokens_per_second },
  { key: "reply_tokens", label: "Reply length", unit: "tokens", format: (v) => fmtNumber(v), value: (state, m) => m.tokens },
  { key: "cost", label: "Cost", unit: "USD", format: fmtCost, value: (state, m) => (m.cost && !m.cost.estimated ? m.cost.total : null) },
]);

/**
 * A chart's series: the built-in figures and the page's own (e.g. an eval's scorers), each `{key, label,
 * unit, format(v), value(state, m, spec), domain?, first?}`, such as the pass rate of a test set's scorers
 * over a sample's rows, from 0 to 1. `domain: [lo, hi]` is always shown on the y axis (a rate: [0, 1]);
 * `first: true` draws it before the built-in figures (else after them). Drawn only where some sample has
 * a value. Each chart keeps its own list: nothing is shared between charts or pages.
 */
function seriesWith(extra) {
  const full = extra.map((series) => {
    if (!series || typeof series.key !== "string" || typeof series.value !== "function") throw new Error("A sweep series needs a key and a value(state, m, spec) function.");
    return { unit: "", format: (v) => fmtNumber(v, 2), label: series.key, ...series };
  });
  return [...full.filter((x) => x.first), ...BUILT_IN, ...full.filter((x) => !x.first)];
}

const W = 320;
const H = 168;
const PAD = { r: 12, t: 10, b: 30 };

function quantiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => {
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
  };
  return { min: sorted[0], max: sorted[sorted.length - 1], median: at(0.5) };
}

/** Round tick values for an axis from lo to hi. */
function ticks(lo, hi, count = 4) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= step0) || step0;
  // From the last round value at or below lo to the first at or above hi: the data sits inside.
  const out = [];
  const first = Math.floor(lo / step + 1e-9) * step;
  for (let v = first; out.length < 12; v += step) {
    out.push(Number(v.toPrecision(12)));
    if (v >= hi - step * 1e-9) break;
  }
  return out;
}

export class SweepChart {
  /** `series`: the page's own figures beside the built-in ones (see seriesWith). */
  constructor({ series = [] } = {}) {
    this.series = seriesWith(series);
    this.note = el("p", { class: "small muted", "data-testid": "sweep-chart-note" });
    this.grid = el("div", { class: "sweep-charts", "data-testid": "sweep-charts" });
    this.root = el("section", { class: "panel sweep-chart-panel", "data-testid": "sweep-chart", hidden: true, "aria-labelledby": "sweep-chart-title" },
      el("div", { class: "panel-head" }, el("h2", { id: "sweep-chart-title" }, "Sweep chart")), this.note, this.grid);
    this.draw = drawLater(() => this.render());
    this.input = null;
  }

  hide() {
    this.input = null;
    this.root.hidden = true;
  }

  /** param: the swept parameter's name; samples: [{value, state, spec, label, m?}] (one per column).
   * A sample may bring its figures as `m` (the shape of core/stream.js metrics) when they were folded
   * elsewhere (an eval's sample: the server's per-sample summary); `note` says what a point is. */
  update(param, samples, note = "") {
    this.input = { param, samples, note };
    this.draw();
  }

  render() {
    if (!this.input) return;
    const { param, samples, note } = this.input;
    const values = [...new Set(samples.map((s) => s.value))].sort((a, b) => a - b);
    const finished = samples.filter((s) => s.state.status === STATUS.DONE || s.state.status === STATUS.STOPPED);
    this.root.hidden = false;
    const perValue = values.length ? Math.round(samples.length / values.length) : 0;
    this.note.textContent = `${param} against each figure · ${values.length} value${values.length === 1 ? "" : "s"} × ${perValue} sample${perValue === 1 ? "" : "s"}`
      + (finished.length < samples.length ? ` · ${finished.length} of ${samples.length} finished` : "")
      + " · points: samples, band: min–max, line: median" + (note ? ` · ${note}` : "");
    const figures = finished.map((s) => ({ ...s, m: s.m || metrics(s.state) }));
    const charts = [];
    for (const series of this.series) {
      const points = figures.map((s) => ({ x: s.value, y: series.value(s.state, s.m, s.spec), label: s.label }))
        .filter((p) => typeof p.y === "number" && Number.isFinite(p.y));
      if (!points.length) continue; // a series is shown only when some sample has it
      charts.push(this.chart(series, param, values, points));
    }
    if (!charts.length) charts.push(el("p", { class: "empty-note" }, finished.length ? "No figure to plot yet." : "The chart fills in as the columns finish."));
    clear(this.grid).append(...charts);
  }

  chart(series, param, values, points) {
    const ys = points.map((p) => p.y);
    const [shownLo, shownHi] = series.domain || [0, -Infinity];
    let lo = Math.min(0, shownLo, ...ys);
    let hi = Math.max(shownHi, ...ys);
    if (hi === lo) hi = lo + (hi === 0 ? 1 : Math.abs(hi) * 0.1);
    const yTicks = ticks(lo, hi);
    lo = Math.min(lo, yTicks[0]);
    hi = Math.max(hi, yTicks[yTicks.length - 1]);
    const tickText = (t) => series.format(t).replace(/ (ms|s)$/, "$1");
    // Room on the left for the longest tick label (10 px text: about 6 px a character).
    const left = Math.max(30, 8 + 6 * Math.max(...yTicks.map((t) => tickText(t).length)));
    const pad = { ...PAD, l: left };
    const plotW = W - pad.l - pad.r;
    const plotH = H - pad.t - pad.b;
    const slot = plotW / Math.max(values.length, 1);
    const xOf = (value) => pad.l + slot * (values.indexOf(value) + 0.5);
    const yOf = (y) => pad.t + plotH - ((y - lo) / (hi - lo)) * plotH;
    const byValue = values.map((value) => ({ value, ys: points.filter((p) => p.x === value).map((p) => p.y) })).filter((g) => g.ys.length);
    const stats = byValue.map((g) => ({ ...g, ...quantiles(g.ys) }));
    const summary = stats.map((g) => `${param}=${g.value}: ${g.ys.map(series.format).join(", ")}`).join("; ");
    const chart = svg("svg", { class: "sweep-svg", viewBox: `0 0 ${W} ${H}`, role: "img", "data-testid": `sweep-svg-${series.key}`,
      "aria-label": `${series.label} (${series.unit}) against ${param}: ${summary}` });
    for (const t of yTicks) {
      chart.append(svg("line", { class: "grid", x1: pad.l, x2: W - pad.r, y1: yOf(t), y2: yOf(t) }));
      const label = svg("text", { class: "tick", x: pad.l - 6, y: yOf(t) + 3, "text-anchor": "end" });
      label.textContent = tickText(t);
      chart.append(label);
    }
    chart.append(svg("line", { class: "axis", x1: pad.l, x2: W - pad.r, y1: pad.t + plotH, y2: pad.t + plotH }));
    values.forEach((value) => {
      const label = svg("text", { class: "tick", x: xOf(value), y: H - pad.b + 14, "text-anchor": "middle" });
      label.textContent = String(value);
      chart.append(label);
    });
    const axisName = svg("text", { class: "axis-name", x: pad.l + plotW / 2, y: H - 3, "text-anchor": "middle" });
    axisName.textContent = param;
    chart.append(axisName);
    const band = Math.min(22, slot * 0.5);
    for (const g of stats) {
      const top = yOf(g.max);
      chart.append(titled(svg("rect", { class: "spread", x: xOf(g.value) - band / 2, y: top, width: band, height: Math.max(1.5, yOf(g.min) - top), "data-testid": "sweep-spread" }),
        `${param}=${g.value}: ${series.format(g.min)} to ${series.format(g.max)} (median ${series.format(g.median)})`));
    }
    if (stats.length > 1) {
      chart.append(svg("polyline", { class: "median", points: stats.map((g) => `${xOf(g.value)},${yOf(g.median)}`).join(" ") }));
    }
    for (const g of byValue) {
      g.ys.forEach((y, i) => {
        // Samples of one value side by side, so equal figures stay countable.
        const dx = g.ys.length > 1 ? ((i / (g.ys.length - 1)) - 0.5) * band * 0.6 : 0;
        const label = points.filter((p) => p.x === g.value)[i]?.label || `${param}=${g.value}`;
        chart.append(titled(svg("circle", { class: "point", cx: xOf(g.value) + dx, cy: yOf(y), r: 3.5, "data-testid": "sweep-point", "data-value": String(g.value), "data-y": String(y) }),
          `${label}: ${series.format(y)}`));
      });
    }
    const table = el("table", { class: "kv sweep-table", "data-testid": `sweep-table-${series.key}` },
      el("caption", { class: "visually-hidden" }, `${series.label} per ${param} value`),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, param), el("th", { scope: "col" }, "Samples"),
        el("th", { scope: "col", class: "num" }, "Min"), el("th", { scope: "col", class: "num" }, "Median"), el("th", { scope: "col", class: "num" }, "Max"))),
      el("tbody", {}, ...stats.map((g) => el("tr", {}, el("th", { scope: "row" }, String(g.value)), el("td", {}, g.ys.map(series.format).join(", ")),
        el("td", { class: "num" }, series.format(g.min)), el("td", { class: "num" }, series.format(g.median)), el("td", { class: "num" }, series.format(g.max))))));
    return el("figure", { class: "sweep-fig", "data-testid": "sweep-figure", dataset: { series: series.key } },
      el("figcaption", {}, el("strong", {}, series.label), el("span", { class: "small muted" }, ` ${series.unit}`)),
      chart,
      el("details", { class: "sweep-details" }, el("summary", { class: "small" }, "As a table"), el("div", { class: "cmp-table-scroll" }, table)));
  }
}
