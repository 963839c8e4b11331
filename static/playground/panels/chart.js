// Small inline SVG charts (no style attributes: the Content-Security-Policy refuses them): bars (one per
// value; GapChart draws the gaps between deltas, the workspace page what each day cost), the helpers the
// sweep chart (panels/sweepchart.js) draws with, and RampChart, time to first token against concurrency,
// one line per serving path (compare's ramp).

import { drawLater } from "../core/dom.js";

const NS = "http://www.w3.org/2000/svg";

/** An SVG element with these attributes. */
export function svg(tag, attrs = {}) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** An SVG <title> (a tooltip, and what assistive technology reads for the shape). */
export function titled(node, text) {
  const title = svg("title");
  title.textContent = text;
  node.append(title);
  return node;
}

/**
 * Draw one bar per value into `root` (cleared), scaled to the largest; `titleOf(value, i)` names each
 * bar, `minSlots` keeps few bars from growing wide. Returns {max, slot} for lines drawn over them.
 */
export function drawBars(root, values, { width = 600, height = 96, titleOf = null, minSlots = 40, className = "bar", floor = 0 } = {}) {
  root.replaceChildren();
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.setAttribute("preserveAspectRatio", "none");
  // A loop, not Math.max(...values): a long stream has up to 100,000 gaps, past the spread's limits.
  const max = values.reduce((m, v) => (v > m ? v : m), floor) || 1;
  const slot = width / Math.max(values.length, minSlots);
  const barWidth = Math.max(1, slot * 0.75);
  values.forEach((value, i) => {
    const h = value > 0 ? Math.max(1, (value / max) * (height - 6)) : 0;
    const bar = svg("rect", { class: className, x: i * slot, y: height - h, width: barWidth, height: h });
    if (titleOf) titled(bar, titleOf(value, i));
    root.append(bar);
  });
  return { max, slot };
}

export class GapChart {
  constructor() {
    this.root = svg("svg", { class: "chart", "data-testid": "gap-chart", role: "img", "aria-label": "Gap between chunks (ms)" });
    this.caption = document.createElement("div");
    this.caption.className = "small muted";
    this.gaps = [];
    this.schedule = drawLater(() => this.draw());
  }

  reset() {
    this.setGaps([]);
  }

  /** Draw these gaps (ms, never negative: the fold clamps them) on the next animation frame. */
  setGaps(gaps) {
    this.gaps = gaps;
    this.schedule();
  }

  draw() {
    const { root, gaps } = this;
    const width = 600;
    const height = 96;
    if (!gaps.length) {
      drawBars(root, [], { width, height });
      this.caption.textContent = "Gaps between chunks appear here while the reply streams.";
      return;
    }
    const sorted = [...gaps].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
    const { max } = drawBars(root, gaps, { width, height, floor: 1, titleOf: (gap, i) => `chunk ${i + 1} → ${i + 2}: ${gap.toFixed(1)} ms` });
    const medY = height - (median / max) * (height - 6);
    root.append(svg("line", { class: "axis", x1: 0, x2: width, y1: medY, y2: medY, "stroke-dasharray": "4 3" }));
    this.caption.textContent = `${gaps.length} gaps · median ${median.toFixed(1)} ms · p95 ${p95.toFixed(1)} ms · max ${max.toFixed(1)} ms (dashed line: median)`;
  }
}

const SERIES = 6; // colours in stage.css: .series-0 … .series-5

/** Time to first token against concurrency: one line per path, a point per level (levels evenly spaced). */
export class RampChart {
  /** levels: the concurrency levels on the x axis, e.g. [1, 2, 4, 8]. */
  constructor(levels) {
    this.levels = levels;
    this.series = [];
    this.root = svg("svg", { class: "ramp-chart", "data-testid": "ramp-chart", role: "img", "aria-label": "Time to first token (ms) by requests at once, per serving path" });
    this.legend = document.createElement("div");
    this.legend.className = "ramp-legend small";
    this.schedule = drawLater(() => this.draw());
    // Drawn at its own width (one unit a pixel), so that its text keeps its size on a phone.
    this.width = 0;
    new ResizeObserver(() => {
      const width = Math.round(this.root.getBoundingClientRect().width);
      if (width && width !== this.width) this.schedule();
    }).observe(this.root);
  }

  /** series: [{label, points: [{level, ttft_ms}]}]; drawn on the next animation frame. */
  setSeries(series) {
    this.series = series;
    this.schedule();
  }

  draw() {
    const { root, levels, series } = this;
    root.replaceChildren();
    this.width = Math.round(root.getBoundingClientRect().width);
    const width = Math.max(280, this.width || 640);
    const height = 240;
    const pad = { left: 56, right: 16, top: 12, bottom: 34 };
    root.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const values = series.flatMap((s) => s.points.map((p) => p.ttft_ms)).filter((v) => Number.isFinite(v));
    const max = Math.max(100, ...values) * 1.1;
    const x = (level) => pad.left + (levels.indexOf(level) / Math.max(1, levels.length - 1)) * (width - pad.left - pad.right);
    const y = (ms) => height - pad.bottom - (ms / max) * (height - pad.top - pad.bottom);
    for (let k = 0; k <= 4; k += 1) {
      const ms = (max / 4) * k;
      root.append(svg("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: y(ms), y2: y(ms) }));
      const label = svg("text", { class: "tick", x: pad.left - 6, y: y(ms) + 4, "text-anchor": "end" });
      label.textContent = ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
      root.append(label);
    }
    for (const level of levels) {
      const label = svg("text", { class: "tick", x: x(level), y: height - pad.bottom + 16, "text-anchor": "middle" });
      label.textContent = String(level);
      root.append(label);
    }
    const caption = svg("text", { class: "tick", x: (pad.left + width - pad.right) / 2, y: height - 4, "text-anchor": "middle" });
    caption.textContent = "requests at once";
    root.append(caption);
    this.legend.replaceChildren();
    series.forEach((s, index) => {
      const points = s.points.filter((p) => Number.isFinite(p.ttft_ms)).sort((a, b) => levels.indexOf(a.level) - levels.indexOf(b.level));
      const tone = `series-${index % SERIES}`;
      if (points.length > 1) {
        root.append(svg("polyline", { class: `line ${tone}`, points: points.map((p) => `${x(p.level)},${y(p.ttft_ms)}`).join(" ") }));
      }
      for (const p of points) {
        const dot = svg("circle", { class: `dot ${tone}`, cx: x(p.level), cy: y(p.ttft_ms), r: 4, "data-testid": "ramp-point", "data-path": index, "data-level": p.level });
        const title = svg("title", {});
        title.textContent = `${s.label}: ${p.level} at once, TTFT ${Math.round(p.ttft_ms)} ms`;
        dot.append(title);
        root.append(dot);
      }
      const item = document.createElement("span");
      const swatch = document.createElement("span");
      swatch.className = `swatch ${tone}`;
      item.append(swatch, s.label);
      this.legend.append(item);
    });
  }
}
