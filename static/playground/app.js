// Entry point: wires the socket, the editors and the output panels together.

import { PlaygroundSocket } from "./socket.js";
import { ParamsPanel } from "./params.js";
import { Conversation, askImageUrl, readImageFile, renderThumbs } from "./conversation.js";
import { ReplyView, UsageView, SamplingView, PerfView, ErrorView } from "./render.js";
import { el, clear, autogrow } from "./dom.js";
import { SavedConversation } from "./saved.js";
import { installExtras } from "./extras.js";
import { PresetsControl } from "./presets.js";
import { CodeDialog } from "./codeview.js";
import { messageContent } from "./conversation.js";
import { LiveWatch } from "./watch.js";

const $ = (id) => document.getElementById(id);
const registry = JSON.parse($("param-registry").textContent);
const config = JSON.parse($("playground-config").textContent);

const socket = new PlaygroundSocket(config.ws_path);
const params = new ParamsPanel($("params"), registry);
const reply = new ReplyView($("assistant-message"), $("reply-status"), $("reply-model"));
const usage = new UsageView($("usage"));
const sampling = new SamplingView($("sampling-options"));
const perf = new PerfView($("perf-metrics"));
const errors = new ErrorView($("error"));
const conversation = new Conversation({ list: $("turns"), empty: $("turns-empty"), system: $("system-prompt") });
// Tools, the prompt inspector, predicted outputs and the Responses thread (extras.js).
const extras = installExtras({ $, socket, conversation, reply, send: (options) => send(options) });

const modelInput = $("model-input");
const promptInput = $("prompt-input");
const sendButton = $("send");
const stopButton = $("stop");
modelInput.value = config.default_model;
autogrow(promptInput);

let mode = "chat";
let conversationId = null;
let current = null; // the stream in flight
let lastFrame = null; // the last chat.start sent, for Retry
let composerImages = [];
let streamCounter = 0;

// --- Connection ------------------------------------------------------------------------------
const connection = $("connection");
socket.onStatus((state, delay) => {
  connection.dataset.state = state;
  const text = connection.querySelector(".conn-text");
  if (state === "open") {
    text.textContent = "Connected";
    socket.send({ type: "models.list" });
    if (errors.root.dataset.kind === "connection") {
      errors.show({ title: "Connection restored", message: "The socket is back. A reply that was streaming when it dropped has ended; its partial text is kept.",
        warn: true, onRetry: lastFrame ? retry : undefined });
      errors.root.dataset.kind = "connection-restored";
    }
  } else if (state === "closed") {
    text.textContent = `Reconnecting in ${Math.ceil(delay / 1000)} s…`;
  } else {
    text.textContent = "Connecting…";
  }
});
socket.onStatus((state) => {
  if (state === "closed" && errors.root.dataset.kind !== "connection" && !current) {
    showConnectionLost(false);
  }
});

function showConnectionLost(hadStream) {
  errors.show({
    title: "Connection lost — reconnecting",
    message: hadStream
      ? "The websocket dropped while the reply was streaming. The stream has ended as failed; the text that arrived is kept."
      : "The websocket to the server dropped. It reconnects by itself; sending is disabled until then.",
    warn: true,
  });
  errors.root.dataset.kind = "connection";
}

// --- Models ------------------------------------------------------------------------------------
const modelsStatus = $("models-status");
socket.on("models.list", (frame) => {
  const list = $("model-options");
  clear(list);
  for (const model of frame.models || []) {
    const label = [model.supports_image_input ? "vision" : "", model.supports_tools ? "tools" : "", model.context_length ? `${model.context_length.toLocaleString()} ctx` : ""].filter(Boolean).join(" · ");
    list.append(el("option", { value: model.id }, label));
  }
  if (frame.error) {
    const message = typeof frame.error === "string" ? frame.error : frame.error.message || "unavailable";
    modelsStatus.textContent = `Model list unavailable: ${message}`;
    modelsStatus.title = message;
  } else {
    modelsStatus.textContent = `${(frame.models || []).length} models${frame.cached ? " (cached)" : ""}`;
    modelsStatus.title = "Any model id can be typed, e.g. accounts/<account>/deployments/<id> or <model>#<deployment>";
  }
});
$("models-refresh").addEventListener("click", () => {
  modelsStatus.textContent = "Refreshing…";
  socket.send({ type: "models.list", refresh: true });
});

// A frame the server could not tie to a stream (e.g. unparseable): show it; end a start that got no answer.
socket.on("chat.error", (frame) => {
  if (current && !current.heardBack) {
    handleStreamFrame(current, frame);
    return;
  }
  errors.show({ title: "The server refused a message", message: frame.message, code: frame.code, status: frame.status });
});

