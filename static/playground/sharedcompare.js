// A comparison's shared page (/s/<token>/ of a comparison's link): every column side by side with its
// run's reply, metrics and effective sampling options (unless the link hides the parameters), and
// every column live while its owner runs it again: the watch-only socket (/ws/watch/) with the link's
// token watches each column's conversation (cmpwatch.js). Signing in is not needed.

import { PlaygroundSocket } from "./socket.js";
import { emptyState, finishedState } from "./columns.js";
import { ColumnView } from "./colview.js";
import { ComparisonWatch, WatchedColumn } from "./cmpwatch.js";

const page = document.querySelector("[data-share-token]");
const data = JSON.parse(document.getElementById("shared-comparison").textContent);
const root = document.getElementById("columns");
const n = data.columns.length;
root.style.setProperty("--cols", String(n <= 4 ? n : n % 3 === 0 ? 3 : 4));

const missing = { ...emptyState(), status: "error", error: { code: "missing", message: "This run is no longer available." } };
const views = data.columns.map((c, i) => new ColumnView({ label: c.label, model: c.model, params: data.hide_parameters ? null : c.params }, i, { links: false }));
if (data.hide_parameters) views.forEach((v) => v.showParams(false));
const columns = data.columns.map((c, i) => {
  const column = new WatchedColumn(c.data ? finishedState(c.data) : { ...missing });
  views[i].update(column.state);
  return column;
});
root.append(...views.map((v) => v.root));

const socket = new PlaygroundSocket("/ws/watch/");
const conn = document.getElementById("connection");
socket.onStatus((state) => {
  conn.dataset.state = state;
  conn.querySelector(".conn-text").textContent = state === "open" ? "Live" : state === "connecting" ? "Connecting…" : "Reconnecting…";
});
const note = document.getElementById("live-note");
const watch = new ComparisonWatch(socket, {
  share: page.dataset.shareToken,
  onWatching: (count) => { root.dataset.watching = String(count); },
  onFrame: (index, frame) => {
    const column = columns[index];
    if (!column.handle(frame)) return;
    if (data.hide_parameters) column.state.sampling = null;
    views[index].update(column.state);
    const live = columns.filter((c) => c.running);
    note.hidden = !live.length;
    if (live.length) note.textContent = `Live: ${live[0].state.by || "someone"} is running this comparison`;
  },
});
watch.watch(data.columns.map((c) => (c.data ? c.conversation : null)));
socket.connect();
