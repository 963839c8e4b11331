// The playground page (/, /c/<id>/): one controller object holding the page's state. It wires the
// socket, the editors and the output panels; the stream's frames are folded by core/stream.js (through
// LiveStream) and every panel draws from that one state. One builder (startFrame) makes the chat.start
// frame for Send and the code.render frame for View code; presets save its settings part, and a saved
// prompt version its settings, messages and variables (panels/prompts.js).

import { PlaygroundSocket } from "../core/socket.js";
import { el, clear, autogrow } from "../core/dom.js";
import { FRAME, MODE, STATUS } from "../core/protocol.js";
import { LiveStream, foldFrames, streamId } from "../core/live.js";
import { ParamsPanel } from "../panels/params.js";
import { Conversation, askImageUrl, messageContent, readImageFile, renderThumbs } from "../panels/conversation.js";
import { ReplyView } from "../panels/reply.js";
import { UsageView } from "../panels/usage.js";
import { SamplingView } from "../panels/sampling.js";
import { PerfView } from "../panels/perf.js";
import { ErrorView, retryAdvice } from "../panels/error.js";
import { SavedConversation } from "../panels/saved.js";
import { Access } from "../panels/access.js";
import { installExtras } from "../panels/extras.js";
import { PresetsControl } from "../panels/presets.js";
import { CodeDialog } from "../panels/codeview.js";
import { LiveWatch } from "../panels/live.js";
import { resolveModel, shortModel } from "../core/models.js";
import { ChatsSidebar, wireChatsToggle } from "../panels/chats.js";
import { VariablesPanel } from "../panels/variables.js";
import { PromptControl } from "../panels/prompts.js";
import { startVariables } from "../core/variables.js";

const $ = (id) => document.getElementById(id);
// No delta for this long in the middle of a stream: say so.
const STALL_MS = 2000;
// The stream this tab is running (sessionStorage: this tab only, kept across a reload), to re-attach to.
const RUNNING_KEY = "playground:running";

class PlaygroundPage {
  constructor() {
    this.registry = JSON.parse($("param-registry").textContent);
    this.config = JSON.parse($("playground-config").textContent);
    this.mode = MODE.CHAT;
    this.conversationId = null;
    this.stream = null; // the LiveStream in flight
    this.lastFrame = null; // the last chat.start sent, for Retry
    this.composerImages = [];
    this.connected = false;
    this.partialTurn = null; // the assistant turn a stopped or failed reply left in the editor
    this.replyTurn = null; // the assistant turn the last finished reply added (n > 1: the chosen choice)
    this.stallTimer = null;
    this.models = []; // the catalogue from models.list, for short names

    // What this user may do on the page (read-only for a viewer); its Ctrl/⌘+Enter guard comes first.
    this.access = new Access(this.config);
    this.access.mount();
    this.socket = new PlaygroundSocket(this.config.ws_path);
    this.params = new ParamsPanel($("params"), this.registry, { count: $("params-count") });
    this.reply = new ReplyView($("assistant-message"), $("reply-status"), $("reply-model"), $("reply-emulator"));
    this.usage = new UsageView($("usage"));
    this.sampling = new SamplingView($("sampling-options"));
    this.perf = new PerfView($("perf-metrics"));
    this.errors = new ErrorView($("error"));
    this.conversation = new Conversation({ list: $("turns"), empty: $("turns-empty"), system: $("system-prompt") });
    // The last reply is read in the Response card; the thread shows it once there, not twice.
    this.conversation.replyElsewhere = () => this.mode !== MODE.COMPLETIONS;
    // Tools, the prompt inspector, predicted outputs and the Responses thread (panels/extras.js).
    this.extras = installExtras({ $, socket: this.socket, conversation: this.conversation, send: (options) => this.send(options) });

    this.modelInput = $("model-input");
    this.promptInput = $("prompt-input");
    this.systemInput = $("system-prompt");
    this.sendButton = $("send");
    this.stopButton = $("stop");
    this.sendHint = $("send-hint");
    this.modelInput.value = this.config.default_model;
    // The model id can be long: its full text is in the title, and the field grows while focused.
    const showModelTitle = () => { this.modelInput.title = this.modelInput.value; };
    this.modelInput.addEventListener("input", showModelTitle);
    this.modelInput.addEventListener("change", () => {
      this.model(); // a short name becomes the full id it names
      showModelTitle();
    });
    showModelTitle();
    this.reply.announcer = $("reply-announce");
    this.wireDrawer();
    // Recent conversations beside the page (panels/chats.js), fetched once the page has loaded.
    this.chats = new ChatsSidebar($("chats-drawer"), { current: this.config.conversation?.id ?? null });
    wireChatsToggle({ open: $("chats-open"), close: $("chats-close") });
    this.chats.start();
    autogrow(this.promptInput);

    this.wireConnection();
    this.wireModels();
    this.wireEditor();
    this.wireSending();
    this.presets = this.makePresets();
    this.wireVariables();
    this.prompts = this.makePromptControl();
    this.codeDialog = new CodeDialog();
    $("view-code").addEventListener("click", () => this.viewCode());

    this.setMode(MODE.CHAT);
    this.socket.connect();
    this.promptInput.focus();

    // Saved conversations: /c/<id>/, branches, regenerate/fork, drafts (panels/saved.js).
    this.saved = new SavedConversation({
      config: this.config, access: this.access, conversation: this.conversation, params: this.params, reply: this.reply,
      modelInput: this.modelInput, promptInput: this.promptInput, system: this.systemInput, tools: this.extras.tools,
      send: (options) => this.send(options), setMode: (mode) => this.setMode(mode), isStreaming: () => this.stream !== null,
      setConversationId: (id) => this.setConversationId(id), setConversationLabel: (text, title) => this.setConversationLabel(text, title),
      showSavedRun: (run) => this.showSavedRun(run),
    });
    const restoring = new URLSearchParams(location.search).get("version");
    this.presets.load().then(() => {
      if (/^\d+$/.test(restoring || "") && !this.config.conversation) this.restoreVersion(Number(restoring));
      else if (this.pristine()) this.presets.applyDefault();
    });

    // Live watching: a stream someone else runs on this conversation, as it is generated (panels/live.js).
    this.live = new LiveWatch(this.socket, {
      mount: document.querySelector(".col-output .col-scroll"),
      onEnd: (state, box) => this.afterWatched(state, box),
      username: this.config.username,
    });
    this.live.watch(this.conversationId);
    this.resumeRunning();
  }

