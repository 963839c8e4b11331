// The shared page (/s/<token>/): a stream in progress on the conversation shows up live, through the
// watch-only socket (/ws/watch/) with the link's token; signing in is not needed (panels/live.js).

import { PlaygroundSocket } from "../core/socket.js";
import { el } from "../core/dom.js";
import { STATUS } from "../core/protocol.js";
import { LiveWatch } from "../panels/live.js";
import { enhanceMarkdown } from "../core/markdown.js";

class SharePage {
  constructor(page, mount) {
    this.socket = new PlaygroundSocket("/ws/watch/");
    this.live = new LiveWatch(this.socket, {
      mount,
      share: page.dataset.shareToken,
      onEnd: (state, box) => {
        if (state.status === STATUS.DONE || state.run != null) {
          box.append(el("button", { type: "button", class: "btn btn-sm", "data-testid": "live-reload", style: "margin-top: 8px;",
            onclick: () => location.reload() }, "Show it in the conversation"));
        }
      },
    });
    this.live.watch(Number(page.dataset.conversation));
    this.socket.connect();
  }
}

enhanceMarkdown(document.getElementById("shared-turns") || document);
const root = document.querySelector("[data-share-token][data-conversation]");
const mount = document.getElementById("shared-live");
if (root && mount) new SharePage(root, mount);