// --- Mode --------------------------------------------------------------------------------------
for (const button of document.querySelectorAll("[data-mode]")) {
  button.addEventListener("click", () => setMode(button.dataset.mode));
}

function setMode(next) {
  mode = next;
  for (const button of document.querySelectorAll("[data-mode]")) button.setAttribute("aria-checked", String(button.dataset.mode === mode));
  $("chat-editor").hidden = mode === "completions";
  $("completions-note").hidden = mode !== "completions";
  $("composer-image-url").hidden = mode !== "chat";
  document.querySelector(".composer .file-btn").hidden = mode !== "chat";
  promptInput.placeholder = mode !== "completions" ? "Message the model…" : "The raw prompt, sent as is (no chat template)…";
  promptInput.rows = mode !== "completions" ? 3 : 10;
  params.setMode(mode);
  extras.setMode(mode);
}

// --- Composer images ---------------------------------------------------------------------------
function drawComposerImages() {
  renderThumbs($("composer-images"), composerImages, (i) => {
    composerImages.splice(i, 1);
    drawComposerImages();
  });
}
$("composer-image-url").addEventListener("click", () => askImageUrl(promptInput, (img) => {
  composerImages.push(img);
  drawComposerImages();
}));
$("composer-image-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  event.target.value = "";
  if (!file) return;
  composerImages.push({ url: await readImageFile(file), name: file.name });
  drawComposerImages();
});

$("add-turn").addEventListener("click", () => {
  const last = conversation.turns[conversation.turns.length - 1];
  conversation.add(last && last.role === "user" ? "assistant" : "user", "", [], { focus: true });
});
$("params-reset-all").addEventListener("click", () => params.resetAll());
$("new-conversation").addEventListener("click", () => {
  if (current) stop();
  conversation.clear();
  conversationId = null;
  $("conversation-id").textContent = "";
  lastFrame = null;
  reply.root.replaceChildren(el("p", { class: "empty-note" }, "The reply streams here, token by token."));
  reply.statusChip.hidden = true;
  reply.modelLabel.textContent = "";
  usage.reset();
  sampling.reset();
  perf.reset();
  errors.clear();
  presets.applyDefault(); // a new conversation starts from the default preset
});

// --- Sending -----------------------------------------------------------------------------------
sendButton.addEventListener("click", send);
stopButton.addEventListener("click", stop);
document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    if (!current) send();
  }
});

function refuse(title, message, extra = {}) {
  errors.show({ title, message, ...extra });
  errors.root.dataset.kind = "local";
}

function send({ regenerate = false } = {}) {
  if (current) return;
  const collected = params.collect();
  if (collected.error) {
    refuse("Not sent: a parameter needs fixing", collected.error.message, { param: collected.error.param, code: "invalid_parameter" });
    return;
  }
  const model = modelInput.value.trim() || config.default_model;
  const frame = { type: "chat.start", stream: "", mode, model, params: collected.params };
  if (collected.extra) frame.extra = collected.extra;
  if (conversationId !== null) frame.conversation = conversationId;
  const refused = extras.decorate(frame); // tools, prediction, previous_response_id (extras.js)
  if (refused) {
    refuse("Not sent: a tool needs fixing", refused);
    return;
  }
  if (mode !== "completions") {
    const text = promptInput.value;
    if (!regenerate && (text.trim() !== "" || composerImages.length)) {
      conversation.add("user", text, composerImages);
      promptInput.value = "";
      promptInput.dispatchEvent(new Event("input"));
      composerImages = [];
      drawComposerImages();
    }
    frame.messages = conversation.messages();
    if (!frame.messages.some((m) => m.role !== "system")) {
      refuse("Nothing to send", "Write a message in the box below first.");
      promptInput.focus();
      return;
    }
  } else {
    if (promptInput.value.trim() === "") {
      refuse("Nothing to send", "Write the raw prompt first.");
      promptInput.focus();
      return;
    }
    frame.prompt = promptInput.value;
  }
  start(frame);
}

function retry() {
  if (lastFrame && !current) start(structuredClone(lastFrame));
}

function start(frame) {
  if (!socket.isOpen) {
    refuse("Not connected", "The websocket is reconnecting; try again in a moment.");
    return;
  }
  streamCounter += 1;
  frame.stream = `s${streamCounter}-${Math.random().toString(36).slice(2, 8)}`;
  if (conversationId !== null) frame.conversation = conversationId;
  lastFrame = structuredClone(frame);
  current = {
    id: frame.stream, frame, clickAt: performance.now(), firstT: null, lastT: null, chunks: 0, contentChunks: 0,
    completionTokens: null, heardBack: false,
  };
  errors.clear();
  errors.root.dataset.kind = "";
  reply.start(frame.model);
  usage.reset();
  sampling.reset();
  perf.reset();
  for (const p of registry) params.showError(p.name, null);
  const stream = current;
  socket.openStream(stream.id, (f) => handleStreamFrame(stream, f));
  socket.send(frame);
  setStreaming(true);
}

