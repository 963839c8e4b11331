// The delta timeline of a stream (the run page): cumulative deltas over time, one dot per delta, then
// the gaps between deltas (GapChart). Drawn from the page fold's state (state.timeline, metrics()).

import { el } from "../core/dom.js";
import { fmtMs } from "../core/format.js";
import { metrics } from "../core/stream.js";
import { GapChart } from "./chart.js";

const NS = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}) => {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};

function niceStep(max, ticks) {
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || power * 10;
}

export function drawTimeline(root, state) {
  root.classList.add("timeline");
  root.replaceChildren();
  const points = state.timeline;
  if (!points.length) {
    root.append(el("p", { class: "empty-note" }, "No chunks arrived: nothing to draw."));
    return;
  }
  const m = metrics(state);
  const width = 900;
  const height = 190;
  const pad = { l: 44, r: 12, t: 10, b: 24 };
  const tMax = Math.max(state.lastT ?? 0, m.total_ms ?? 0, 1);
  const n = points.length;
  const x = (t) => pad.l + (t / tMax) * (width - pad.l - pad.r);
  const y = (k) => height - pad.b - (k / n) * (height - pad.t - pad.b);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img",
    "aria-label": `${n} chunks over ${fmtMs(tMax)}`, "data-testid": "timeline-svg" });
  const grid = svg("g", { class: "grid" });
  const tStep = niceStep(tMax, 6);
  for (let t = 0; t <= tMax; t += tStep) {
    grid.append(svg("line", { x1: x(t), x2: x(t), y1: pad.t, y2: height - pad.b }));
    const label = svg("text", { class: "axis-label", x: x(t), y: height - 8, "text-anchor": "middle" });
    label.textContent = fmtMs(t);
    grid.append(label);
  }
  const kStep = niceStep(n, 4);
  for (let k = 0; k <= n; k += kStep) {
    grid.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: y(k), y2: y(k) }));
    const label = svg("text", { class: "axis-label", x: pad.l - 6, y: y(k) + 3, "text-anchor": "end" });
    label.textContent = String(k);
    grid.append(label);
  }
  chart.append(grid);
  if (m.ttft_ms !== null) {
    chart.append(svg("line", { class: "ttft", x1: x(m.ttft_ms), x2: x(m.ttft_ms), y1: pad.t, y2: height - pad.b }));
  }
  let d = `M ${x(0)} ${y(0)}`;
  points.forEach((p, k) => { d += ` H ${x(p.t)} V ${y(k + 1)}`; });
  chart.append(svg("path", { class: "step", d }));
  points.forEach((p, k) => {
    const dot = svg("circle", { class: p.kind === "reasoning" ? "dot reasoning" : "dot", cx: x(p.t), cy: y(k + 1), r: n > 300 ? 1.2 : 2.2 });
    const title = svg("title");
    title.textContent = `chunk ${p.i} · ${p.t.toFixed(1)} ms · choice ${p.choice}: ${JSON.stringify(p.text)}`;
    dot.append(title);
    chart.append(dot);
  });
  const gaps = new GapChart();
  gaps.setGaps(m.gaps_ms);
  gaps.draw();
  root.append(chart,
    el("div", { class: "timeline-legend" },
      el("span", {}, el("span", { class: "swatch", style: "background:var(--accent)" }), "content chunk"),
      el("span", {}, el("span", { class: "swatch", style: "background:#d9a400" }), "reasoning chunk"),
      el("span", {}, el("span", { class: "swatch", style: "background:var(--ok)" }), `first token at ${fmtMs(m.ttft_ms)}`),
      el("span", {}, `${n} chunks · ${fmtMs(tMax)} in all`)),
    el("div", { class: "section-label" }, "Gap between chunks (ms)"), gaps.root, gaps.caption);
}
