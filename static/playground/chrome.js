// The app's chrome on every page: the theme (the system's, or pinned with the header's toggle), the
// header's menu on phones, and the one list of keyboard shortcuts (the "?" button or key).

import { el } from "./core/dom.js";

const THEME_KEY = "playground:theme";
const THEMES = ["auto", "dark", "light"];
const THEME_LABELS = { auto: "Theme: follows the system", dark: "Theme: dark", light: "Theme: light" };
const THEME_ICONS = { auto: "◐", dark: "☾", light: "☀" };

// Every shortcut of the app, in one place: [keys, what, where].
export const SHORTCUTS = [
  ["Ctrl/⌘ + Enter", "Send the message", "Playground, Compare"],
  ["Esc", "Stop the reply that is streaming", "Playground, Compare"],
  ["→ or Space", "Send the next prompt to every model", "Presentation"],
  ["←", "Back to the previous prompt", "Presentation"],
  ["Esc", "Stop; a second Esc leaves the stage", "Presentation"],
  ["P", "Show or hide the parameters", "Presentation"],
  ["?", "This list", "Everywhere"],
];

function storedTheme() {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return THEMES.includes(value) ? value : "auto";
  } catch {
    return "auto";
  }
}

function applyTheme(theme) {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const toggle = document.querySelector("[data-testid='theme-toggle']");
  if (toggle) {
    toggle.textContent = THEME_ICONS[theme];
    toggle.title = `${THEME_LABELS[theme]} (click to change)`;
    toggle.setAttribute("aria-label", THEME_LABELS[theme]);
    toggle.dataset.theme = theme;
  }
}

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

class Chrome {
  constructor() {
    this.theme = storedTheme();
    applyTheme(this.theme);
    this.dialog = null;
    document.querySelector("[data-testid='theme-toggle']")?.addEventListener("click", () => this.nextTheme());
    const menu = document.querySelector("[data-testid='menu-toggle']");
    menu?.addEventListener("click", () => {
      const open = menu.closest(".topbar").classList.toggle("nav-open");
      menu.setAttribute("aria-expanded", String(open));
    });
    this.wireMore();
    document.querySelector("[data-testid='shortcuts-open']")?.addEventListener("click", () => this.showShortcuts());
    document.addEventListener("keydown", (event) => {
      if (event.key === "?" && !typing(event.target) && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        this.showShortcuts();
      }
    });
  }

  // The header's "More" menu: opens on click, closes on a click elsewhere, Escape or a choice.
  wireMore() {
    const toggle = document.querySelector("[data-testid='nav-more']");
    const menu = toggle?.closest(".nav-more");
    if (!toggle || !menu) return;
    const set = (open) => {
      menu.classList.toggle("open", open);
      toggle.setAttribute("aria-expanded", String(open));
    };
    toggle.addEventListener("click", () => set(!menu.classList.contains("open")));
    document.addEventListener("click", (event) => {
      if (menu.classList.contains("open") && !menu.contains(event.target)) set(false);
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menu.classList.contains("open")) {
        event.stopImmediatePropagation();
        set(false);
        toggle.focus();
      }
    }, true);
  }

  nextTheme() {
    this.theme = THEMES[(THEMES.indexOf(this.theme) + 1) % THEMES.length];
    try {
      localStorage.setItem(THEME_KEY, this.theme);
    } catch {
      // Private mode without storage: the choice lasts for this page.
    }
    applyTheme(this.theme);
  }

  showShortcuts() {
    if (!this.dialog) {
      const rows = SHORTCUTS.map(([keys, what, where]) => el("tr", {}, el("th", { scope: "row" }, el("kbd", {}, keys)), el("td", {}, what, el("span", { class: "small muted" }, ` · ${where}`))));
      const close = el("button", { type: "button", class: "btn btn-sm", "data-testid": "shortcuts-close" }, "Close");
      this.dialog = el("dialog", { class: "shortcuts-dialog", "data-testid": "shortcuts", "aria-labelledby": "shortcuts-title" },
        el("h2", { id: "shortcuts-title" }, "Keyboard shortcuts"),
        el("table", {}, el("tbody", {}, rows)),
        el("div", { class: "dialog-actions" }, close));
      close.addEventListener("click", () => this.dialog.close());
      this.dialog.addEventListener("click", (event) => { if (event.target === this.dialog) this.dialog.close(); });
      document.body.append(this.dialog);
    }
    if (!this.dialog.open) this.dialog.showModal();
  }
}

// Before the first paint where possible (a module runs after parsing, still before most paints).
new Chrome();
