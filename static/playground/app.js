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
const reply = new ReplyView($("assistant-message"), $("reply-status"), $("reply-model"), $("reply-emulator"));
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
const sendHint = $("send-hint");
modelInput.value = config.default_model;
// The model id can be long: its full text is in the title, and the field grows while focused.
const showModelTitle = () => { modelInput.title = modelInput.value; };
modelInput.addEventListener("input", showModelTitle);
modelInput.addEventListener("change", showModelTitle);
showModelTitle();
autogrow(promptInput);

let mode = "chat";
let conversationId = null;
let current = null; // the stream in flight
let lastFrame = null; // the last chat.start sent, for Retry
let composerImages = [];
let streamCounter = 0;
let connected = false;
let partialTurn = null; // the assistant turn a stopped or failed reply left in the editor
let replyTurn = null; // the assistant turn the last finished reply added (n > 1: the chosen choice)

/** Send is possible only over an open socket and with no stream in flight; say why when not. */
function updateSendState() {
  sendButton.disabled = Boolean(current) || !connected;
  const why = !connected && !current ? "Not connected — reconnecting…" : "";
  sendHint.textContent = why;
  sendHint.hidden = !why;
  sendHint.title = why ? "The websocket is down. Sending waits until it reconnects; your text stays in the box." : "";
  sendButton.title = why ? "Not connected: sending waits until the websocket reconnects" : "Send (Ctrl/⌘+Enter)";
}

/** "saved as #N" (or the title) next to the conversation, in chat and completions mode alike. */
function setConversationLabel(text, title = "") {
  for (const label of document.querySelectorAll("[data-conversation-label]")) {
    label.textContent = text;
    label.title = title;
  }
}

/** "from run #N" on the panels filled from a saved run; null clears it (a live reply fills them). */
function showRunSource(runId) {
  for (const link of document.querySelectorAll("[data-run-source]")) {
    link.hidden = runId == null;
    link.textContent = runId == null ? "" : `from run #${runId}`;
    if (runId != null) link.href = `/runs/${runId}/`;
  }
}

/** Fill Usage, Performance and Sampling from a saved run (a reopened conversation). */
function showSavedRun(run) {
  usage.reset();
  sampling.reset();
  perf.reset();
  showRunSource(null);
  if (!run) return;
  usage.fromRun(run);
  if (run.sampling_options) sampling.fromRun(run);
  perf.fromRun(run);
  reply.setEmulator(Boolean(run.emulator));
  showRunSource(run.id);
}

// --- Connection ------------------------------------------------------------------------------
const connection = $("connection");
socket.onStatus((state, delay) => {
  connection.dataset.state = state;
  connected = state === "open";
  updateSendState();
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
  // Completions mode is one prompt area: the raw prompt box fills the column.
  $("completions-head").hidden = mode !== "completions";
  document.querySelector(".col-prompt").classList.toggle("is-completions", mode === "completions");
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
  setConversationLabel("");
  lastFrame = null;
  partialTurn = null;
  replyTurn = null;
  reply.root.replaceChildren(el("p", { class: "empty-note" }, "The reply streams here, token by token."));
  reply.statusChip.hidden = true;
  reply.setEmulator(false);
  reply.modelLabel.textContent = "";
  showRunSource(null);
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
    if (!current) send(); // send() refuses while not connected, keeping the text

  }
});

function refuse(title, message, extra = {}) {
  errors.show({ title, message, ...extra });
  errors.root.dataset.kind = "local";
}

function send({ regenerate = false } = {}) {
  if (current) return;
  if (!socket.isOpen) {
    // Nothing is added to the conversation: the text stays in the composer for when it reconnects.
    updateSendState();
    promptInput.focus();
    return;
  }
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

/** A stopped or failed reply's turn leaves the editor before it is asked for again (it stays saved as a branch). */
function dropPartialTurn() {
  const turns = conversation.turns;
  if (partialTurn && turns[turns.length - 1] === partialTurn) {
    turns.pop();
    conversation.render();
  }
  partialTurn = null;
}

function retry() {
  if (!lastFrame || current) return;
  dropPartialTurn();
  start(structuredClone(lastFrame));
}

/** "Send again" after an error retrying will not fix: what is on screen now (the user changed something). */
function sendAgain() {
  if (current) return;
  dropPartialTurn();
  send({ regenerate: true });
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
    completionTokens: null, heardBack: false, lastChunkAt: null,
  };
  errors.clear();
  errors.root.dataset.kind = "";
  partialTurn = null;
  replyTurn = null;
  reply.start(frame.model, { prompt: frame.mode === "completions" ? frame.prompt : "" });
  usage.reset();
  sampling.reset();
  perf.reset();
  showRunSource(null);
  perf.setChoices(Number(frame.params?.n) > 1 ? Number(frame.params.n) : 1);
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
    if (current === stream) finishStream(stream, "stopped", "Stopped — the server did not confirm the stop.");
  }, 5000);
}

