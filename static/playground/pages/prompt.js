// A saved prompt's page (/prompts/<id>/): its versions (note, who, when, labels), restore into the
// playground, labelling (editors and owners; the server checks again), and the side-by-side diff of two
// versions: texts word by word (core/diff.js) and the settings the server compares (parameters, model,
// variables).

import { el, clear } from "../core/dom.js";
import { api } from "../core/http.js";
import { wordDiff } from "../core/diff.js";

const $ = (id) => document.getElementById(id);

class PromptPage {
  constructor() {
    this.data = JSON.parse($("prompt-data").textContent);
    this.id = this.data.prompt.id;
    this.labelForm = $("label-form");
    this.labelForm.hidden = !this.data.prompt.rights.label;
    this.labelForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.setLabel();
    });
    $("prompt-delete")?.addEventListener("click", () => this.remove());
    $("diff-a").addEventListener("change", () => this.diff());
    $("diff-b").addEventListener("change", () => this.diff());
    this.render();
    this.pickDefaults();
    this.diff();
  }

  versionName(v) {
    return `v${v.number}${v.labels.length ? ` (${v.labels.join(", ")})` : ""}`;
  }

  render() {
    const list = clear($("versions"));
    for (const v of this.data.versions) {
      const when = new Date(v.created_at);
      list.append(el("li", { class: "version", "data-testid": "version", dataset: { number: v.number } },
        el("span", { class: "version-number" }, `v${v.number}`),
        el("div", { class: "version-main" },
          el("span", { class: `version-note${v.note ? "" : " empty"}`, "data-testid": "version-note" }, v.note || "no note"),
          el("span", { class: "small muted" }, `${v.created_by || "someone"} · ${when.toLocaleString()} · ${v.start.model || "default model"}`),
          v.labels.length ? el("span", { class: "version-labels" }, v.labels.map((name) => el("span", { class: "chip prompt-chip", "data-testid": "version-label" }, name,
            this.data.prompt.rights.label ? el("button", { type: "button", class: "btn btn-ghost btn-xs", title: `Remove the label ${name}`, "aria-label": `Remove the label ${name}`, onclick: () => this.removeLabel(name) }, "✕") : null))) : null),
        el("div", { class: "version-actions" },
          el("a", { class: "btn btn-sm", href: `/?version=${v.id}`, "data-testid": "version-restore", title: "Load this version into the playground; saving there makes a new version" }, "Restore"))));
    }
    const select = this.labelForm.querySelector("select");
    const chosen = select.value;
    clear(select).append(...this.data.versions.map((v) => el("option", { value: v.id }, this.versionName(v))));
    if (chosen) select.value = chosen;
    for (const id of ["diff-a", "diff-b"]) {
      const pick = $(id);
      const was = pick.value;
      clear(pick).append(...this.data.versions.map((v) => el("option", { value: v.id }, this.versionName(v))));
      if (was) pick.value = was;
    }
  }

  pickDefaults() {
    const versions = this.data.versions; // newest first
    $("diff-b").value = String(versions[0].id);
    $("diff-a").value = String((versions[1] || versions[0]).id);
  }

  async setLabel() {
    const error = this.labelForm.querySelector(".form-error");
    error.hidden = true;
    const form = new FormData(this.labelForm);
    try {
      this.data = await api(`/api/prompts/${this.id}/labels/`, { name: String(form.get("name")).trim(), version: Number(form.get("version")) });
      this.labelForm.querySelector("input").value = "";
      this.render();
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  }

  async remove() {
    const count = this.data.versions.length;
    if (!window.confirm(`Delete “${this.data.prompt.name}” and its ${count} version${count === 1 ? "" : "s"}? This cannot be undone.`)) return;
    try {
      await api(`/api/prompts/${this.id}/`, null, "DELETE");
      location.assign("/prompts/");
    } catch (e) {
      window.alert(e.message);
    }
  }

  async removeLabel(name) {
    try {
      this.data = await api(`/api/prompts/${this.id}/labels/${encodeURIComponent(name)}/`, null, "DELETE");
      this.render();
    } catch (e) {
      const error = this.labelForm.querySelector(".form-error");
      error.textContent = e.message;
      error.hidden = false;
    }
  }

  async diff() {
    const a = $("diff-a").value;
    const b = $("diff-b").value;
    const box = clear($("diff"));
    if (a === b) {
      box.append(el("p", { class: "empty-note", "data-testid": "diff-same" }, "Pick two different versions."));
      return;
    }
    const left = this.data.versions.find((v) => String(v.id) === a);
    const right = this.data.versions.find((v) => String(v.id) === b);
    let result;
    try {
      result = await api(`/api/prompts/${this.id}/diff/?a=${a}&b=${b}`);
    } catch (e) {
      box.append(el("p", { class: "form-error" }, e.message));
      return;
    }
    if ($("diff-a").value !== a || $("diff-b").value !== b) return; // changed meanwhile
    const changed = result.texts.filter((t) => t.differs).length + result.settings.filter((r) => r.differs).length;
    box.append(el("p", { class: "small muted", "data-testid": "diff-summary" },
      changed ? `${changed} difference${changed === 1 ? "" : "s"} from v${left.number} to v${right.number}.` : `v${left.number} and v${right.number} are the same.`));
    for (const text of result.texts) {
      if (!text.differs && text.left === "") continue;
      box.append(this.textDiff(text, left, right));
    }
    box.append(this.settingsTable(result.settings, left, right));
  }

  /** One text side by side: the left with what was removed struck, the right with what was added marked. */
  textDiff(text, left, right) {
    const ops = wordDiff(text.left, text.right);
    const side = (keep) => ops.filter((op) => op.op === "same" || op.op === keep)
      .map((op) => (op.op === "same" ? op.text : el(keep === "del" ? "del" : "ins", {}, op.text)));
    if (!text.differs) {
      // The same in both: shown once.
      return el("div", { class: "diff-text diff-same", "data-testid": "diff-text", dataset: { differs: "0" } },
        el("h3", {}, text.label, el("span", { class: "small muted" }, "same in both")),
        el("div", { class: "diff-cols" }, el("div", { class: "diff-col", "data-testid": "diff-both" }, text.left)));
    }
    return el("div", { class: "diff-text", "data-testid": "diff-text", dataset: { differs: "1" } },
      el("h3", {}, text.label, el("span", { class: "mark changed" }, "changed")),
      el("div", { class: "diff-cols" },
        el("div", { class: "diff-col", "data-testid": "diff-left" }, el("div", { class: "diff-col-head" }, `v${left.number}`), ...side("del")),
        el("div", { class: "diff-col", "data-testid": "diff-right" }, el("div", { class: "diff-col-head" }, `v${right.number}`), ...side("ins"))));
  }

  settingsTable(rows, left, right) {
    const body = el("tbody");
    let group = null;
    for (const row of rows) {
      if (row.group !== group) {
        group = row.group;
        body.append(el("tr", { class: "group-row" }, el("th", { colspan: 3 }, group)));
      }
      body.append(el("tr", { class: row.differs ? "diff" : "", "data-testid": "diff-setting", dataset: { field: row.field, differs: row.differs ? "1" : "0" } },
        el("th", {}, el("code", {}, row.field)), el("td", {}, row.left), el("td", {}, row.right)));
    }
    return el("table", { class: "diff-settings", "data-testid": "diff-settings" },
      el("thead", {}, el("tr", {}, el("th", {}, "Setting"), el("th", {}, `v${left.number}`), el("th", {}, `v${right.number}`))), body);
  }
}

new PromptPage();
