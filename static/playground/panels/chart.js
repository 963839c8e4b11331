// The gap between successive deltas (the fold's gaps_ms), drawn as inline SVG bars (one bar per gap).

import { drawLater } from "../core/dom.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
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
    root.replaceChildren();
    const width = 600;
    const height = 96;
    root.setAttribute("viewBox", `0 0 ${width} ${height}`);
    root.setAttribute("preserveAspectRatio", "none");
    if (!gaps.length) {
      this.caption.textContent = "Gaps between chunks appear here while the reply streams.";
      return;
    }
    const sorted = [...gaps].sort((a, b) => a - b);
    const max = Math.max(sorted[sorted.length - 1], 1);
    const median = sorted[Math.floor(sorted.length / 2)];
    const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
    const slot = width / Math.max(gaps.length, 40);
    const barWidth = Math.max(1, slot * 0.75);
    gaps.forEach((gap, i) => {
      const h = Math.max(1, (gap / max) * (height - 6));
      const bar = svg("rect", { class: "bar", x: i * slot, y: height - h, width: barWidth, height: h });
      const title = svg("title", {});
      title.textContent = `chunk ${i + 1} → ${i + 2}: ${gap.toFixed(1)} ms`;
      bar.append(title);
      root.append(bar);
    });
    const medY = height - (median / max) * (height - 6);
    root.append(svg("line", { class: "axis", x1: 0, x2: width, y1: medY, y2: medY, "stroke-dasharray": "4 3" }));
    this.caption.textContent = `${gaps.length} gaps · median ${median.toFixed(1)} ms · p95 ${p95.toFixed(1)} ms · max ${max.toFixed(1)} ms (dashed line: median)`;
  }
}