function setStreaming(on) {
  stopButton.hidden = !on;
  stopButton.disabled = !on;
  stopButton.textContent = "Stop";
  document.body.classList.toggle("is-streaming", on);
  updateSendState();
  clearInterval(stallTimer);
  stallTimer = on ? setInterval(checkStall, 250) : null;
}

// --- Stalls: no chunk for a while in the middle of a stream ------------------------------------
const STALL_MS = 2000;
let stallTimer = null;
function checkStall() {
  const stream = current;
  if (!stream || stream.lastChunkAt === null) return;
  const quiet = performance.now() - stream.lastChunkAt;
  reply.stall(quiet > STALL_MS ? Math.floor(quiet / 1000) : null);
}

/**
 * End the stream on screen. One rule for a reply that did not finish (stopped, failed, connection
 * lost): the text that arrived becomes the assistant turn, marked, exactly as the server saved it
 * (run_finish keeps a partial reply as the branch's newest message). `note` adds to the reply's
 * own note, which says what happened to its text.
 */
function finishStream(stream, status, note = null) {
  if (current !== stream) return;
  socket.closeStream(stream.id);
  current = null;
  const chat = stream.frame.mode !== "completions";
  const kept = status !== "done" && reply.hasOutput();
  const notes = [];
  if (note) notes.push(note);
  if (kept) {
    const marked = status === "stopped" ? "marked stopped" : "marked failed";
    notes.push(chat ? `The partial reply is kept as the assistant turn, ${marked}.` : `The partial completion is kept and saved, ${marked}.`);
  }
  reply.end(status, notes.join(" ") || null);
  usage.ended(status);
  setStreaming(false);
  if (kept && chat) {
    partialTurn = conversation.add("assistant", reply.text(0), [], { status, reveal: true });
  }
}

// What each upstream status usually means, for when the server's own message says little.
const STATUS_TEXT = {
  400: "bad request", 401: "bad API key", 402: "billing", 403: "forbidden", 404: "model not found or not deployed",
  408: "timeout", 412: "account suspended or LoRA failed to load", 413: "payload too large", 422: "validation error",
  429: "rate limited or deployment full", 500: "server error", 502: "bad gateway", 503: "overloaded", 504: "gateway timeout",
  520: "unknown error",
};

// What to change before sending again, when retrying the same request will not help.
const STATUS_ADVICE = {
  400: "The server refused the request as sent: change the parameters or the messages, then send again.",
  401: "The API key was refused: check FIREWORKS_API_KEY on the server, then send again.",
  402: "Check the account's billing, then send again.",
  403: "The key may not use this model or deployment: pick another model, then send again.",
  404: "Check the model id (the Model field above) or deploy the model, then send again.",
  412: "The account is suspended or the LoRA failed to load: check the deployment, then send again.",
  413: "Shorten the prompt or remove images, then send again.",
  422: "The server refused the request as sent: change the parameters or the messages, then send again.",
};

function retryAdvice(frame, flagged) {
  if (flagged) return "Fix the highlighted parameter, then send again.";
  if (frame.status && STATUS_ADVICE[frame.status]) return STATUS_ADVICE[frame.status];
  return "Sending the same request again will likely fail the same way: change something first.";
}

function errorMessage(frame) {
  if (typeof frame.message === "string" && frame.message.trim() !== "") return frame.message;
  if (frame.status && STATUS_TEXT[frame.status]) return `The upstream answered ${frame.status}: ${STATUS_TEXT[frame.status]}.`;
  return frame.code ? `The request failed (${frame.code}).` : "The request failed.";
}

/** n > 1: make choice `index` the assistant turn that continues the conversation. */
function useChoice(index) {
  const turns = conversation.turns;
  if (!replyTurn || !turns.includes(replyTurn)) {
    replyTurn = conversation.add("assistant", reply.text(index), [], { reveal: true });
  } else {
    // No longer the saved choice 1: the next send saves this text as a branch beside it.
    Object.assign(replyTurn, { text: reply.text(index), id: undefined, choice: index });
    conversation.render();
  }
  reply.choose(index);
}

