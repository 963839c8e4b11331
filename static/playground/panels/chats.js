// Recent conversations beside the playground (/api/conversations/: the current workspace's, as the list
// page filters them), with a search box searched on the server. Fetched after the page has loaded, so
// it never delays the first paint. The conversation on screen is marked; a click opens another.

import { el, clear } from "../core/dom.js";
import { api } from "../core/http.js";
import { shortModel } from "../core/models.js";

const SEARCH_DELAY_MS = 250; // debounce: one request once typing pauses

export class ChatsSidebar {
  /** `root` is the aside; `current` the conversation on screen (null for a new one). */
  constructor(root, { current = null } = {}) {
    this.root = root;
    this.current = current;
    this.list = root.querySelector("[data-testid='chats-list']");
    this.status = root.querySelector("[data-testid='chats-status']");
    this.search = root.querySelector("[data-testid='chats-search']");
    this.query = "";
    this.timer = null;
    this.request = 0; // only the newest answer is drawn: an older, slower one is dropped
    this.items = [];
    this.search.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.load(this.search.value.trim()), SEARCH_DELAY_MS);
    });
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.search.value) {
        event.preventDefault(); // clears the search, rather than stopping a stream or closing the drawer
        this.search.value = "";
        clearTimeout(this.timer);
        this.load("");
      }
    });
  }

  /** The first load, once the page is drawn. */
  start() {
    const go = () => this.load("");
    if (document.readyState === "complete") setTimeout(go, 0);
    else window.addEventListener("load", go, { once: true });
  }

  async load(query) {
    const ticket = ++this.request;
    this.query = query;
    this.root.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await api(`/api/conversations/${query ? `?q=${encodeURIComponent(query)}` : ""}`);
    } catch (error) {
      if (ticket !== this.request) return;
      this.root.removeAttribute("aria-busy");
      this.showStatus(`Could not load the conversations: ${error.message}`, true);
      return;
    }
    if (ticket !== this.request) return;
    this.root.removeAttribute("aria-busy");
    this.items = data.conversations || [];
    this.draw();
  }

  /** The conversation on screen changed (saved for the first time, or New): mark it, list it. */
  setCurrent(id) {
    if (id === this.current) return;
    this.current = id;
    if (id !== null && !this.items.some((c) => c.id === id)) this.load(this.query);
    else this.mark();
  }

  showStatus(text, error = false) {
    this.status.textContent = text;
    this.status.hidden = !text;
    this.status.classList.toggle("is-error", error);
  }

  draw() {
    clear(this.list);
    if (!this.items.length) {
      this.showStatus(this.query ? `No conversation matches “${this.query}”.` : "No conversations yet: your chats appear here once sent.");
      return;
    }
    this.showStatus("");
    for (const c of this.items) {
      const link = el("a", { href: `/c/${c.id}/`, class: "chat-link", "data-testid": "chat-link", dataset: { id: c.id }, title: c.title },
        el("span", { class: "chat-title" }, c.title || `Conversation #${c.id}`),
        el("span", { class: "chat-meta" }, el("span", { class: "chat-model" }, shortModel(c.model)), el("span", { class: "chat-ago" }, ` · ${c.ago}`)));
      this.list.append(el("li", {}, link));
    }
    this.mark();
  }

  mark() {
    for (const link of this.list.querySelectorAll("a[data-id]")) {
      if (Number(link.dataset.id) === this.current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }
}

/** The sidebar's toggle: a column on wide screens (hidden or shown, remembered), a drawer on narrow ones. */
export function wireChatsToggle({ open, close, drawerClass = "chats-drawer", hiddenClass = "chats-hidden", storageKey = "playground:chats-hidden" }) {
  const narrow = window.matchMedia("(max-width: 1199px)");
  const body = document.body;
  let hidden = false;
  try {
    hidden = localStorage.getItem(storageKey) === "1";
  } catch {
    // No storage: shown.
  }
  const sync = () => {
    body.classList.toggle(hiddenClass, hidden && !narrow.matches);
    open.setAttribute("aria-expanded", String(narrow.matches ? body.classList.contains(drawerClass) : !hidden));
  };
  const setDrawer = (on) => {
    body.classList.toggle(drawerClass, on);
    sync();
    if (on) close.focus();
    else if (document.activeElement?.closest?.("#chats-drawer")) open.focus();
  };
  open.addEventListener("click", () => {
    if (narrow.matches) {
      setDrawer(!body.classList.contains(drawerClass));
      return;
    }
    hidden = !hidden;
    try {
      localStorage.setItem(storageKey, hidden ? "1" : "0");
    } catch {
      // The choice lasts for this page.
    }
    sync();
  });
  close.addEventListener("click", () => setDrawer(false));
  document.addEventListener("click", (event) => {
    if (body.classList.contains(drawerClass) && event.target === body) setDrawer(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && body.classList.contains(drawerClass) && !event.defaultPrevented) setDrawer(false);
  });
  narrow.addEventListener("change", () => {
    body.classList.remove(drawerClass);
    sync();
  });
  sync();
}
