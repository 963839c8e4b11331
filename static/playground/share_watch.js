// The shared page (/s/<token>/): a stream in progress on the conversation shows up live, through the
// watch-only socket (/ws/watch/) with the link's token; signing in is not needed (watch.js).

import { PlaygroundSocket } from "./socket.js";
import { LiveWatch } from "./watch.js";
import { el } from "./dom.js";

const page = document.querySelector("[data-share-token][data-conversation]");
const mount = document.getElementById("shared-live");
if (page && mount) {
  const socket = new PlaygroundSocket("/ws/watch/");
  const live = new LiveWatch(socket, {
    mount,
    share: page.dataset.shareToken,
    onEnd: (frame, box) => {
      if (frame.type === "chat.done" || frame.run != null) {
        box.append(el("button", { type: "button", class: "btn btn-sm", "data-testid": "live-reload", style: "margin-top: 8px;",
          onclick: () => location.reload() }, "Show it in the conversation"));
      }
    },
  });
  live.watch(Number(page.dataset.conversation));
  socket.connect();
}