function stop() {
  if (!current) return;
  const stream = current;
  socket.send({ type: "chat.stop", stream: stream.id });
  stopButton.disabled = true;
  stopButton.textContent = "Stopping…";
  // The server answers with chat.done (stopped); should that never come, end it here.
  setTimeout(() => {
    if (current === stream) finishStream(stream, "stopped", "Stopped — the server did not confirm; the partial reply is kept.");
  }, 5000);
}

function setStreaming(on) {
  sendButton.disabled = on;
  stopButton.hidden = !on;
  stopButton.disabled = !on;
  stopButton.textContent = "Stop";
  document.body.classList.toggle("is-streaming", on);
}

// A stopped or failed chat reply can still join the conversation, as the user decides.
const keepPartial = { label: "Add partial reply to the conversation", run: (text) => conversation.add("assistant", text) };

function finishStream(stream, status, note) {
  if (current !== stream) return;
  socket.closeStream(stream.id);
  current = null;
  reply.end(status, note, status !== "done" && stream.frame.mode !== "completions" ? keepPartial : null);
  usage.ended(status);
  setStreaming(false);
}

// What each upstream status usually means, for when the server's own message says little.
const STATUS_TEXT = {
  400: "bad request", 401: "bad API key", 402: "billing", 403: "forbidden", 404: "model not found or not deployed",
  408: "timeout", 412: "account suspended or LoRA failed to load", 413: "payload too large", 422: "validation error",
  429: "rate limited or deployment full", 500: "server error", 502: "bad gateway", 503: "overloaded", 504: "gateway timeout",
  520: "unknown error",
};

function errorMessage(frame) {
  if (typeof frame.message === "string" && frame.message.trim() !== "") return frame.message;
  if (frame.status && STATUS_TEXT[frame.status]) return `The upstream answered ${frame.status}: ${STATUS_TEXT[frame.status]}.`;
  return frame.code ? `The request failed (${frame.code}).` : "The request failed.";
}

function handleStreamFrame(stream, frame) {
  if (current !== stream) return;
  stream.heardBack = true;
  saved.onFrame(frame);
  switch (frame.type) {
    case "chat.started":
      if (frame.conversation !== undefined && frame.conversation !== null) {
        conversationId = frame.conversation;
        $("conversation-id").textContent = `saved as #${conversationId}`;
      }
      break;
    case "chat.opened":
      usage.opened(frame);
      sampling.opened(frame, stream.frame.params);
      perf.opened(frame);
      break;
    case "chat.delta": {
      const now = performance.now();
      if (stream.firstT === null) {
        stream.firstT = frame.t;
        perf.firstToken(frame.t ?? null, now - stream.clickAt);
      }
      const gap = stream.lastT !== null && typeof frame.t === "number" ? frame.t - stream.lastT : null;
      stream.lastT = frame.t ?? stream.lastT;
      stream.chunks += 1;
      if (frame.content || frame.reasoning) stream.contentChunks += 1;
      const elapsed = (stream.lastT - stream.firstT) / 1000;
      perf.tick(stream.chunks, gap, elapsed > 0 ? (stream.contentChunks - 1) / elapsed : null);
      usage.chunk(stream.contentChunks);
      reply.delta(frame);
      break;
    }
    case "chat.finish":
      reply.finish(frame);
      break;
    case "chat.usage":
      stream.completionTokens = frame.completion_tokens ?? null;
      usage.usage(frame);
      break;
    case "chat.perf":
      perf.perf(frame.metrics);
      break;
    case "chat.done": {
      const decodeMs = stream.firstT !== null && stream.lastT !== null ? stream.lastT - stream.firstT : 0;
      perf.done(frame, stream.completionTokens, decodeMs);
      if (frame.status === "stopped") {
        finishStream(stream, "stopped", "Stopped — generation was cancelled; the partial reply is kept and saved as stopped.");
      } else {
        const notes = [];
        if (frame.model && frame.model !== stream.frame.model) notes.push(`Answered by ${frame.model}.`);
        if (frame.saw_done_marker === false) notes.push("The stream ended without a [DONE] marker.");
        const added = stream.frame.mode !== "completions" && reply.choices.size > 0;
        if (added && reply.choices.size > 1) notes.push("Choice 1 was added to the conversation.");
        finishStream(stream, "done", notes.join(" ") || null);
        if (added) conversation.add("assistant", reply.text(0));
      }
      break;
    }
    case "chat.error": {
      const message = errorMessage(frame);
      finishStream(stream, "error", `Failed — ${message}${reply.choices.size ? " The text that arrived is kept." : ""}`);
      const flagged = frame.param ? params.flagFromServer(frame.param, message) : false;
      errors.show({
        title: frame.status ? `The upstream answered ${frame.status}${STATUS_TEXT[frame.status] ? ` (${STATUS_TEXT[frame.status]})` : ""}` : "The request failed",
        message, code: frame.code, status: frame.status, requestId: frame.request_id,
        param: frame.param, retryable: frame.retryable, onRetry: flagged ? undefined : retry,
      });
      errors.root.dataset.kind = "stream";
      break;
    }
    case "socket.lost":
      finishStream(stream, "error", "Connection lost — the stream ended before it finished; the text that arrived is kept.");
      showConnectionLost(true);
      break;
    default:
      break;
  }
  extras.onFrame(stream.frame, frame);
}

