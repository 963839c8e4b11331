// Live watching's subscriptions (README "Live watching"): `watch {conversation}` (plus `share` for a
// share link's holder on /ws/watch/, or `comparison` for a member on a comparison), again after every
// reconnect. The watched frames (tagged `watching: true`) go to onFrame; their folding is the page's
// stream fold (core/stream.js), through WatchedStream (core/live.js).

import { FRAME } from "./protocol.js";

export class Watcher {
  /**
   * @param socket a PlaygroundSocket
   * @param share a share link's token (watchers who are not members), or null
   * @param comparison the comparison whose columns are watched (members), or null
   * @param onFrame (frame) for each watched frame of a watched conversation
   * @param onAccepted (conversation, count) once the server accepted a watch
   */
  constructor(socket, { share = null, comparison = null, onFrame, onAccepted = null }) {
    this.socket = socket;
    this.share = share;
    this.comparison = comparison;
    this.conversations = [];
    this.accepted = new Set();
    socket.on(FRAME.WATCH_OK, (frame) => {
      if (!this.conversations.includes(frame.conversation)) return;
      this.accepted.add(frame.conversation);
      onAccepted?.(frame.conversation, this.accepted.size);
    });
    socket.on("watching", (frame) => {
      if (frame.stream != null && this.conversations.includes(frame.conversation)) onFrame(frame);
    });
    // After a reconnect the server has forgotten the socket's groups: watch again.
    socket.onStatus((state) => { if (state === "open") this.subscribe(this.conversations); });
  }

  /** Watch these conversations (null entries: none), leaving the others. */
  watch(conversations) {
    const next = conversations.map((c) => (typeof c === "number" ? c : null));
    for (const old of this.conversations) {
      if (old !== null && !next.includes(old)) this.socket.send({ type: FRAME.UNWATCH, conversation: old });
    }
    const before = new Set(this.conversations);
    this.conversations = next;
    for (const c of [...this.accepted]) if (!next.includes(c)) this.accepted.delete(c);
    this.subscribe(next.filter((c) => !before.has(c)));
  }

  subscribe(conversations) {
    for (const conversation of conversations) {
      if (conversation === null) continue;
      const frame = { type: FRAME.WATCH, conversation };
      if (this.share) frame.share = this.share;
      else if (this.comparison !== null) frame.comparison = this.comparison;
      this.socket.send(frame);
    }
  }
}