  // --- A stream that survives a reload (proxy/PROTOCOL.md, "Resuming a stream") ----------------------
  /** Keep what a reload needs to re-attach to the stream in flight (null: none). */
  rememberRunning(stream) {
    try {
      if (!stream) sessionStorage.removeItem(RUNNING_KEY);
      else {
        const { stream: id, mode, model, params, prompt } = stream.frame;
        const kept = { stream: id, mode, model, params, conversation: stream.state.conversation ?? stream.frame.conversation ?? null };
        if (mode === MODE.COMPLETIONS) kept.prompt = prompt;
        sessionStorage.setItem(RUNNING_KEY, JSON.stringify(kept));
      }
    } catch {
      // Storage full or disabled: a reload then finds the reply saved instead of live.
    }
  }

  /** After a reload: re-attach to the stream this tab was running, if it belongs on this page. */
  resumeRunning() {
    let kept = null;
    try {
      kept = JSON.parse(sessionStorage.getItem(RUNNING_KEY) || "null");
    } catch {
      kept = null;
    }
    if (!kept || typeof kept.stream !== "string") return;
    if (kept.conversation != null && kept.conversation !== this.conversationId) {
      this.rememberRunning(null); // another conversation is on screen now
      return;
    }
    this.reply.start(kept.model, { prompt: kept.mode === MODE.COMPLETIONS ? kept.prompt || "" : "" });
    this.reply.resumeNote("resuming");
    this.resetPanels();
    const stream = new LiveStream(this.socket, (state, f) => this.onStreamFrame(stream, state, f));
    this.stream = stream;
    this.setStreaming(true);
    stream.attach({ type: FRAME.START, ...kept });
  }

  /** The stream ended while the page was away (reload, long drop): show the conversation as saved. */
  async showGone(stream) {
    this.socket.closeStream(stream.id);
    this.stream = null;
    this.rememberRunning(null);
    this.setStreaming(false);
    const data = this.conversationId !== null ? await this.saved.fetchData().catch(() => null) : null;
    if (data && !this.stream) {
      this.saved.load(data);
      this.reply.resumeNote(null);
    } else if (!this.stream) {
      this.reply.end(STATUS.ERROR, "The reply ended while the page was away; it is saved with the conversation.");
    }
  }

  /** The model to send: the field's id, a short name resolved to the full id (shown in the field too). */
  model() {
    const typed = this.modelInput.value.trim();
    const full = resolveModel(typed, this.models);
    if (full !== typed) {
      this.modelInput.value = full;
      this.modelInput.title = full;
    }
    return full || this.config.default_model;
  }