function handleStreamFrame(stream, frame) {
  if (current !== stream) return;
  stream.heardBack = true;
  saved.onFrame(frame);
  switch (frame.type) {
    case "chat.started":
      if (frame.conversation !== undefined && frame.conversation !== null) {
        if (conversationId !== frame.conversation) setConversationLabel(`saved as #${frame.conversation}`, `Conversation #${frame.conversation}`);
        conversationId = frame.conversation;
      }
      break;
    case "chat.opened":
      reply.setEmulator(String((frame.headers || {})["x-playground-emulator"] ?? "") === "1");
      usage.opened(frame);
      sampling.opened(frame, stream.frame.params);
      perf.opened(frame);
      break;
    case "chat.delta": {
      const now = performance.now();
      stream.lastChunkAt = now;
      reply.stall(null);
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
        finishStream(stream, "stopped", stream.contentChunks ? "Stopped." : null);
      } else {
        const notes = [];
        if (frame.model && frame.model !== stream.frame.model) notes.push(`Answered by ${frame.model}.`);
        if (frame.saw_done_marker === false) notes.push("The stream ended without a [DONE] marker.");
        const added = stream.frame.mode !== "completions" && reply.choices.size > 0;
        const multi = added && reply.choices.size > 1;
        if (multi) notes.push("Choice 1 continues the conversation: “Use this reply” on another choice to continue with it instead.");
        finishStream(stream, "done", notes.join(" ") || null);
        if (added) {
          replyTurn = conversation.add("assistant", reply.text(0), [], { reveal: true });
          if (multi) reply.choose(0, useChoice);
        }
      }
      break;
    }
    case "chat.error": {
      const message = errorMessage(frame);
      finishStream(stream, "error");
      const flagged = frame.param ? params.flagFromServer(frame.param, message) : false;
      const wait = /Retry after (\d+(?:\.\d+)?) ?s/i.exec(message || "");
      // The error is said once, here; the Response card only says what became of the text.
      errors.show({
        title: frame.status ? `The upstream answered ${frame.status}${STATUS_TEXT[frame.status] ? ` (${STATUS_TEXT[frame.status]})` : ""}` : "The request failed",
        message, code: frame.code, status: frame.status, requestId: frame.request_id, param: frame.param,
        detail: reply.hasOutput() ? "The text that arrived is kept." : null,
        retryable: Boolean(frame.retryable), advice: frame.retryable ? null : retryAdvice(frame, flagged),
        retryAfter: wait ? Number(wait[1]) : 0,
        onRetry: flagged ? undefined : frame.retryable ? retry : sendAgain,
      });
      errors.root.dataset.kind = "stream";
      break;
    }
    case "socket.lost":
      finishStream(stream, "error", "Connection lost before the reply finished.");
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
  read: () => {
    // A preset keeps the Tools panel too: its tools and tool_choice are saved with the extra fields.
    const collected = params.collect();
    const defined = extras.tools.collect();
    if (!collected.error && defined.error) collected.error = { param: "tools", message: defined.error };
    if (defined.extra) collected.extra = { ...(collected.extra || {}), ...defined.extra };
    return { mode, model: modelInput.value.trim() || config.default_model, system_prompt: systemInput.value, ...collected };
  },
  apply: (preset) => {
    setMode(preset.mode);
    modelInput.value = preset.model || config.default_model;
    systemInput.value = preset.system_prompt;
    systemInput.dispatchEvent(new Event("input"));
    saved.applyParams(preset.params || {}, preset.extra || {}); // tools to the Tools panel, the rest to Extra body
  },
  flag: (name, message) => params.flagFromServer(name, message),
});
// A fresh page starts from the default preset; a restored draft or a saved conversation is left alone.
const pristine = () => !config.conversation && conversationId === null && conversation.turns.length === 0
  && systemInput.value === "" && promptInput.value === "" && modelInput.value === config.default_model
  && [...params.controls.values()].every((c) => !c.isSet()) && params.extraArea.value.trim() === "" && !extras.tools.tools.length;
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
  config, conversation, params, reply, modelInput, promptInput, system: $("system-prompt"), tools: extras.tools,
  send: (options) => send(options), setMode, isStreaming: () => current !== null,
  setConversationId: (id) => { conversationId = id; }, setConversationLabel, showSavedRun,
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
