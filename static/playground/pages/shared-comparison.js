// A comparison's shared page (/s/<token>/ of a comparison's link): every column side by side with its
// run's reply, figures and effective sampling options (unless the link hides the parameters), and every
// column live while its owner runs it again: the watch-only socket (/ws/watch/) with the link's token
// watches each column's conversation. Signing in is not needed. The figures are the page fold's.

import { PlaygroundSocket } from "../core/socket.js";
import { WatchedStream, foldFrames } from "../core/live.js";
import { Watcher } from "../core/watch.js";
import { ColumnView, missingRun } from "../panels/column.js";

class SharedComparisonPage {
  constructor(page, data) {
    this.data = data;
    this.root = document.getElementById("columns");
    this.note = document.getElementById("live-note");
    const n = data.columns.length;
    this.root.style.setProperty("--cols", String(n <= 4 ? n : n % 3 === 0 ? 3 : 4));
    this.views = data.columns.map((c, i) => new ColumnView({ label: c.label, model: c.model, params: data.hide_parameters ? null : c.params }, i, { links: false }));
    if (data.hide_parameters) this.views.forEach((v) => v.showParams(false));
    this.columns = data.columns.map((c) => new WatchedStream(c.data ? foldFrames(c.data.frames) : missingRun()));
    this.columns.forEach((column, i) => this.show(i));
    this.root.append(...this.views.map((v) => v.root));

    this.socket = new PlaygroundSocket("/ws/watch/");
    const conn = document.getElementById("connection");
    this.socket.onStatus((state) => {
      conn.dataset.state = state;
      conn.querySelector(".conn-text").textContent = state === "open" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
    });
    this.watcher = new Watcher(this.socket, {
      share: page.dataset.shareToken,
      onAccepted: (conversation, count) => { this.root.dataset.watching = String(count); },
      onFrame: (frame) => this.onFrame(frame),
    });
    this.watcher.watch(data.columns.map((c) => (c.data ? c.conversation : null)));
    this.socket.connect();
  }

  show(index) {
    const state = this.columns[index].state;
    if (this.data.hide_parameters) state.sampling = null;
    this.views[index].update(state, { watched: this.columns[index].stream !== null });
  }

  onFrame(frame) {
    const index = this.watcher.conversations.indexOf(frame.conversation);
    if (index < 0) return;
    this.columns[index].handle(frame);
    this.show(index);
    const live = this.columns.filter((c) => c.running);
    this.note.hidden = !live.length;
    if (live.length) this.note.textContent = `Live: ${live[0].state.by || "someone"} is running this comparison`;
  }
}

new SharedComparisonPage(document.querySelector("[data-share-token]"), JSON.parse(document.getElementById("shared-comparison").textContent));
