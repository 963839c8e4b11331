// The run page: the saved chunk timeline drawn as a chart (cumulative chunks over time) plus the
// gaps between chunks (the playground's GapChart). Data comes from Run.timeline: [i, t_ms, choice, content, reasoning].

import { GapChart } from "./chart.js";
import { el, fmtMs } from "./dom.js";

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

export function drawTimeline(root, { timeline, timings }) {
  root.classList.add("timeline");
  root.replaceChildren();
  const points = (timeline || []).filter((row) => Array.isArray(row) && typeof row[1] === "number");
  if (!points.length) {
    root.append(el("p", { class: "empty-note" }, "No chunks arrived: nothing to draw."));
    return;
  }
  const width = 900;
  const height = 190;
  const pad = { l: 44, r: 12, t: 10, b: 24 };
  const tMax = Math.max(...points.map((p) => p[1]), timings?.total_ms || 0, 1);
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
  if (typeof timings?.ttft_ms === "number") {
    chart.append(svg("line", { class: "ttft", x1: x(timings.ttft_ms), x2: x(timings.ttft_ms), y1: pad.t, y2: height - pad.b }));
  }
  let d = `M ${x(0)} ${y(0)}`;
  points.forEach((p, k) => { d += ` H ${x(p[1])} V ${y(k + 1)}`; });
  chart.append(svg("path", { class: "step", d }));
  points.forEach((p, k) => {
    const dot = svg("circle", { class: p[4] && !p[3] ? "dot reasoning" : "dot", cx: x(p[1]), cy: y(k + 1), r: n > 300 ? 1.2 : 2.2 });
    const title = svg("title");
    title.textContent = `chunk ${p[0]} · ${p[1].toFixed(1)} ms · choice ${p[2]}: ${JSON.stringify(p[3] || p[4] || "")}`;
    dot.append(title);
    chart.append(dot);
  });
  const gaps = new GapChart();
  gaps.gaps = points.slice(1).map((p, k) => Math.max(0, p[1] - points[k][1]));
  gaps.draw();
  root.append(chart,
    el("div", { class: "timeline-legend" },
      el("span", {}, el("span", { class: "swatch", style: "background:var(--accent)" }), "content chunk"),
      el("span", {}, el("span", { class: "swatch", style: "background:#d9a400" }), "reasoning chunk"),
      el("span", {}, el("span", { class: "swatch", style: "background:var(--ok)" }), `first token at ${fmtMs(timings?.ttft_ms)}`),
      el("span", {}, `${n} chunks · ${fmtMs(tMax)} in all`)),
    el("div", { class: "section-label" }, "Gap between chunks (ms)"), gaps.root, gaps.caption);
}

const data = document.getElementById("run-chart");
if (data) drawTimeline(document.getElementById("timeline-chart"), JSON.parse(data.textContent));
