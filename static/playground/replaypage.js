// The replay page (/runs/<id>/replay/): a saved run played back at the pace it was recorded (1x, 2x, 4x),
// token by token with its metrics, from its chunk timeline. Nothing is sent to the API.

import { ReplayStream, finishedState } from "./columns.js";
import { ColumnView } from "./colview.js";

const config = JSON.parse(document.getElementById("replay-config").textContent);
const run = config.run;
const view = new ColumnView({ label: `Run #${run.id}`, model: run.model, params: null }, 0, { onStop: () => stream.stop() });
view.paramsLine.hidden = true;
const stream = new ReplayStream(run, (state) => {
  view.update(state);
  document.getElementById("replay-play").disabled = stream.running;
});
document.getElementById("replay-column").append(view.root);
view.update(finishedState(run));

document.getElementById("replay-play").addEventListener("click", () => {
  stream.start(Number(document.querySelector("[data-speed][aria-checked=true]").dataset.speed));
});
for (const button of document.querySelectorAll("[data-speed]")) {
  button.addEventListener("click", () => {
    for (const b of document.querySelectorAll("[data-speed]")) b.setAttribute("aria-checked", String(b === button));
  });
}
