// Saved conversations on the playground page: load /c/<id>/, keep the URL on the conversation, show
// the message tree's branches ("‹ 2/3 ›"), regenerate or fork from any message, and keep the draft and
// settings across reloads (localStorage per conversation). The server keeps every branch; the page
// only chooses which one is on screen.

import { el } from "../core/dom.js";
import { messageContent } from "./conversation.js";
import { csrfToken } from "../core/http.js";
import { fmtCost } from "../core/format.js";
import { metrics } from "../core/stream.js";

const DRAFT_PREFIX = "playground:draft:";

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.filter((p) => p && p.type === "text").map((p) => p.text || "").join("");
  return "";
}

function imagesOf(content) {
  if (!Array.isArray(content)) return [];
  return content.filter((p) => p && p.type === "image_url" && p.image_url).map((p) => ({ url: p.image_url.url }));
}


/** The conversation's tree: nodes by id, children by parent id (oldest first). */
export class MessageTree {
  constructor(messages = []) {
    this.nodes = new Map(messages.map((m) => [m.id, m]));
    this.children = new Map();
    for (const m of [...messages].sort((a, b) => a.id - b.id)) {
      const key = m.parent ?? null;
      if (!this.children.has(key)) this.children.set(key, []);
      this.children.get(key).push(m);
    }
  }

  /** A message saved just now (its id from chat.done), newest among its siblings. */
  add(message) {
    this.nodes.set(message.id, message);
    const key = message.parent ?? null;
    if (!this.children.has(key)) this.children.set(key, []);
    this.children.get(key).push(message);
  }

  /** Messages from the first one down to `leafId`. */
  path(leafId) {
    const out = [];
    let node = this.nodes.get(leafId);
    while (node && out.length <= this.nodes.size) {
      out.push(node);
      node = node.parent != null ? this.nodes.get(node.parent) : null;
    }
    return out.reverse();
  }

  siblings(id) {
    const node = this.nodes.get(id);
    return node ? this.children.get(node.parent ?? null) || [] : [];
  }

  /** The newest leaf under `id`: following the newest child at each step. */
  latestLeaf(id) {
    let node = this.nodes.get(id);
    for (let guard = 0; node && guard <= this.nodes.size; guard += 1) {
      const kids = this.children.get(node.id) || [];
      if (!kids.length) break;
      node = kids[kids.length - 1];
    }
    return node ? node.id : id;
  }
}

export class SavedConversation {
  constructor(deps) {
    Object.assign(this, deps);
    this.id = null;
    this.tree = new MessageTree();
    this.leaf = null;
    this.updatedAt = null;
    this.conversation.decorate = (turn, index) => [this.decorate(turn, index), this.actions(turn, index)];
    this.watchDraft();
    document.getElementById("new-conversation").addEventListener("click", () => {
      this.forget();
      history.replaceState(null, "", "/");
    });
    const data = this.config.conversation;
    if (data) this.load(data, { restoreDraft: true });
    else this.restoreDraft(null);
  }

  // --- Loading ---------------------------------------------------------------------------------------
  load(data, { restoreDraft = false } = {}) {
    this.id = data.id;
    this.setConversationId(data.id);
    this.tree = new MessageTree(data.messages);
    this.leaf = data.current_leaf;
    this.updatedAt = data.updated_at;
    this.lastRun = data.last_run || null;
    this.showCost(data.cost || null);
    this.setConversationLabel(data.title ? `“${data.title}” · #${data.id}` : `saved as #${data.id}`, `Conversation #${data.id}`);
    if (document.querySelector('[data-mode][aria-checked="true"]')?.dataset.mode !== data.mode) this.setMode(data.mode);
    this.modelInput.value = data.model || this.config.default_model;
    this.applyParams(data.params || {}, data.extra || {});
    this.system.value = data.system_prompt || "";
    this.showPath();
    if (restoreDraft) this.restoreDraft(data.updated_at);
    if (data.streaming) this.waitForSave();
  }

  /** Put the branch ending at this.leaf into the editor and its reply into the response panel. */
  showPath() {
    const path = this.leaf != null ? this.tree.path(this.leaf) : [];
    const turns = [...path];
    if (turns.length && turns[0].role === "system") this.system.value = textOf(turns.shift().content);
    const completions = document.querySelector('[data-mode="completions"]')?.getAttribute("aria-checked") === "true";
    if (completions) {
      const first = turns.find((m) => m.role === "user");
      if (first && this.promptInput.value.trim() === "") this.promptInput.value = textOf(first.content);
      this.conversation.replace([]);
    } else {
      this.conversation.replace(turns.map((m) => ({
        role: m.role, text: textOf(m.content), images: imagesOf(m.content), id: m.id, run: m.run, runStatus: m.run_status,
        ...(m.tool_calls ? { tool_calls: m.tool_calls } : {}), ...(m.tool_call_id ? { tool_call_id: m.tool_call_id } : {}),
      })));
    }
    this.system.dispatchEvent(new Event("input"));
    this.showOutput();
  }

