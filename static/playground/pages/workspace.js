// The workspace page's Spending panel: what the workspace's runs cost per day (UTC) over the last 30
// days, summed by the server (playground/pricing workspace_daily_cost), drawn as bars (panels/chart.js).
// The table under it says the same for screen readers and without script.

import { fmtCost } from "../core/format.js";
import { drawBars, svg } from "../panels/chart.js";

function draw() {
  const data = document.getElementById("spending-data");
  const area = document.querySelector("[data-testid=spending-chart-area]");
  if (!data || !area) return;
  const days = JSON.parse(data.textContent);
  const totals = days.map((d) => d.total);
  const sum = totals.reduce((a, b) => a + b, 0);
  const runs = days.reduce((a, d) => a + d.runs, 0);
  const unpriced = days.reduce((a, d) => a + d.unpriced, 0);
  const busiest = days.reduce((best, d) => (d.total > (best?.total ?? 0) ? d : best), null);
  const words = `Last ${days.length} days: ${fmtCost(sum)} over ${runs} costed run${runs === 1 ? "" : "s"}`
    + (unpriced ? ` (${unpriced} without a cost)` : "")
    + (busiest ? `; most on ${busiest.day} (${fmtCost(busiest.total)})` : "");
  const chart = svg("svg", { class: "chart spending-bars", "data-testid": "spending-chart", role: "img", "aria-label": words });
  drawBars(chart, totals, { minSlots: days.length, titleOf: (value, i) => `${days[i].day}: ${fmtCost(value)} · ${days[i].runs} run${days[i].runs === 1 ? "" : "s"}` });
  const axis = document.createElement("div");
  axis.className = "spending-axis small muted";
  const first = document.createElement("span");
  first.textContent = days[0]?.day ?? "";
  const last = document.createElement("span");
  last.textContent = days.at(-1)?.day ?? "";
  axis.append(first, last);
  area.replaceChildren(chart, axis);
  const total = document.querySelector("[data-testid=spending-total]");
  if (total) total.textContent = runs || unpriced ? `${fmtCost(sum)} in ${days.length} days` : "nothing spent yet";
}

draw();
