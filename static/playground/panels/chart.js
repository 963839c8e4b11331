// Small inline SVG charts: bars (one per value; GapChart draws the gaps between deltas, the workspace
// page what each day cost) and the helpers the sweep chart (panels/sweepchart.js) draws with.

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
