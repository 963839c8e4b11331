// The playground's Presets menu: apply a saved preset in one click, save the current settings as a new
// preset, update the applied one. Talks to /api/presets/ (CSRF-protected); the server checks every value
// against the parameter registry and its refusal names the parameter and its range.

import { el, clear } from "../core/dom.js";
import { csrfToken } from "../core/http.js";

const API = "/api/presets/";


async function request(url, options = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    ...options,
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), ...(options.headers || {}) },
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  if (!response.ok) {
    const error = data.error || { field: null, message: `The server answered ${response.status}.` };
    throw Object.assign(new Error(error.message), { field: error.field });
  }
  return data;
}

export class PresetsControl {
  /**
   * read() → {mode, model, system_prompt, params, extra, error}; apply(preset) fills the controls;
   * flag(field, message) marks a refused parameter in the panel.
   */
  constructor(root, { read, apply, flag }) {
    this.root = root;
    this.read = read;
    this.applySettings = apply;
    this.flag = flag || (() => false);
    this.presets = [];
    this.current = null; // the preset last applied or saved
    this.build();
  }

  build() {
    this.label = el("span", { class: "presets-current", "data-testid": "preset-current" }, "Presets");
    this.list = el("ul", { class: "presets-list", "data-testid": "preset-list" });
    this.libraryLabel = el("div", { class: "presets-section-label", "data-testid": "preset-library-label" }, "Library");
    this.libraryList = el("ul", { class: "presets-list", "data-testid": "preset-library-list" });
    this.workspace = null; // the current workspace: {id, name, role, can_publish}
    this.scopeSelect = el("select", { "aria-label": "Save to", "data-testid": "preset-scope" },
      el("option", { value: "personal" }, "My presets"), el("option", { value: "workspace" }, "Library"));
    this.scopeRow = el("label", { class: "presets-scope small", hidden: true }, "Save to", this.scopeSelect);
    this.nameInput = el("input", { type: "text", maxlength: 120, placeholder: "Preset name", "aria-label": "Preset name", "data-testid": "preset-name" });
    this.defaultBox = el("input", { type: "checkbox", "data-testid": "preset-default" });
    this.updateButton = el("button", { type: "button", class: "btn btn-sm", "data-testid": "preset-update", hidden: true, onclick: () => this.update() }, "Update");
    this.status = el("p", { class: "presets-status small", role: "status", "data-testid": "preset-status" });
    const save = el("form", { class: "presets-save", onsubmit: (event) => { event.preventDefault(); this.save(); } },
      el("div", { class: "presets-section-label" }, "Save the current settings"),
      el("div", { class: "presets-save-row" }, this.nameInput,
        el("button", { type: "submit", class: "btn btn-sm btn-primary", "data-testid": "preset-save" }, "Save")),
      this.scopeRow,
      el("label", { class: "presets-check small" }, this.defaultBox, "Default for new conversations"));
    this.menu = el("details", { class: "presets-menu", "data-testid": "presets-menu" },
      el("summary", { class: "btn btn-sm", "data-testid": "presets-toggle", title: "Apply or save a preset" }, this.label, el("span", { class: "caret", "aria-hidden": "true" }, "▾")),
      el("div", { class: "presets-pop" },
        el("div", { class: "presets-section-label" }, "My presets"),
        this.list,
        this.libraryLabel,
        this.libraryList,
        el("div", { class: "presets-update-row" }, this.updateButton),
        save,
        this.status,
        el("a", { class: "presets-manage small", href: "/presets/", "data-testid": "presets-manage" }, "Manage, compare, import and export →")));
    // Close when clicking elsewhere.
    document.addEventListener("click", (event) => {
      if (this.menu.open && !this.menu.contains(event.target)) this.menu.open = false;
    });
    // Escape closes it, focus back on its toggle.
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || !this.menu.open) return;
      this.menu.open = false;
      this.menu.querySelector("summary").focus();
    });
    this.root.append(this.menu);
    this.render();
  }

  async load() {
    try {
      const data = await request(API);
      this.workspace = data.workspace || null;
      // "My presets" and the current workspace's library (other workspaces' libraries show there).
      this.presets = data.presets.filter((p) => p.scope !== "workspace" || !this.workspace || p.workspace === this.workspace.id);
    } catch (err) {
      this.say(`Presets unavailable: ${err.message}`, true);
    }
    this.render();
    return this.presets;
  }

  render() {
    clear(this.list);
    clear(this.libraryList);
    const mine = this.presets.filter((p) => p.scope !== "workspace");
    const library = this.presets.filter((p) => p.scope === "workspace");
    const name = this.workspace ? this.workspace.name : "Workspace";
    this.libraryLabel.textContent = `${name} library`;
    if (!mine.length) this.list.append(el("li", { class: "empty-note small" }, "No presets yet: save the current settings below."));
    if (!library.length) {
      this.libraryList.append(el("li", { class: "empty-note small", "data-testid": "preset-library-empty" },
        this.workspace && this.workspace.can_publish ? "Empty: move one of yours here with ⇡." : "Empty."));
    }
    // A personal workspace has nobody to share with: no library section (unless one is left over).
    const personal = Boolean(this.workspace && this.workspace.personal);
    this.libraryLabel.hidden = personal && !library.length;
    this.libraryList.hidden = personal && !library.length;
    for (const [list, presets] of [[this.list, mine], [this.libraryList, library]]) {
      for (const preset of presets) list.append(this.item(preset));
    }
    this.label.textContent = this.current ? `Preset: ${this.current.name}` : "Presets";
    const editable = this.current && (!this.current.rights || this.current.rights.edit);
    this.updateButton.hidden = !editable;
    this.updateButton.textContent = editable ? `Update “${this.current.name}” with the current settings` : "Update";
    const publish = Boolean(this.workspace && this.workspace.can_publish && !this.workspace.personal);
    this.scopeRow.hidden = !publish;
    this.scopeSelect.options[1].textContent = `${name} library`;
    if (!publish) this.scopeSelect.value = "personal";
  }

  item(preset) {
    const sub = [preset.mode, preset.model ? preset.model.split("/").pop() : "default model", `${Object.keys(preset.params).length} set`].join(" · ");
    const toLibrary = preset.scope !== "workspace";
    const move = preset.rights && preset.rights.move && !(toLibrary && this.workspace && this.workspace.personal)
      ? el("button", { type: "button", class: "btn btn-ghost btn-xs presets-move", "data-testid": "preset-move",
        title: toLibrary ? `Move to the ${this.workspace ? this.workspace.name : ""} library: every member sees it` : "Move to My presets: only you see it",
        "aria-label": toLibrary ? `Move ${preset.name} to the library` : `Move ${preset.name} to My presets`,
        onclick: () => this.move(preset, toLibrary ? "workspace" : "personal") }, toLibrary ? "⇡" : "⇣")
      : null;
    return el("li", { class: "presets-item-row" },
      el("button", { type: "button", class: "presets-item", "data-testid": "preset-apply", dataset: { name: preset.name, scope: preset.scope },
        "aria-current": this.current && this.current.id === preset.id ? "true" : undefined, title: `Apply ${preset.name}`,
        onclick: () => this.apply(preset) },
        el("span", { class: "presets-item-name" }, preset.name, preset.is_default ? el("span", { class: "mark sent" }, "default") : null),
        el("span", { class: "presets-item-sub small muted" }, sub)),
      move);
  }

  async move(preset, scope) {
    try {
      await request(`${API}${preset.id}/`, { method: "POST", body: JSON.stringify({ scope }) });
      await this.load();
      if (this.current && this.current.id === preset.id) this.current = this.presets.find((p) => p.id === preset.id) || null;
      this.render();
      this.say(scope === "workspace" ? `Moved “${preset.name}” to the ${this.workspace ? this.workspace.name : ""} library.` : `Moved “${preset.name}” to My presets.`);
    } catch (err) {
      this.say(`Not moved: ${err.message}`, true);
    }
  }

  say(message, isError = false) {
    this.status.textContent = message;
    this.status.classList.toggle("error", isError);
  }

  apply(preset, { quiet = false } = {}) {
    this.applySettings(preset);
    this.current = preset;
    this.render();
    this.menu.open = false;
    if (!quiet) this.say(`Applied “${preset.name}”.`);
  }

  /** Start from the default preset, if one is marked (a new conversation). */
  applyDefault() {
    const preset = this.presets.find((p) => p.is_default);
    if (preset) this.apply(preset, { quiet: true });
    else {
      this.current = null;
      this.render();
    }
    return preset || null;
  }

  settings() {
    const settings = this.read();
    if (settings.error) {
      this.say(`Not saved: ${settings.error.message}`, true);
      this.flag(settings.error.param, settings.error.message);
      return null;
    }
    return { mode: settings.mode, model: settings.model, system_prompt: settings.system_prompt, params: settings.params, extra: settings.extra || {} };
  }

  async save() {
    const settings = this.settings();
    if (!settings) return;
    const name = this.nameInput.value.trim();
    if (!name) {
      this.say("Give the preset a name.", true);
      this.nameInput.focus();
      return;
    }
    const scope = this.scopeRow.hidden ? "personal" : this.scopeSelect.value;
    if (await this.send(API, { ...settings, name, scope, is_default: this.defaultBox.checked }, `Saved “${name}”.`)) {
      this.nameInput.value = "";
      this.defaultBox.checked = false;
    }
  }

  async update() {
    const settings = this.settings();
    if (!settings || !this.current) return;
    await this.send(`${API}${this.current.id}/`, settings, `Updated “${this.current.name}”.`);
  }

  async send(url, body, done) {
    try {
      const { preset } = await request(url, { method: "POST", body: JSON.stringify(body) });
      this.current = preset;
      await this.load();
      this.current = this.presets.find((p) => p.id === preset.id) || preset;
      this.render();
      this.say(done);
      return true;
    } catch (err) {
      this.say(`Not saved: ${err.message}`, true);
      if (err.field) this.flag(err.field, err.message);
      return false;
    }
  }
}
