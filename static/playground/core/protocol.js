// The websocket protocol's names as the page uses them (the server declares them in proxy/).

/** Frame types. */
export const FRAME = Object.freeze({
  START: "chat.start",
  STOP: "chat.stop",
  ATTACH: "chat.attach",
  ATTACHED: "chat.attached",
  STARTED: "chat.started",
  OPENED: "chat.opened",
  DELTA: "chat.delta",
  DELTAS: "chat.deltas",
  RAW: "chat.raw",
  RETHINK: "chat.rethink",
  ECHO: "chat.echo",
  FINISH: "chat.finish",
  USAGE: "chat.usage",
  PERF: "chat.perf",
  DONE: "chat.done",
  ERROR: "chat.error",
  CODE_RENDER: "code.render",
  CODE_RENDERED: "code.rendered",
  MODELS: "models.list",
  WATCH: "watch",
  UNWATCH: "unwatch",
  WATCH_OK: "watch.ok",
  SNAPSHOT: "watch.snapshot",
  PROBE_START: "probe.start",
  PROBE_RESULT: "probe.result",
  PROBE_DONE: "probe.done",
  // The arena's socket (/ws/arena/, proxy/arena.py).
  ARENA_JOIN: "arena.join",
  ARENA_SEND: "arena.send",
  ARENA_STOP: "arena.stop",
  ARENA_CLOSE: "arena.close",
  ARENA_REVEAL: "arena.reveal",
  ARENA_VOTE: "arena.vote",
  ARENA_STATE: "arena.state",
  ARENA_PROMPT: "arena.prompt",
  ARENA_SLOT: "arena.slot",
  ARENA_SNAPSHOT: "arena.snapshot",
  ARENA_TALLY: "arena.tally",
  ARENA_VOTED: "arena.voted",
  // Local only: the page's socket dropped while the stream was in flight (core/socket.js), ending it
  // (SOCKET_LOST), or while the server keeps it for the page to re-attach (SOCKET_DOWN); or the stream
  // ended while the page was away, and was saved (GONE: chat.attach answered not_found).
  SOCKET_LOST: "socket.lost",
  SOCKET_DOWN: "socket.down",
  GONE: "stream.gone",
});

/** The request modes (endpoints). */
export const MODE = Object.freeze({ CHAT: "chat", COMPLETIONS: "completions", RESPONSES: "responses" });

/** A stream's status on the page. */
export const STATUS = Object.freeze({
  IDLE: "idle",
  WAITING: "waiting",
  STREAMING: "streaming",
  DONE: "done",
  STOPPED: "stopped",
  ERROR: "error",
});

/** The statuses of a stream still in flight (or being replayed). */
export const RUNNING = Object.freeze(new Set([STATUS.WAITING, STATUS.STREAMING]));

/** The statuses a stream ends with. */
export const ENDED = Object.freeze(new Set([STATUS.DONE, STATUS.STOPPED, STATUS.ERROR]));
