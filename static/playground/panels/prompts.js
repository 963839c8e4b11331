// Saved prompts in the playground: the bar above the message box says which saved prompt and version
// is on screen ("Greeter · v3 · production"), saves the page as a new version of it or as a new prompt
// (with a note; shared with the workspace or personal), and restores a version (/?version=<id>).
// The server keeps every version immutable (playground/prompts/); this only reads and posts.

import { el, clear } from "../core/dom.js";
import { api } from "../core/http.js";

export class PromptControl {
  /**
   * `read()` gives the version's fields from the page ({mode, model, messages|prompt, params, extra,
   * variables}) or {error}; `apply(version)` puts a version into the page.
   */
  constructor(root, { read, apply }) {
    this.root = root;
    this.read = read;
    this.apply = apply;
    this.current = null; // {prompt: {id, name}, id, number, labels, rights}
    this.workspace = null;
    this.status = el("span", { class: "prompt-status small", "data-testid": "prompt-status" });
    this.saveVersionButton = el("button", { type: "button", class: "btn btn-sm", "data-testid": "prompt-save-version", hidden: true,
      onclick: () => this.open(false) }, "Save version");
    this.saveNewButton = el("button", { type: "button", class: "btn btn-sm btn-ghost", "data-testid": "prompt-save-new",
      onclick: () => this.open(true) }, "Save as prompt…");
    // The label is the way to every saved prompt (the header has no room for another link).
    root.append(el("a", { class: "prompt-label small", href: "/prompts/", "data-testid": "prompts-link", title: "All saved prompts, with their versions" }, "Prompts"), this.status,
      el("div", { class: "prompt-actions" }, this.saveVersionButton, this.saveNewButton));
    this.buildDialog();
    this.render();
  }

  render() {
    clear(this.status);
    const current = this.current;
    if (!current) {
      this.status.append(el("span", { class: "muted" }, "not saved"));
      this.saveVersionButton.hidden = true;
      this.saveNewButton.textContent = "Save as prompt…";
      return;
    }
    this.status.append(
      el("span", { class: "prompt-title", "data-testid": "prompt-title" },
        el("a", { href: `/prompts/${current.prompt.id}/`, "data-testid": "prompt-link", title: "Its versions, labels and diffs" }, current.prompt.name),
        el("span", { class: "muted" }, ` · v${current.number}`)),
      ...(current.labels || []).map((name) => el("span", { class: "chip prompt-chip", "data-testid": "prompt-label-chip" }, name)));
    if (current.latest > current.number) {
      this.status.append(el("span", { class: "small muted", "data-testid": "prompt-restored-note" }, `restored; the latest is v${current.latest}`));
    }
    const canSave = Boolean(current.rights?.save_version);
    this.saveVersionButton.hidden = false;
    this.saveVersionButton.disabled = !canSave;
    this.saveVersionButton.title = canSave ? `Save the page as v${current.latest + 1} of ${current.prompt.name}`
      : "Read-only: your role in its workspace cannot save versions of this prompt";
    this.saveNewButton.textContent = "Save as new…";
  }