  /** Narrow screens: the parameters are a drawer, opened from the toolbar; the count says how many are set. */
  wireDrawer() {
    const open = $("params-open");
    const setOpen = (on) => {
      document.body.classList.toggle("params-drawer", on);
      open.setAttribute("aria-expanded", String(on));
      if (on) $("params-close").focus();
      else if (document.activeElement?.closest?.("#params-drawer")) open.focus();
    };
    open.addEventListener("click", () => setOpen(!document.body.classList.contains("params-drawer")));
    $("params-close").addEventListener("click", () => setOpen(false));
    document.addEventListener("click", (event) => {
      // A tap on the shade beside the drawer closes it.
      if (document.body.classList.contains("params-drawer") && event.target === document.body) setOpen(false);
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && document.body.classList.contains("params-drawer") && !this.stream) setOpen(false);
    });
  }

  // --- Conversation id and labels ---------------------------------------------------------------
  /** The conversation on screen changed (a load, chat.started, New conversation): watch it live too. */
  setConversationId(id) {
    this.conversationId = id;
    this.live?.watch(id);
    this.chats?.setCurrent(id);
  }

  /** "saved as #N" (or the title) next to the conversation, in chat and completions mode alike. */
  setConversationLabel(text, title = "") {
    for (const label of document.querySelectorAll("[data-conversation-label]")) {
      label.textContent = text;
      label.title = title;
    }
    // The header says where you are: the playground, and which conversation.
    const where = $("where-title");
    where.textContent = text ? ` · ${title || text}` : "";
    document.title = text ? `${title || text} · Playground · Fireworks` : "Playground · Fireworks";
  }

  /** "from run #N" on the panels filled from a saved run; null clears it (a live reply fills them). */
  showRunSource(runId) {
    for (const link of document.querySelectorAll("[data-run-source]")) {
      link.hidden = runId == null;
      link.textContent = runId == null ? "" : `from run #${runId}`;
      if (runId != null) link.href = `/runs/${runId}/`;
    }
  }

  resetPanels() {
    this.usage.reset();
    this.sampling.reset();
    this.perf.reset();
    this.showRunSource(null);
  }

  /** Fill Usage, Performance and Sampling from a saved run (a reopened conversation), through the fold. */
  showSavedRun(run) {
    this.resetPanels();
    if (!run) return;
    const state = foldFrames(run.frames);
    this.usage.update(state, { saved: true });
    this.sampling.update(state);
    this.perf.setChoices(run.choices || 1);
    this.perf.update(state);
    this.reply.setEmulator(Boolean(run.emulator) || state.emulator);
    this.showRunSource(run.id);
  }

  /** Once a watched stream is saved, show the conversation as it now is (unless this page is busy). */
  afterWatched(state, box) {
    setTimeout(async () => {
      if (this.stream || this.conversationId !== state.conversation) return;
      const data = await this.saved.fetchData().catch(() => null);
      if (data && !this.stream && this.conversationId === state.conversation) {
        this.saved.load(data);
        box.remove();
      }
    }, 300);
  }

  // --- Connection ----------------------------------------------------------------------------------
  wireConnection() {
    const connection = $("connection");
    this.socket.onStatus((state, delay) => {
      connection.dataset.state = state;
      this.connected = state === "open";
      this.updateSendState();
      const text = connection.querySelector(".conn-text");
      if (state === "open") {
        text.textContent = "Connected";
        this.socket.send({ type: FRAME.MODELS });
        if (this.errors.root.dataset.kind === "connection") {
          // A reply in flight re-attaches by itself (its card says "resumed").
          this.errors.clear();
          this.errors.root.dataset.kind = "";
        }
      } else if (state === "closed") {
        text.textContent = `Reconnecting in ${Math.ceil(delay / 1000)} s…`;
        // A reply in flight says so on its own card ("reconnecting", then "resumed").
        if (this.errors.root.dataset.kind !== "connection" && !this.stream) this.showConnectionLost(false);
      } else {
        text.textContent = "Connecting…";
      }
    });
    // A frame the server could not tie to a stream (e.g. unparseable): show it; end a start that got no answer.
    this.socket.on(FRAME.ERROR, (frame) => {
      if (this.stream && this.stream.state.status === STATUS.WAITING && this.stream.state.run === null) {
        this.stream.handle(frame);
        return;
      }
      this.errors.show({ title: "The server refused a message", message: frame.message, code: frame.code, status: frame.status });
    });
  }

  showConnectionLost(hadStream) {
    this.errors.show({
      title: "Connection lost — reconnecting",
      message: hadStream
        ? "The websocket dropped while the reply was streaming. The server keeps generating it; it continues here once the socket is back."
        : "The websocket to the server dropped. It reconnects by itself; sending is disabled until then.",
      warn: true,
    });
    this.errors.root.dataset.kind = "connection";
  }

  /** Send is possible only over an open socket and with no stream in flight; say why when not. */
  updateSendState() {
    this.sendButton.disabled = Boolean(this.stream) || !this.connected;
    const why = !this.connected && !this.stream ? "Not connected — reconnecting…" : "";
    this.sendHint.textContent = why;
    this.sendHint.hidden = !why;
    this.sendHint.title = why ? "The websocket is down. Sending waits until it reconnects; your text stays in the box." : "";
    this.sendButton.title = why ? "Not connected: sending waits until the websocket reconnects" : "Send (Ctrl/⌘+Enter)";
  }

  // --- Models ----------------------------------------------------------------------------------------
  wireModels() {
    const status = $("models-status");
    this.socket.on(FRAME.MODELS, (frame) => {
      const list = $("model-options");
      clear(list);
      this.models = frame.models || [];
      for (const model of frame.models || []) {
        const label = [model.supports_image_input ? "vision" : "", model.supports_tools ? "tools" : "", model.context_length ? `${model.context_length.toLocaleString()} ctx` : ""].filter(Boolean).join(" · ");
        list.append(el("option", { value: model.id }, label));
      }
      if (frame.error) {
        const message = typeof frame.error === "string" ? frame.error : frame.error.message || "unavailable";
        status.textContent = `Model list unavailable: ${message}`;
        status.title = message;
      } else {
        status.textContent = `${(frame.models || []).length} models`;
        status.title = `${frame.cached ? "From the cache. " : ""}Pick one, type a short name (e.g. ${shortModel(this.config.default_model)}) or any id: accounts/<account>/deployments/<id> or <model>#<deployment>`;
      }
    });
    $("models-refresh").addEventListener("click", () => {
      status.textContent = "Refreshing…";
      this.socket.send({ type: FRAME.MODELS, refresh: true });
    });
  }

  // --- Mode, composer, editor ----------------------------------------------------------------------
  wireEditor() {
    for (const button of document.querySelectorAll("[data-mode]")) {
      button.addEventListener("click", () => this.setMode(button.dataset.mode));
    }
    $("composer-image-url").addEventListener("click", () => askImageUrl(this.promptInput, (img) => {
      this.composerImages.push(img);
      this.drawComposerImages();
    }));
    $("composer-image-file").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      event.target.value = "";
      if (!file) return;
      this.composerImages.push({ url: await readImageFile(file), name: file.name });
      this.drawComposerImages();
    });
    $("add-turn").addEventListener("click", () => {
      const last = this.conversation.turns[this.conversation.turns.length - 1];
      this.conversation.add(last && last.role === "user" ? "assistant" : "user", "", [], { focus: true });
    });
    $("params-reset-all").addEventListener("click", () => this.params.resetAll());
    $("new-conversation").addEventListener("click", () => this.newConversation());
  }

  setMode(next) {
    this.mode = next;
    for (const button of document.querySelectorAll("[data-mode]")) button.setAttribute("aria-checked", String(button.dataset.mode === next));
    const completions = next === MODE.COMPLETIONS;
    $("chat-editor").hidden = completions;
    // Completions mode is one prompt area: the raw prompt box fills the column.
    $("completions-head").hidden = !completions;
    document.querySelector(".col-prompt").classList.toggle("is-completions", completions);
    $("composer-image-url").hidden = next !== MODE.CHAT;
    document.querySelector(".composer .file-btn").hidden = next !== MODE.CHAT;
    this.promptInput.placeholder = !completions ? "Message the model…" : "The raw prompt, sent as is (no chat template)…";
    this.promptInput.rows = !completions ? 3 : 10;
    this.params.setMode(next);
    this.extras.setMode(next);
  }

  drawComposerImages() {
    renderThumbs($("composer-images"), this.composerImages, (i) => {
      this.composerImages.splice(i, 1);
      this.drawComposerImages();
    });
  }

  newConversation() {
    const stream = this.stream;
    if (stream) {
      // Stopped (the server saves it in its own conversation), and no longer this page's: its last
      // frames must not bring the old partial reply into the new conversation.
      stream.stop();
      this.socket.closeStream(stream.id);
      this.stream = null;
      this.rememberRunning(null);
      this.setStreaming(false);
    }
    this.conversation.clear();
    this.setConversationId(null);
    this.setConversationLabel("");
    this.lastFrame = null;
    this.partialTurn = null;
    this.replyTurn = null;
    this.reply.root.replaceChildren(el("p", { class: "empty-note" }, "The reply streams here, token by token."));
    this.reply.statusChip.hidden = true;
    this.reply.setEmulator(false);
    this.reply.modelLabel.textContent = "";
    this.resetPanels();
    this.errors.clear();
    this.presets.applyDefault(); // a new conversation starts from the default preset
  }

  // --- The one start-frame builder --------------------------------------------------------------
  /** The settings part of a request (mode, model, params, extra with the tools): also what a preset saves. */
  settings() {
    const collected = this.params.collect();
    if (collected.error) return { error: collected.error };
    const defined = this.extras.tools.collect();
    if (defined.error) return { error: { param: "tools", message: defined.error, tool: true } };
    const out = { mode: this.mode, model: this.model(), params: collected.params };
    if (collected.extra) out.extra = collected.extra;
    if (this.mode !== MODE.COMPLETIONS && defined.extra) out.extra = { ...(out.extra || {}), ...defined.extra };
    return out;
  }

  /**
   * The frame Send sends (type chat.start) or View code renders (code.render), from the page as it is:
   * the settings, the prediction and the Responses thread (extras), the conversation plus the message
   * being written. Returns {frame} or {error: {title, message, param?, focus?}}.
   */
  startFrame({ type = FRAME.START, regenerate = false, values = true } = {}) {
    const settings = this.settings();
    if (settings.error) {
      const { tool, param, message } = settings.error;
      return { error: tool ? { title: "a tool needs fixing", message } : { title: "a parameter needs fixing", message, param, code: "invalid_parameter" } };
    }
    const { error: _ignored, ...fields } = settings;
    const frame = { type, stream: "", ...fields };
    if (this.conversationId !== null) frame.conversation = this.conversationId;
    this.extras.decorate(frame); // prediction, previous_response_id (Responses tools' shape)
    if (this.mode !== MODE.COMPLETIONS) {
      frame.messages = this.conversation.messages();
      const text = this.promptInput.value;
      if (!regenerate && (text.trim() !== "" || this.composerImages.length)) {
        frame.messages.push({ role: "user", content: messageContent(text, this.composerImages) });
      }
      if (!frame.messages.some((m) => m.role !== "system")) return { error: { title: "Nothing to send", message: "Write a message in the box below first.", focus: true } };
    } else {
      if (type === FRAME.START && this.promptInput.value.trim() === "") return { error: { title: "Nothing to send", message: "Write the raw prompt first.", focus: true } };
      frame.prompt = this.promptInput.value;
    }
    // {{ variables }}: the server fills them in (proxy/frames.py); a missing value stops here, before sending.
    const names = startVariables(frame);
    this.variables.setNames(names);
    if (names.length && values) {
      const problem = this.variables.problems();
      if (problem) return { error: { title: "a variable needs a value", message: problem, variables: true } };
      frame.variables = this.variables.values();
    }
    return { frame };
  }

  // --- Variables and saved prompts -------------------------------------------------------------------
  /** The variables form follows the system prompt, the turns and the message being written. */
  wireVariables() {
    this.variables = new VariablesPanel($("variables"));
    let queued = false;
    const later = () => {
      if (queued) return;
      queued = true;
      requestAnimationFrame(() => {
        queued = false;
        this.refreshVariables();
      });
    };
    document.querySelector(".col-prompt").addEventListener("input", (event) => {
      if (!event.target.closest("#variables")) later();
    });
    new MutationObserver(later).observe($("turns"), { childList: true });
    for (const button of document.querySelectorAll("[data-mode]")) button.addEventListener("click", later);
    later();
  }

  refreshVariables() {
    const source = this.mode === MODE.COMPLETIONS
      ? { prompt: this.promptInput.value }
      : { messages: [...this.conversation.messages(), { role: "user", content: this.promptInput.value }] };
    this.variables.setNames(startVariables(source));
  }

  makePromptControl() {
    return new PromptControl($("prompt-bar"), {
      read: () => this.versionFields(),
      apply: (version) => this.applyVersion(version),
    });
  }

  /** The page as a prompt version: what Send would send (without the values), with the variables' definitions. */
  versionFields() {
    const built = this.startFrame({ type: FRAME.START, values: false });
    if (built.error) return { error: `${built.error.title.startsWith("Nothing") ? built.error.title : `Not saved: ${built.error.title}`}. ${built.error.message}` };
    const { type: _t, stream: _s, conversation: _c, previous_response_id: _p, variables: _v, ...fields } = built.frame;
    return { version: { ...fields, variables: this.variables.definitions() } };
  }

  /** Put a saved version into the page as a new conversation: settings, system prompt, turns, variables. */
  applyVersion(version) {
    const start = version.start;
    this.newConversation();
    this.setMode(start.mode);
    this.modelInput.value = start.model || this.config.default_model;
    this.modelInput.title = this.modelInput.value;
    this.systemInput.value = start.system || "";
    this.systemInput.dispatchEvent(new Event("input"));
    this.saved.applyParams(start.params || {}, start.extra || {});
    const turns = (start.messages || []).map((m) => {
      const parts = Array.isArray(m.content) ? m.content : null;
      const text = parts ? parts.filter((p) => p.type === "text").map((p) => p.text).join("\n") : m.content ?? "";
      const images = parts ? parts.filter((p) => p.type === "image_url").map((p) => ({ url: p.image_url.url })) : [];
      const turn = { role: m.role, text, images };
      if (m.tool_calls) turn.tool_calls = m.tool_calls;
      if (m.tool_call_id != null) turn.tool_call_id = m.tool_call_id;
      return turn;
    });
    this.conversation.replace(turns);
    this.promptInput.value = start.mode === MODE.COMPLETIONS ? start.prompt || "" : "";
    this.promptInput.dispatchEvent(new Event("input"));
    this.variables.setDefinitions(version.variables);
    this.refreshVariables();
    this.setConversationLabel(`${version.prompt.name} v${version.number}`, `Restored from prompt “${version.prompt.name}”, version ${version.number}`);
  }

  async restoreVersion(id) {
    try {
      await this.prompts.restore(id);
    } catch (error) {
      this.refuse("Could not restore the prompt version", error.message);
    }
  }

  // --- Sending -------------------------------------------------------------------------------------
  wireSending() {
    this.sendButton.addEventListener("click", () => this.send());
    this.stopButton.addEventListener("click", () => this.stop());
    document.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (!this.stream) this.send(); // send() refuses while not connected, keeping the text
      }
      // Esc stops the stream, unless it closes something first (a dialog, a menu, the image URL row).
      if (event.key === "Escape" && this.stream && !event.defaultPrevented && !document.querySelector("dialog[open]")) {
        event.preventDefault();
        this.stop();
      }
    });
  }

  refuse(title, message, extra = {}) {
    this.errors.show({ title, message, ...extra });
    this.errors.root.dataset.kind = "local";
  }

  send({ regenerate = false } = {}) {
    if (this.stream) return;
    if (!this.socket.isOpen) {
      // Nothing is added to the conversation: the text stays in the composer for when it reconnects.
      this.updateSendState();
      this.promptInput.focus();
      return;
    }
    const built = this.startFrame({ regenerate });
    if (built.error) {
      const { title, message, param, code, focus, variables } = built.error;
      this.refuse(title.startsWith("Nothing") ? title : `Not sent: ${title}`, message, { param, code });
      if (focus) this.promptInput.focus();
      if (variables) $("variables").querySelector(".var-row.is-invalid .var-value")?.focus();
      return;
    }
    if (this.mode !== MODE.COMPLETIONS && !regenerate && (this.promptInput.value.trim() !== "" || this.composerImages.length)) {
      // The message being written becomes a turn: the frame already carries it.
      this.conversation.add("user", this.promptInput.value, this.composerImages);
      this.promptInput.value = "";
      this.promptInput.dispatchEvent(new Event("input"));
      this.composerImages = [];
      this.drawComposerImages();
    }
    this.extras.sent(built.frame);
    this.conversation.closeEditors();
    this.start(built.frame);
  }

  /** A stopped or failed reply's turn leaves the editor before it is asked for again (it stays saved as a branch). */
  dropPartialTurn() {
    const turns = this.conversation.turns;
    if (this.partialTurn && turns[turns.length - 1] === this.partialTurn) this.conversation.removeLast();
    this.partialTurn = null;
  }

  retry() {
    if (!this.lastFrame || this.stream) return;
    this.dropPartialTurn();
    this.start(structuredClone(this.lastFrame));
  }

  /** "Send again" after an error retrying will not fix: what is on screen now (the user changed something). */
  sendAgain() {
    if (this.stream) return;
    this.dropPartialTurn();
    this.send({ regenerate: true });
  }

  start(frame) {
    if (!this.socket.isOpen) {
      this.refuse("Not connected", "The websocket is reconnecting; try again in a moment.");
      return;
    }
    frame.stream = streamId("s");
    if (this.conversationId !== null) frame.conversation = this.conversationId;
    this.lastFrame = structuredClone(frame);
    this.errors.clear();
    this.errors.root.dataset.kind = "";
    this.partialTurn = null;
    this.replyTurn = null;
    const completions = frame.mode === MODE.COMPLETIONS;
    this.reply.start(frame.model, { prompt: completions ? frame.prompt : "", markdown: !completions });
    this.resetPanels();
    this.perf.setChoices(Number(frame.params?.n) > 1 ? Number(frame.params.n) : 1);
    for (const p of this.registry) this.params.showError(p.name, null);
    const stream = new LiveStream(this.socket, (state, f) => this.onStreamFrame(stream, state, f));
    this.stream = stream;
    this.setStreaming(true);
    if (stream.start(frame)) this.rememberRunning(stream);
  }

  stop() {
    const stream = this.stream;
    if (!stream) return;
    stream.stop();
    this.stopButton.disabled = true;
    this.stopButton.textContent = "Stopping…";
    // The server answers with chat.done (stopped); should that never come, end it here.
    setTimeout(() => {
      if (this.stream === stream) this.finishStream(stream, STATUS.STOPPED, "Stopped — the server did not confirm the stop.");
    }, 5000);
  }

  setStreaming(on) {
    this.stopButton.hidden = !on;
    this.stopButton.disabled = !on;
    this.stopButton.textContent = "Stop";
    document.body.classList.toggle("is-streaming", on);
    this.updateSendState();
    clearInterval(this.stallTimer);
    this.stallTimer = on ? setInterval(() => this.checkStall(), 250) : null;
  }

  /** No delta for a while in the middle of a stream. */
  checkStall() {
    const state = this.stream?.state;
    if (!state || state.lastAt === null) return;
    if (state.reconnecting) {
      this.reply.stall(null); // the card says it is reconnecting
      return;
    }
    const quiet = performance.now() - state.lastAt;
    this.reply.stall(quiet > STALL_MS ? Math.floor(quiet / 1000) : null);
  }

  /**
   * End the stream on screen. One rule for a reply that did not finish (stopped, failed, connection
   * lost): the text that arrived becomes the assistant turn, marked, exactly as the server saved it
   * (run_finish keeps a partial reply as the branch's newest message). `note` adds to the reply's
   * own note, which says what happened to its text.
   */
  finishStream(stream, status, note = null) {
    if (this.stream !== stream) return;
    this.socket.closeStream(stream.id);
    this.stream = null;
    this.rememberRunning(null);
    const chat = stream.frame.mode !== MODE.COMPLETIONS;
    const kept = status !== STATUS.DONE && this.reply.hasOutput();
    const notes = [];
    if (note) notes.push(note);
    if (kept) {
      const marked = status === STATUS.STOPPED ? "marked stopped" : "marked failed";
      notes.push(chat ? `The partial reply is kept as the assistant turn, ${marked}.` : `The partial completion is kept and saved, ${marked}.`);
    }
    this.reply.update(stream.state);
    this.reply.end(status, notes.join(" ") || null);
    this.usage.update(stream.state);
    this.setStreaming(false);
    if (kept && chat) {
      this.partialTurn = this.conversation.add("assistant", this.reply.text(0), [], { status, reveal: true });
    }
  }

  /** n > 1: make choice `index` the assistant turn that continues the conversation. */
  useChoice(index) {
    const turns = this.conversation.turns;
    if (!this.replyTurn || !turns.includes(this.replyTurn)) {
      this.replyTurn = this.conversation.add("assistant", this.reply.text(index), [], { reveal: true });
    } else {
      // No longer the saved choice 1: the next send saves this text as a branch beside it.
      this.conversation.update(this.replyTurn, { text: this.reply.text(index), id: undefined, choice: index });
    }
    this.reply.choose(index);
  }

  /** A frame of this page's stream, already folded into `state`: the panels draw the state. */
  onStreamFrame(stream, state, frame) {
    if (this.stream !== stream || !frame) return;
    this.saved.onFrame(frame);
    // Every panel draws the one state (the reply and the perf panel on the next animation frame).
    this.reply.update(state);
    this.usage.update(state);
    this.sampling.update(state, stream.frame.params);
    this.perf.update(state);
    switch (frame.type) {
      case FRAME.STARTED:
      case FRAME.ATTACHED:
        if (state.conversation !== null) {
          if (this.conversationId !== state.conversation) this.setConversationLabel(`saved as #${state.conversation}`, `Conversation #${state.conversation}`);
          this.setConversationId(state.conversation);
          this.rememberRunning(stream);
        }
        if (frame.type === FRAME.ATTACHED) {
          this.reply.resumeNote("resumed");
          if (this.errors.root.dataset.kind === "connection") this.errors.clear();
          this.onAttached(stream, state, frame);
        }
        break;
      case FRAME.SOCKET_DOWN:
        this.reply.resumeNote("reconnecting");
        break;
      case FRAME.GONE:
        this.showGone(stream);
        break;
      case FRAME.DELTA:
      case FRAME.DELTAS:
        this.reply.stall(null);
        break;
      case FRAME.DONE:
        this.onDone(stream, state, frame);
        break;
      case FRAME.ERROR:
        this.onError(stream, state);
        break;
      case FRAME.SOCKET_LOST:
        this.finishStream(stream, STATUS.ERROR, "Connection lost before the reply finished.");
        this.showConnectionLost(true);
        break;
      default:
        break;
    }
    this.extras.onFrame(stream.frame, frame, state);
  }

  /** The stream so far came back after a reload or a reconnect; it may have ended meanwhile. */
  onAttached(stream, state, frame) {
    const last = (frame.frames || []).at(-1) || {};
    if (state.status === STATUS.ERROR) this.onError(stream, state);
    else if (state.status === STATUS.DONE || state.status === STATUS.STOPPED) this.onDone(stream, state, last);
  }

  onDone(stream, state, frame) {
    if (state.status === STATUS.STOPPED) {
      this.finishStream(stream, STATUS.STOPPED, state.deltas ? "Stopped." : null);
    } else {
      const notes = [];
      if (frame.model && frame.model !== stream.frame.model) notes.push(`Answered by ${frame.model}.`);
      if (frame.saw_done_marker === false) notes.push("The stream ended without a [DONE] marker.");
      const added = stream.frame.mode !== MODE.COMPLETIONS && state.choices.size > 0;
      const multi = added && state.choices.size > 1;
      if (multi) notes.push("Choice 1 continues the conversation: “Use this reply” on another choice to continue with it instead.");
      this.finishStream(stream, STATUS.DONE, notes.join(" ") || null);
      if (added) {
        this.replyTurn = this.conversation.add("assistant", this.reply.text(0), [], { reveal: true });
        if (multi) this.reply.choose(0, (index) => this.useChoice(index));
      }
    }
    this.saved.adoptIds(state);
    this.chats.load(this.chats.query); // its title and place in the list may have changed
  }

  onError(stream, state) {
    const error = state.error;
    const message = error.message || (error.code ? `The request failed (${error.code}).` : "The request failed.");
    this.finishStream(stream, STATUS.ERROR);
    const flagged = error.param ? this.params.flagFromServer(error.param, message) : false;
    const wait = /Retry after (\d+(?:\.\d+)?) ?s/i.exec(message || "");
    // The error is said once, here, in the server's words; the Response card only says what became of the text.
    this.errors.show({
      title: error.status ? `The upstream answered ${error.status}` : "The request failed",
      message, code: error.code, status: error.status, requestId: error.request_id, param: error.param,
      detail: this.reply.hasOutput() ? "The text that arrived is kept." : null,
      retryable: error.retryable, advice: error.retryable ? null : retryAdvice(error, flagged),
      retryAfter: wait ? Number(wait[1]) : 0,
      onRetry: flagged ? undefined : error.retryable ? () => this.retry() : () => this.sendAgain(),
    });
    this.errors.root.dataset.kind = "stream";
    this.saved.adoptIds(state);
  }

  // --- Presets and View code ---------------------------------------------------------------------
  makePresets() {
    return new PresetsControl($("presets"), {
      // A preset keeps the settings part of the start frame (the Tools panel too, in its extra fields).
      read: () => {
        const settings = this.settings();
        return { mode: this.mode, model: this.model(), system_prompt: this.systemInput.value,
          params: settings.params || {}, extra: settings.extra, error: settings.error ? { param: settings.error.param, message: settings.error.message } : undefined };
      },
      apply: (preset) => {
        this.setMode(preset.mode);
        this.modelInput.value = preset.model || this.config.default_model;
        this.systemInput.value = preset.system_prompt;
        this.systemInput.dispatchEvent(new Event("input"));
        this.saved.applyParams(preset.params || {}, preset.extra || {}); // tools to the Tools panel, the rest to Extra body
      },
      flag: (name, message) => this.params.flagFromServer(name, message),
    });
  }

  /** A fresh page starts from the default preset; a restored draft or a saved conversation is left alone. */
  pristine() {
    return !this.config.conversation && this.conversationId === null && this.conversation.turns.length === 0
      && this.systemInput.value === "" && this.promptInput.value === "" && this.modelInput.value === this.config.default_model
      && [...this.params.controls.values()].every((c) => !c.isSet()) && this.params.extraArea.value.trim() === "" && !this.extras.tools.tools.length;
  }

  /** The code is rendered by the server from a code.render frame: the frame Send would send now. */
  viewCode() {
    let built = this.startFrame({ type: FRAME.CODE_RENDER });
    let note = "Exactly what Send would send now (the conversation plus the message being written); the key is read from FIREWORKS_API_KEY.";
    if (built.error && built.error.title === "Nothing to send" && this.mode !== MODE.COMPLETIONS) {
      // An empty conversation: a placeholder user message stands in for the user's.
      const saved = this.promptInput.value;
      this.promptInput.value = "Hello!";
      built = this.startFrame({ type: FRAME.CODE_RENDER });
      this.promptInput.value = saved;
      note = `The conversation is empty: a placeholder user message stands in for yours. ${note}`;
    }
    if (built.error) {
      const { title, message, param, code } = built.error;
      this.refuse(title.startsWith("Nothing") ? title : `No code: ${title}`, message, { param, code });
      return;
    }
    const frame = built.frame;
    frame.stream = streamId("code");
    this.codeDialog.open(note);
    if (!this.socket.isOpen) {
      this.codeDialog.error("Not connected: the websocket is reconnecting; try again in a moment.");
      return;
    }
    this.socket.openStream(frame.stream, (answer) => {
      this.socket.closeStream(frame.stream);
      if (answer.type === FRAME.CODE_RENDERED) this.codeDialog.show(answer.snippets);
      else this.codeDialog.error(answer.message || "The connection dropped before the code arrived.");
    });
    this.socket.send(frame);
  }
}

new PlaygroundPage();
