// How a stream's cost is shown (the reply's usage line, compare's columns, the run and share pages):
// one element, from metrics(state).cost (core/stream.js costOf: the same formula as the server's).
// While the stream runs and no usage has come yet, it is an estimate and says so.

import { el } from "../core/dom.js";
import { fmtCost, fmtPrice } from "../core/format.js";

/** The words for a cost: "$0.000123" / "≈ $0.000123 (estimate)" / why there is none. */
export function costText(cost, price) {
  if (!cost) return price ? "—" : "no price for this model";
  return cost.estimated ? `≈ ${fmtCost(cost.total)}` : fmtCost(cost.total);
}

/** A price's three parts ("$0.2/M input · $0.1/M cached · $0.2/M output", per million tokens). */
export function priceText(price) {
  if (!price) return "No price is known for this model: set one on the workspace's Pricing page.";
  return `${fmtPrice(price.input)} input · ${fmtPrice(price.cached_input)} cached · ${fmtPrice(price.output)} output`;
}

/**
 * Fill `node` with a stream's cost: the total (with `data-usd`, the exact figure, and `data-estimated`),
 * and, with `detail`, its parts and the price it was costed at; `ended`: the stream is over.
 */
export function drawCost(node, m, price, { detail = false, ended = false } = {}) {
  const cost = m.cost;
  node.dataset.usd = cost ? String(cost.total) : "";
  node.dataset.estimated = cost?.estimated ? "true" : "false";
  node.title = priceText(price);
  const parts = [el("span", { class: "cost-total", "data-testid": "cost-total" }, costText(cost, price))];
  if (cost?.estimated) {
    // A stream that ended without usage keeps its estimate (the server saved no cost for it).
    parts.push(el("span", { class: "cost-note" }, ended ? " estimate: the server reported no usage" : " estimate, until the usage arrives"));
  }
  if (detail && cost && !cost.estimated) {
    parts.push(el("span", { class: "cost-parts" },
      ` = input ${fmtCost(cost.input)} + cached ${fmtCost(cost.cached_input)} + output ${fmtCost(cost.output)}`));
  }
  if (detail && price) parts.push(el("span", { class: "cost-price" }, `priced at ${priceText(price)}`));
  node.replaceChildren(...parts);
  return node;
}