  buildDialog() {
    this.title = el("h2", { id: "prompt-dialog-title" });
    this.nameField = el("input", { type: "text", maxlength: 120, "data-testid": "prompt-name", "aria-label": "Prompt name" });
    this.nameRow = el("label", { class: "dialog-field" }, el("span", {}, "Name"), this.nameField);
    this.shareBox = el("input", { type: "checkbox", "data-testid": "prompt-share" });
    this.shareText = el("span", {});
    this.shareRow = el("label", { class: "dialog-check" }, this.shareBox, this.shareText);
    this.noteField = el("textarea", { rows: 2, maxlength: 500, "data-testid": "prompt-note", "aria-label": "Note", placeholder: "What changed, and why?" });
    this.errorBox = el("p", { class: "form-error", role: "alert", "data-testid": "prompt-dialog-error", hidden: true });
    this.summary = el("p", { class: "small muted", "data-testid": "prompt-dialog-summary" });
    this.confirm = el("button", { type: "submit", class: "btn btn-primary btn-sm", "data-testid": "prompt-dialog-save" }, "Save");
    this.form = el("form", { method: "dialog", class: "prompt-dialog-form" },
      this.summary, this.nameRow, this.shareRow,
      el("label", { class: "dialog-field" }, el("span", {}, "Note"), this.noteField),
      this.errorBox,
      el("div", { class: "dialog-actions" },
        el("button", { type: "button", class: "btn btn-sm btn-ghost", "data-testid": "prompt-dialog-cancel", onclick: () => this.dialog.close() }, "Cancel"),
        this.confirm));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.dialog = el("dialog", { class: "prompt-dialog", "data-testid": "prompt-dialog", "aria-labelledby": "prompt-dialog-title" },
      this.title, this.form);
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.dialog.close();
    });
    document.body.append(this.dialog);
  }

  async open(asNew) {
    this.asNew = asNew || !this.current;
    this.errorBox.hidden = true;
    this.noteField.value = "";
    const built = this.read();
    this.title.textContent = this.asNew ? "Save as a new prompt" : `Save v${this.current.latest + 1} of “${this.current.prompt.name}”`;
    this.nameRow.hidden = !this.asNew;
    this.nameField.required = this.asNew; // a hidden required field would block the form
    this.shareRow.hidden = true;
    this.summary.textContent = this.asNew
      ? "Saves the model, mode, system prompt, messages (with the one being written), parameters and variables as version 1."
      : "A new version; the earlier ones stay as they are.";
    if (!this.dialog.open) this.dialog.showModal();
    if (built.error) {
      this.fail(built.error);
      this.confirm.disabled = true;
      return;
    }
    this.confirm.disabled = false;
    (this.asNew ? this.nameField : this.noteField).focus();
    if (this.asNew) {
      try {
        this.workspace = this.workspace || (await api("/api/prompts/")).workspace;
      } catch {
        this.workspace = null;
      }
      const team = this.workspace && this.workspace.personal === false;
      this.shareRow.hidden = !team;
      this.shareBox.disabled = !this.workspace?.can_publish;
      this.shareBox.checked = Boolean(team && this.workspace.can_publish);
      this.shareText.textContent = team
        ? (this.workspace.can_publish ? `Share with ${this.workspace.name} (every member sees it; editors and owners save versions)`
          : `Share with ${this.workspace.name}: only editors and owners can (you are a ${this.workspace.role})`)
        : "";
    }
  }

  fail(message) {
    this.errorBox.textContent = message;
    this.errorBox.hidden = false;
  }

  async save() {
    const built = this.read();
    if (built.error) return this.fail(built.error);
    const note = this.noteField.value.trim();
    this.confirm.disabled = true;
    try {
      const version = this.asNew
        ? await api("/api/prompts/", { name: this.nameField.value, scope: this.shareBox.checked && !this.shareRow.hidden ? "workspace" : "personal", note, version: built.version })
        : await api(`/api/prompts/${this.current.prompt.id}/versions/`, { note, version: built.version });
      // A new prompt is the author's to save again; a new version keeps the rights the prompt gave.
      const rights = this.asNew ? { save_version: true } : this.current.rights;
      this.current = { ...version, rights, latest: version.number };
      this.render();
      this.dialog.close();
      history.replaceState(null, "", `${location.pathname}?version=${version.id}`);
    } catch (error) {
      this.fail(error.message);
    } finally {
      this.confirm.disabled = false;
    }
  }

  /** Load a saved version into the playground (restore): later saves make the next version. */
  async restore(versionId) {
    const version = await api(`/api/prompt-versions/${versionId}/`);
    const detail = await api(`/api/prompts/${version.prompt.id}/`);
    this.apply(version);
    // Saving after a restore makes the prompt's next version (after its latest), whichever was restored.
    this.current = { ...version, rights: detail.prompt.rights, latest: detail.prompt.latest };
    this.render();
  }
}
