// The replay page (/runs/<id>/replay/): a saved run's frames played back through the page fold at the
// pace they were recorded (1x, 2x, 4x), token by token with its figures. Nothing is sent to the API.

import { foldFrames } from "../core/live.js";
import { ReplayStream } from "../core/replay.js";
import { ColumnView } from "../panels/column.js";

class ReplayPage {
  constructor(config) {
    const run = config.run;
    this.play = document.getElementById("replay-play");
    this.view = new ColumnView({ label: `Run #${run.id}`, model: run.model, params: null }, 0, { onStop: () => this.replay.stop() });
    this.view.paramsLine.hidden = true;
    this.replay = new ReplayStream(`replay-${run.id}`, run.frames, (state) => {
      this.view.update(state, { replay: this.replay.speed });
      this.play.disabled = this.replay.running;
    });
    document.getElementById("replay-column").append(this.view.root);
    this.view.update(foldFrames(run.frames));
    this.play.addEventListener("click", () => {
      this.replay.start(Number(document.querySelector("[data-speed][aria-checked=true]").dataset.speed));
    });
    for (const button of document.querySelectorAll("[data-speed]")) {
      button.addEventListener("click", () => {
        for (const b of document.querySelectorAll("[data-speed]")) b.setAttribute("aria-checked", String(b === button));
      });
    }
  }
}

new ReplayPage(JSON.parse(document.getElementById("replay-config").textContent));