  /** The Response card and the Usage/Performance/Sampling panels for the branch on screen. */
  showOutput() {
    const path = this.leaf != null ? this.tree.path(this.leaf) : [];
    const completions = document.querySelector('[data-mode="completions"]')?.getAttribute("aria-checked") === "true";
    const first = completions ? path.find((m) => m.role === "user") : null;
    const prompt = first ? textOf(first.content) : "";
    const last = path[path.length - 1];
    const run = this.lastRun && this.leaf != null && (this.lastRun.message === this.leaf || this.lastRun.follows === this.leaf) ? this.lastRun : null;
    if (last && last.role === "assistant") this.showReply(last, prompt);
    else if (run && run.status !== "done") this.showReply(null, prompt, run); // failed or stopped before any text
    this.showSavedRun(run);
  }

  /** The saved reply in the Response card; with no message, the run that ended before any text. */
  showReply(message, prompt = "", run = null) {
    const runStatus = message ? message.run_status : run.status;
    const status = { done: "done", stopped: "stopped", error: "error" }[runStatus] || "done";
    this.reply.start(run?.response_model || this.modelInput.value, { prompt });
    if (message && (textOf(message.content) || message.reasoning)) this.reply.showSaved(textOf(message.content), message.reasoning || "");
    const where = prompt ? "" : " as the assistant turn";
    const notes = { stopped: `Stopped — the partial reply was saved${where}.`, error: `Failed — the text that arrived was saved${where}.` };
    this.reply.end(status, message && this.reply.hasOutput() ? notes[status] || null : null);
    const runId = message ? message.run : run.id;
    if (runId) {
      this.reply.root.append(el("a", { class: "small", href: `/runs/${runId}/`, "data-testid": "reply-run-link" }, `Run #${runId} details →`));
    }
  }

