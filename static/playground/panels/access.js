// What the playground page lets this user do, from the rights the server put in the page data
// (playground/selectors/conversations.py, conversation_rights): a viewer (or anyone who may not run the
// conversation on screen) gets a read-only page — no Send, no regenerate, no fork into a workspace where
// they cannot create — and can still watch runs live. Owners and editors get a Share button and the
// visibility toggle (private ↔ workspace) for a saved conversation. The server checks every action again.

import { el, clear } from "../core/dom.js";
import { csrfToken } from "../core/http.js";

const NONE = { can_run: false, can_edit: false, can_share: false, can_set_visibility: false, can_fork: false };


function idFromPath() {
  const match = location.pathname.match(/^\/c\/(\d+)\/$/);
  return match ? Number(match[1]) : null;
}

export class Access {
  /** config: the playground page's config (rights, workspace, the saved conversation). */
  constructor(config) {
    this.config = config;
    this.loaded = config.conversation || null; // the saved conversation the page opened with
    this.workspace = config.workspace || { id: null, name: "this workspace" };
    this.role = config.role;
    this.id = undefined;
    this.state = null; // {id, rights, role, workspace, visibility}
    this.banner = el("div", { class: "readonly-note", role: "note", "data-testid": "readonly-note", hidden: true });
    this.tools = el("div", { class: "conversation-access", "data-testid": "conversation-access" });
    // Ctrl/⌘+Enter sends: stop it before app.js sees it when the page is read-only.
    document.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !this.can("can_run")) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }, true);
  }

  /** Whether the page allows `right` ("can_run", "can_edit", "can_share", "can_set_visibility", "can_fork"). */
  can(right) {
    const state = this.current();
    return Boolean(state.rights[right]);
  }

  /** The rights for the conversation on screen (the URL says which; a new one is the current workspace's). */
  current() {
    const id = idFromPath();
    if (this.state && this.state.id === id) return this.state;
    const writer = Boolean(this.config.workspace_rights && this.config.workspace_rights.can_run);
    if (id !== null && this.loaded && this.loaded.id === id) {
      this.state = { id, rights: { ...NONE, ...this.loaded.rights }, role: this.loaded.role,
        workspace: this.loaded.workspace, visibility: this.loaded.visibility };
    } else if (id !== null) {
      // Saved on this page just now: the user's own, private, in the current workspace.
      this.state = { id, rights: { ...NONE, can_run: writer, can_edit: writer, can_share: writer, can_set_visibility: writer, can_fork: writer },
        role: this.role, workspace: this.workspace, visibility: "private" };
    } else {
      this.state = { id, rights: { ...NONE, ...(this.config.workspace_rights || {}) }, role: this.role, workspace: this.workspace, visibility: null };
    }
    return this.state;
  }

  /** Put the banner and the sharing controls on the page; follow the conversation on screen. */
  mount() {
    const composer = document.querySelector('[data-testid="composer"]');
    if (composer) composer.prepend(this.banner);
    // A row of its own under the Conversation panel's head (the head keeps the title and + Add turn).
    const head = document.getElementById("add-turn")?.closest(".panel-head");
    if (head) head.after(this.tools);
    this.refresh();
    setInterval(() => this.refresh(), 250);
  }

  /**
   * Read-only: the turns' text and roles, the Tools and Predicted output panels cannot be edited (their
   * buttons are hidden by teams.css). Checked on every tick, as turns and tools are redrawn; only what
   * this locked is unlocked again.
   */
  lock(readOnly) {
    const texts = '[data-testid="turn-text"], .tools-panel input, .tools-panel textarea, [data-testid="prediction-input"]';
    const selects = '[data-testid="turn-role"], [data-testid="tool-choice"]';
    if (readOnly) {
      for (const node of document.querySelectorAll(texts)) {
        if (!node.readOnly) Object.assign(node, { readOnly: true }).dataset.locked = "1";
      }
      for (const node of document.querySelectorAll(selects)) {
        if (!node.disabled) Object.assign(node, { disabled: true }).dataset.locked = "1";
      }
    } else {
      for (const node of document.querySelectorAll("[data-locked]")) {
        if (node.matches(texts)) node.readOnly = false;
        if (node.matches(selects)) node.disabled = false;
        delete node.dataset.locked;
      }
    }
  }

  refresh() {
    const state = this.current();
    this.lock(!state.rights.can_run);
    const key = JSON.stringify(state);
    if (key === this.shown) return;
    this.shown = key;
    const readOnly = !state.rights.can_run;
    const name = state.workspace ? state.workspace.name : "this workspace";
    this.banner.hidden = !readOnly;
    this.banner.textContent = "";
    if (readOnly) {
      this.banner.append(
        el("strong", {}, state.role === "viewer" ? `Read-only: you are a viewer in ${name}.` : "Read-only: your role does not allow running this conversation."),
        " You can read it and watch runs live as they happen; ask an owner for the editor role to run it.");
    }
    document.body.classList.toggle("read-only", readOnly);
    for (const id of ["send", "add-turn"]) {
      const button = document.getElementById(id);
      if (button) button.hidden = readOnly;
    }
    const prompt = document.getElementById("prompt-input");
    if (prompt) prompt.readOnly = readOnly;
    this.renderTools(state);
  }

  renderTools(state) {
    clear(this.tools);
    if (state.id == null || !state.visibility) return;
    const shared = state.visibility === "workspace";
    // In a personal workspace there is nobody to share with: no visibility toggle, only share links.
    const personal = Boolean(state.workspace && state.workspace.personal) && !shared;
    const name = state.workspace ? state.workspace.name : "the workspace";
    const label = shared ? `Shared with ${name}` : "Private";
    if (personal) {
      this.tools.append(el("span", { class: "chip", "data-testid": "visibility-chip", title: "Your personal workspace: only you see it. Share links still work." }, "Private"));
    } else if (state.rights.can_set_visibility) {
      this.tools.append(el("button", { type: "button", class: `btn btn-sm visibility-toggle${shared ? " on" : ""}`, "data-testid": "visibility-toggle",
        "aria-pressed": shared ? "true" : "false",
        title: shared ? `Every member of ${name} sees it. Click to make it private.` : `Only you see it. Click to share it with ${name}.`,
        onclick: () => this.setVisibility(state, shared ? "private" : "workspace") }, label));
      this.tools.append(el("span", { class: "small muted" }, shared ? "· click to make it private" : `· click to share it with ${name}`));
    } else {
      this.tools.append(el("span", { class: "chip", "data-testid": "visibility-chip", title: "Who in the workspace sees this conversation" }, label));
    }
    if (state.rights.can_share) {
      this.tools.append(el("span", { class: "spacer" }));
      this.tools.append(el("a", { class: "btn btn-sm", href: `/c/${state.id}/share/`, "data-testid": "share-button",
        title: "Share links: read-only, revocable, with an optional expiry" }, "Share…"));
    }
  }

  async setVisibility(state, visibility) {
    const body = new URLSearchParams({ visibility });
    const response = await fetch(`/c/${state.id}/visibility/`, {
      method: "POST", body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    }).catch(() => null);
    if (response && response.ok) {
      state.visibility = visibility;
      if (this.loaded && this.loaded.id === state.id) this.loaded.visibility = visibility;
      this.shown = null;
      this.refresh();
    }
  }
}

