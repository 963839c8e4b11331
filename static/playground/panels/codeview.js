// "View code": one tab per language with a copy button. Used by the run code page (server-rendered
// tabs, enhanced here) and by the playground's "View code" dialog (rendered here from code.rendered).

import { el, clear } from "../core/dom.js";
import { copyText } from "../core/clipboard.js";
import { highlightElement } from "../core/markdown.js";

export const LANGUAGES = [
  ["python_openai", "Python · OpenAI SDK"],
  ["python_fireworks", "Python · fireworks-ai SDK"],
  ["javascript", "JavaScript · OpenAI SDK"],
  ["curl", "curl"],
];
const STORAGE_KEY = "playground.codeLanguage";
// The highlight.js language of each snippet.
const HIGHLIGHT = { python_openai: "python", python_fireworks: "python", javascript: "javascript", curl: "bash" };

/** Make server-rendered or freshly built tabs work: switching (remembered) and copying. */
export function enhanceTabs(root) {
  const tabs = [...root.querySelectorAll("[data-tab]")];
  const select = (key) => {
    if (!tabs.some((t) => t.dataset.tab === key)) return;
    for (const tab of tabs) tab.setAttribute("aria-selected", String(tab.dataset.tab === key));
    for (const panel of root.querySelectorAll("[data-panel]")) panel.hidden = panel.dataset.panel !== key;
  };
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      select(tab.dataset.tab);
      try { localStorage.setItem(STORAGE_KEY, tab.dataset.tab); } catch { /* private mode */ }
    });
  }
  for (const panel of root.querySelectorAll("[data-panel]")) {
    const code = panel.querySelector("pre code");
    if (code && HIGHLIGHT[panel.dataset.panel]) {
      highlightElement(code, HIGHLIGHT[panel.dataset.panel]);
      code.closest("pre").classList.add("md-hl");
    }
  }
  for (const button of root.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copyText(button.closest("[data-panel]").querySelector("code").textContent, button));
  }
  let saved = null;
  try { saved = localStorage.getItem(STORAGE_KEY); } catch { /* private mode */ }
  if (saved) select(saved);
}

/** Build the tabs for a {language: code} object into container. */
export function renderCode(container, snippets) {
  clear(container);
  const list = el("div", { class: "code-tablist", role: "tablist", "aria-label": "Language" });
  const root = el("div", { class: "code-tabs", "data-testid": "code-tabs" }, list);
  LANGUAGES.forEach(([key, label], index) => {
    if (!(key in snippets)) return;
    list.append(el("button", { type: "button", role: "tab", "aria-selected": String(index === 0), dataset: { tab: key }, "data-testid": `code-tab-${key}` }, label));
    root.append(el("div", { class: "code-panel", role: "tabpanel", dataset: { panel: key }, "data-testid": `code-${key}`, hidden: index !== 0 },
      el("button", { type: "button", class: "btn btn-sm code-copy", "data-copy": true, "data-testid": `code-copy-${key}` }, "Copy"),
      el("pre", { class: "code" }, el("code", {}, snippets[key]))));
  });
  container.append(root);
  enhanceTabs(root);
}

/** A modal dialog showing code for the playground's current settings. */
export class CodeDialog {
  constructor() {
    this.body = el("div", { class: "code-dialog-body" });
    this.note = el("p", { class: "small muted code-dialog-note" });
    this.dialog = el("dialog", { class: "code-dialog", "data-testid": "code-dialog", "aria-labelledby": "code-dialog-title" },
      el("div", { class: "panel-head" },
        el("h2", { id: "code-dialog-title" }, "Code for the current settings"),
        el("button", { type: "button", class: "btn btn-ghost btn-sm", "data-testid": "code-dialog-close", onclick: () => this.dialog.close() }, "Close")),
      this.note, this.body);
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.dialog.close(); // a click on the backdrop
    });
    document.body.append(this.dialog);
  }

  open(note) {
    this.note.textContent = note;
    this.body.replaceChildren(el("p", { class: "empty-note" }, "Rendering…"));
    if (!this.dialog.open) this.dialog.showModal();
  }

  show(snippets) {
    renderCode(this.body, snippets);
  }

  error(message) {
    this.body.replaceChildren(el("div", { class: "error-panel", role: "alert", "data-testid": "code-dialog-error" }, message));
  }
}