  async fetchData() {
    const response = await fetch(`/c/${this.id}/data/`, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  /** A reply was streaming when the page loaded: the server saves it as stopped; show it once saved. */
  async waitForSave() {
    for (let i = 0; i < 40; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (this.isStreaming()) return;
      const data = await this.fetchData().catch(() => null);
      if (data && !data.streaming) {
        this.tree = new MessageTree(data.messages);
        this.leaf = data.current_leaf;
        this.lastRun = data.last_run || null;
        this.showPath();
        return;
      }
    }
  }

  // --- Stream frames (called first for every frame of the page's stream) ---------------------------
  onFrame(frame) {
    if ((frame.type === "chat.started" || frame.type === "chat.attached") && frame.conversation != null) {
      if (this.id !== frame.conversation) {
        this.forget();
        this.id = frame.conversation;
      }
      if (location.pathname !== `/c/${frame.conversation}/`) history.replaceState(null, "", `/c/${frame.conversation}/`);
      this.saveDraft();
    }
  }

  /**
   * A run ended (chat.done or chat.error, folded into `state`), after the page added its reply as a
   * turn: the frame's message_ids (the saved branch, root first) give the turns on screen their ids,
   * and the tree learns the new messages, without asking the server again.
   */
  adoptIds(state) {
    const ids = state.done?.message_ids || [];
    const runCost = this.addRunCost(state) ?? null;
    if (state.run == null || this.id == null || !ids.length) return;
    const turns = this.conversation.turns;
    // The branch may start with the system message, which is not a turn: match from the end.
    const offset = ids.length - turns.length;
    if (offset < 0) return;
    let parent = offset > 0 ? ids[offset - 1] : null;
    turns.forEach((turn, i) => {
      const id = ids[offset + i];
      const known = this.tree.nodes.get(id);
      const last = i === turns.length - 1;
      const fields = { id };
      if (last && turn.role === "assistant") Object.assign(fields, { run: state.run, runStatus: state.status });
      if (!known) {
        this.tree.add({ id, parent, role: turn.role, content: turn.role === "user" ? messageContent(turn.text, turn.images) : turn.text,
          run: fields.run ?? turn.run ?? null, run_status: fields.runStatus ?? turn.runStatus ?? null,
          run_by: fields.run ? this.config.username : null, cost: fields.run ? runCost : null,
          ...(turn.tool_calls ? { tool_calls: turn.tool_calls } : {}), ...(turn.tool_call_id ? { tool_call_id: turn.tool_call_id } : {}) });
      }
      Object.assign(turn, fields);
      parent = id;
    });
    this.leaf = ids[ids.length - 1];
    this.conversation.render();
    this.saveDraft();
  }

  // --- Branch controls on each turn -----------------------------------------------------------------
  decorate(turn, index) {
    if (turn.id == null || !this.tree.nodes.has(turn.id)) return [];
    const parts = [];
    const siblings = this.tree.siblings(turn.id);
    if (siblings.length > 1) {
      const at = siblings.findIndex((m) => m.id === turn.id);
      const go = (delta) => this.switchTo(siblings[at + delta].id);
      parts.push(el("span", { class: "branch-switch", "data-testid": "branch-switch", title: "Other versions of this message" },
        el("button", { type: "button", "aria-label": "Previous version", disabled: at === 0, "data-testid": "branch-prev", onclick: () => go(-1) }, "‹"),
        el("span", { "data-testid": "branch-position" }, `${at + 1}/${siblings.length}`),
        el("button", { type: "button", "aria-label": "Next version", disabled: at === siblings.length - 1, "data-testid": "branch-next", onclick: () => go(1) }, "›")));
    }
    if (turn.role === "assistant" && turn.run) {
      parts.push(el("a", { class: "turn-link", href: `/runs/${turn.run}/`, title: "Everything about the run that wrote this reply", "data-testid": "turn-run-link" }, "run ↗"));
      const by = this.tree.nodes.get(turn.id)?.run_by;
      if (by) parts.push(el("span", { class: "turn-by small muted", "data-testid": "turn-run-by", title: `Run by ${by}: who started the run that wrote this reply` }, `Run by ${by}`));
      const cost = this.tree.nodes.get(turn.id)?.cost;
      if (cost != null) parts.push(el("span", { class: "turn-cost small muted", "data-testid": "turn-cost", "data-usd": String(cost), title: "What the run that wrote this reply cost" }, fmtCost(cost)));
    }
    return parts;
  }

  /** Buttons for the turn's head: regenerate from here, fork (saved turns only). */
  actions(turn, index) {
    const buttons = [];
    // A viewer reads and watches: no regenerating, no forking into a workspace they cannot create in.
    if ((turn.role === "user" || turn.role === "assistant") && this.access.can("can_run")) {
      buttons.push(el("button", { type: "button", class: "btn btn-ghost btn-xs", "data-testid": "turn-regenerate",
        title: turn.role === "user" ? "Send the conversation up to this message again (edits included) and get a new reply; later turns stay on their branch"
          : "Ask for this reply again: the new one becomes another version",
        onclick: () => this.regenerate(index) }, "↻"));
    }
    if (turn.id != null && this.id != null && this.access.can("can_fork")) {
      buttons.push(el("button", { type: "button", class: "btn btn-ghost btn-xs", "data-testid": "turn-fork",
        title: "Fork into a new conversation with the messages up to this one", onclick: () => this.fork(turn.id) }, "Fork"));
    }
    return buttons;
  }

  regenerate(index) {
    if (this.isStreaming()) return;
    const keep = this.conversation.turns[index].role === "assistant" ? index : index + 1;
    this.conversation.truncate(keep);
    this.send({ regenerate: true });
  }

  switchTo(id) {
    if (this.isStreaming()) return;
    this.leaf = this.tree.latestLeaf(id);
    this.lastRun = null; // the panels follow once the server has the branch on screen
    this.showPath();
    const leaf = this.leaf;
    const body = new URLSearchParams({ message: String(leaf) });
    fetch(`/c/${this.id}/leaf/`, { method: "POST", body, headers: { "X-CSRFToken": csrfToken() } })
      .then(() => this.fetchData())
      .then((data) => {
        if (this.leaf !== leaf || this.isStreaming() || data.current_leaf !== leaf) return;
        this.lastRun = data.last_run || null;
        this.showOutput();
      })
      .catch(() => {});
  }

  fork(messageId) {
    const form = el("form", { method: "post", action: `/c/${this.id}/fork/`, hidden: true },
      el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken() }),
      el("input", { type: "hidden", name: "message", value: String(messageId) }));
    document.body.append(form);
    form.submit();
  }

  // --- Parameters ------------------------------------------------------------------------------------
  snapshotParams() {
    const values = {};
    for (const [name, control] of this.params.controls) {
      try {
        if (control.isSet() && !control.validate()) values[name] = control.get();
      } catch {
        /* half-typed JSON: not kept */
      }
    }
    return { params: values, extra: this.params.extraArea.value, ...(this.tools ? { tools: this.tools.snapshot() } : {}) };
  }