// --- Presets and "View code" (presets.js, codeview.js) -----------------------------------------------
const systemInput = $("system-prompt");
const presets = new PresetsControl($("presets"), {
  read: () => ({ mode, model: modelInput.value.trim() || config.default_model, system_prompt: systemInput.value, ...params.collect() }),
  apply: (preset) => {
    setMode(preset.mode);
    modelInput.value = preset.model || config.default_model;
    systemInput.value = preset.system_prompt;
    systemInput.dispatchEvent(new Event("input"));
    params.applyValues(preset.params, preset.extra);
  },
  flag: (name, message) => params.flagFromServer(name, message),
});
// A fresh page starts from the default preset; a restored draft or a saved conversation is left alone.
const pristine = () => !config.conversation && conversationId === null && conversation.turns.length === 0
  && systemInput.value === "" && promptInput.value === "" && modelInput.value === config.default_model
  && [...params.controls.values()].every((c) => !c.isSet()) && params.extraArea.value.trim() === "";
presets.load().then(() => {
  if (pristine()) presets.applyDefault();
});

// The code is rendered by the server from a code.render frame, through the same parsing as chat.start.
const codeDialog = new CodeDialog();
let codeCounter = 0;
$("view-code").addEventListener("click", () => {
  const collected = params.collect();
  if (collected.error) {
    refuse("No code: a parameter needs fixing", collected.error.message, { param: collected.error.param, code: "invalid_parameter" });
    return;
  }
  codeCounter += 1;
  const frame = { type: "code.render", stream: `code-${codeCounter}`, mode, model: modelInput.value.trim() || config.default_model, params: collected.params };
  if (collected.extra) frame.extra = collected.extra;
  let note = "Exactly what Send would send now (the conversation plus the message being written); the key is read from FIREWORKS_API_KEY.";
  if (mode === "chat") {
    frame.messages = conversation.messages();
    if (promptInput.value.trim() !== "" || composerImages.length) frame.messages.push({ role: "user", content: messageContent(promptInput.value, composerImages) });
    if (!frame.messages.some((m) => m.role !== "system")) {
      frame.messages.push({ role: "user", content: "Hello!" });
      note = `The conversation is empty: a placeholder user message stands in for yours. ${note}`;
    }
  } else {
    frame.prompt = promptInput.value;
  }
  codeDialog.open(note);
  if (!socket.isOpen) {
    codeDialog.error("Not connected: the websocket is reconnecting; try again in a moment.");
    return;
  }
  socket.openStream(frame.stream, (answer) => {
    socket.closeStream(frame.stream);
    if (answer.type === "code.rendered") codeDialog.show(answer.snippets);
    else codeDialog.error(answer.message || "The connection dropped before the code arrived.");
  });
  socket.send(frame);
});

setMode("chat");
socket.connect();
promptInput.focus();

// --- Saved conversations: /c/<id>/, branches, regenerate/fork, drafts (saved.js) ---------------------
const saved = new SavedConversation({
  config, conversation, params, reply, modelInput, promptInput, system: $("system-prompt"),
  send: (options) => send(options), setMode, isStreaming: () => current !== null,
  setConversationId: (id) => { conversationId = id; },
});

// --- Live watching: a stream someone else runs on this conversation, as it is generated (watch.js) ----
const live = new LiveWatch(socket, {
  mount: document.querySelector(".col-output .col-scroll"),
  onEnd: (frame, box) => {
    // Once it is saved, show the conversation as it now is (unless this page is busy with its own stream).
    setTimeout(async () => {
      if (current || conversationId !== frame.conversation) return;
      const data = await saved.fetchData().catch(() => null);
      if (data && !current && conversationId === frame.conversation) {
        saved.load(data);
        box.remove();
      }
    }, 300);
  },
});
// The conversation id changes in several places (a load, chat.started, New conversation): following it
// here keeps the wiring in one place; the check is a comparison four times a second.
live.watch(conversationId);
setInterval(() => live.watch(conversationId), 250);