  /**
   * Parameters and extra fields from the server (an object) or a draft (the Extra body text as typed,
   * with the Tools panel kept apart). tools/tool_choice go to the Tools panel; parallel_tool_calls to
   * its control; the rest into Extra body.
   */
  applyParams(values, extra, toolsSnapshot = null) {
    if (typeof extra === "string") {
      this.params.applyValues(values, {});
      this.params.extraArea.value = extra;
      this.params.validateExtra();
      if (this.tools && toolsSnapshot) this.tools.restore(toolsSnapshot); // an older draft: as loaded
      return;
    }
    const { parallel_tool_calls: parallel, ...fields } = extra || {};
    const rest = this.tools ? this.tools.take(fields) : fields;
    const merged = parallel !== undefined && (values || {}).parallel_tool_calls === undefined ? { ...values, parallel_tool_calls: parallel } : values;
    this.params.applyValues(merged, rest);
  }

  // --- Drafts: the message being written and unsent settings survive a reload ------------------------
  key(id = this.id) {
    return `${DRAFT_PREFIX}${id ?? "new"}`;
  }

  watchDraft() {
    let timer = null;
    const later = () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.saveDraft(), 200);
    };
    for (const node of [this.promptInput, this.modelInput, this.system, document.getElementById("params"), this.tools?.root].filter(Boolean)) {
      node.addEventListener("input", later);
      node.addEventListener("change", later);
    }
    this.tools?.root.addEventListener("click", later); // + Add tool, ✕

    for (const button of document.querySelectorAll("[data-mode]")) button.addEventListener("click", later);
    window.addEventListener("pagehide", () => this.saveDraft());
  }

  saveDraft() {
    try {
      const mode = document.querySelector('[data-mode][aria-checked="true"]')?.dataset.mode || "chat";
      localStorage.setItem(this.key(), JSON.stringify({
        prompt: this.promptInput.value, model: this.modelInput.value, system: this.system.value, mode,
        ...this.snapshotParams(), savedAt: new Date().toISOString(),
      }));
    } catch {
      /* storage full or disabled: the server copy still has the settings of the last send */
    }
  }

  /** Restore the draft; settings only when they are newer than what the server saved. */
  restoreDraft(serverUpdatedAt) {
    let draft = null;
    try {
      draft = JSON.parse(localStorage.getItem(this.key()) || "null");
    } catch {
      draft = null;
    }
    if (!draft) return;
    if (draft.prompt && this.promptInput.value === "") {
      this.promptInput.value = draft.prompt;
      this.promptInput.dispatchEvent(new Event("input"));
    }
    if (!serverUpdatedAt || (draft.savedAt && draft.savedAt > new Date(serverUpdatedAt).toISOString())) {
      if (draft.mode) this.setMode(draft.mode);
      if (draft.model) this.modelInput.value = draft.model;
      this.system.value = draft.system ?? this.system.value;
      this.system.dispatchEvent(new Event("input"));
      try {
        this.applyParams(draft.params || {}, draft.extra || "", draft.tools || null);
      } catch {
        /* a stale draft that no longer fits the registry */
      }
    }
  }

  forget() {
    try {
      localStorage.removeItem(this.key("new"));
    } catch {
      /* nothing to forget */
    }
    if (this.id == null) return;
    this.id = null;
    this.tree = new MessageTree();
    this.leaf = null;
    this.showCost(null);
  }

  // --- Cost: the conversation's runs summed (server: playground/pricing cost_sum), each reply's own --
  /** `cost`: {total, runs, unpriced} (null: nothing to say). */
  showCost(cost) {
    this.cost = cost ? { ...cost } : null;
    this.costedRuns = new Set();
    const node = document.getElementById("conversation-cost");
    if (!node) return;
    const runs = cost ? cost.runs + cost.unpriced : 0;
    node.hidden = !runs;
    if (!runs) return node.replaceChildren();
    node.dataset.usd = cost.total === null ? "" : String(cost.total);
    const unpriced = cost.unpriced ? `; ${cost.unpriced} without a cost (no price or no usage)` : "";
    node.textContent = `This conversation: ${cost.total === null ? "cost unknown" : fmtCost(cost.total)} over ${runs} run${runs === 1 ? "" : "s"}${unpriced}`;
    node.title = "What every run of this conversation cost, all branches, summed";
  }

  /** A run of this page ended: its cost joins the conversation's (once). */
  addRunCost(state) {
    if (state.run == null || this.costedRuns?.has(state.run)) return;
    const cost = metrics(state).cost;
    const exact = cost && !cost.estimated ? cost.total : null;
    const sum = this.cost || { total: null, runs: 0, unpriced: 0 };
    const next = exact === null
      ? { ...sum, unpriced: sum.unpriced + 1 }
      : { total: (sum.total ?? 0) + exact, runs: sum.runs + 1, unpriced: sum.unpriced };
    const seen = this.costedRuns || new Set();
    this.showCost(next);
    this.costedRuns = seen;
    this.costedRuns.add(state.run);
    return exact;
  }
}
