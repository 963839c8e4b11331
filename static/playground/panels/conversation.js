// The conversation editor: system prompt + ordered turns (add, edit, delete, reorder, images).

import { el, clear, autogrow } from "../core/dom.js";

const ROLES = ["system", "user", "assistant", "tool"];
const ROLE_NAMES = { system: "System", user: "You", assistant: "Assistant", tool: "Tool result" };

/** A message's text on screen: plain text for now (core/markdown.js, when it lands, renders Markdown here). */
export function renderText(node, text) {
  node.textContent = text;
}

/** Read an uploaded image as a data: URL (sent inline as an image_url part). */
export function readImageFile(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

/** Thumbnails with a remove button, for a list of {url, name}. */
export function renderThumbs(container, images, onRemove) {
  clear(container);
  container.hidden = images.length === 0;
  images.forEach((image, index) => {
    const label = image.name || (image.url.startsWith("data:") ? "uploaded" : image.url.split("/").pop());
    container.append(el("div", { class: "thumb", title: image.name || image.url.slice(0, 200), "data-testid": "image-thumb" },
      el("img", { src: image.url, alt: label, referrerpolicy: "no-referrer" }),
      el("span", { class: "thumb-label" }, label),
      el("button", { type: "button", title: "Remove image", "aria-label": "Remove image", onclick: () => onRemove(index) }, "×")));
  });
}

/** An inline "paste an image URL" row shown under a turn or the composer. */
export function askImageUrl(anchor, onAdd) {
  const existing = anchor.parentElement.querySelector(".url-row");
  if (existing) {
    existing.querySelector("input").focus();
    return;
  }
  const input = el("input", { type: "url", placeholder: "https://… or data:image/…", "data-testid": "image-url-input" });
  const row = el("div", { class: "url-row param-row", style: "padding:0 0 4px" }, input);
  const done = () => row.remove();
  const add = () => {
    const url = input.value.trim();
    if (!/^(https?:|data:image\/)/.test(url)) {
      input.classList.add("invalid");
      input.title = "An https:// or data:image/ URL";
      return;
    }
    onAdd({ url });
    done();
  };
  row.append(
    el("button", { type: "button", class: "btn btn-sm", onclick: add, "data-testid": "image-url-add" }, "Add"),
    el("button", { type: "button", class: "btn btn-ghost btn-sm", onclick: done }, "Cancel"));
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      add();
    } else if (e.key === "Escape") done();
  });
  anchor.before(row);
  input.focus();
}

export function messageContent(text, images) {
  if (!images || images.length === 0) return text;
  return [{ type: "text", text }, ...images.map((img) => ({ type: "image_url", image_url: { url: img.url } }))];
}

/** What a turn says about tools: an assistant's calls, or the call a tool result answers. */
function toolInfo(turn) {
  if (turn.role === "tool") return el("div", { class: "small muted turn-tool", "data-testid": "turn-tool-call-id" }, `answers ${turn.tool_call_id || "(no call id)"}`);
  if (!turn.tool_calls?.length) return null;
  return el("div", { class: "turn-tool-calls", "data-testid": "turn-tool-calls" }, turn.tool_calls.map((call) =>
    el("div", { class: "small mono" }, `→ ${call.function?.name}(${call.function?.arguments || ""})`, el("span", { class: "muted" }, ` ${call.id || ""}`))));
}

export class Conversation {
  constructor({ list, empty, system, onChange }) {
    this.list = list;
    this.empty = empty;
    this.system = system;
    this.onChange = onChange || (() => {});
    this.turns = [];
    autogrow(system);
  }

  /**
   * Add a turn and return it. `status` marks a reply that did not finish ("stopped" or "error");
   * `reveal` scrolls the conversation column to it.
   */
  add(role, text = "", images = [], { focus = false, status = null, reveal = false } = {}) {
    const turn = { role, text, images: [...images] };
    if (status) turn.runStatus = status;
    this.turns.push(turn);
    this.render();
    const item = this.list.lastElementChild;
    if (focus) item?.querySelector("textarea")?.focus();
    // After the textareas have grown to their text (autogrow runs in the next frame).
    // Revealed after the textareas have grown, and after any render that comes before then (its saved
    // id arriving): a render's scroll restore must not undo it.
    if (reveal && item) {
      this.pendingReveal = turn;
      requestAnimationFrame(() => this.flushReveal());
    }
    return turn;
  }

  /** Reveal the turn `add` was asked to show, in its element of the moment. */
  flushReveal() {
    const turn = this.pendingReveal;
    this.pendingReveal = null;
    this.revealEpoch = (this.revealEpoch || 0) + 1;
    const node = turn ? this.list.children[this.turns.indexOf(turn)] : null;
    if (node) this.reveal(node);
  }

  /** Scroll the conversation's column so the turn is in view (its top, when it is taller than the column). */
  reveal(item) {
    const column = item.closest(".col-scroll");
    const tall = column && item.offsetHeight > column.clientHeight;
    if (column && !tall && item === this.list.lastElementChild) column.scrollTop = column.scrollHeight; // stays at the bottom as it grows
    else item.scrollIntoView({ block: tall ? "start" : "nearest" });
  }

  clear() {
    this.turns = [];
    this.render();
  }

  move(index, delta) {
    const target = index + delta;
    if (target < 0 || target >= this.turns.length) return;
    [this.turns[index], this.turns[target]] = [this.turns[target], this.turns[index]];
    this.render();
  }

  remove(index) {
    this.turns.splice(index, 1);
    this.render();
  }

  /** Take the last turn off (a stopped reply asked for again). */
  removeLast() {
    this.turns.pop();
    this.render();
  }

  /** Keep the first `count` turns (regenerate from a turn). */
  truncate(count) {
    this.turns = this.turns.slice(0, count);
    this.render();
  }

  /** Replace every turn (a saved branch shown). */
  replace(turns) {
    this.turns = turns;
    this.render();
  }

  /** Change a turn's fields (its text, its saved id, its tool calls…). */
  update(turn, fields) {
    Object.assign(turn, fields);
    this.render();
  }

  /** A tool round trip: one tool turn per result, answering its call. */
  addToolResults(answers) {
    for (const { call, content } of answers) this.turns.push({ role: "tool", text: content, images: [], tool_call_id: call.id });
    this.render();
  }

  /** The messages to send: the system prompt (if any) then every turn in order. */
  messages() {
    const out = [];
    if (this.system.value.trim() !== "") out.push({ role: "system", content: this.system.value });
    for (const turn of this.turns) {
      const message = { role: turn.role, content: turn.role === "user" ? messageContent(turn.text, turn.images) : turn.text };
      // A tool round trip: the assistant's calls, and which call a tool turn answers (tools.js).
      if (turn.tool_calls?.length) {
        message.tool_calls = turn.tool_calls;
        if (turn.text === "") message.content = null;
      }
      if (turn.role === "tool") message.tool_call_id = turn.tool_call_id || "";
      // A saved turn names its message, so the server follows the branch on screen (saved.js).
      if (turn.id != null) message.id = turn.id;
      out.push(message);
    }
    return out;
  }

  render() {
    // Re-rendering shrinks each textarea for a moment while it measures itself: keep the column's place.
    // At the bottom (the newest turn in view), it stays at the bottom even when the turns grow.
    const column = this.list.closest(".col-scroll");
    const top = column ? column.scrollTop : 0;
    const atBottom = column ? top + column.clientHeight >= column.scrollHeight - 4 : false;
    clear(this.list);
    this.empty.hidden = this.turns.length > 0;
    this.turns.forEach((turn, index) => this.list.append(this.renderTurn(turn, index)));
    if (column) {
      const epoch = this.revealEpoch || 0;
      requestAnimationFrame(() => {
        if (this.pendingReveal) this.flushReveal();
        // A reveal since this render was drawn decides the scroll; the place kept here is stale.
        else if ((this.revealEpoch || 0) === epoch) column.scrollTop = atBottom ? column.scrollHeight : top;
      });
    }
    this.onChange();
  }

  /** Leave edit mode on every turn (Send, a branch switch). */
  closeEditors() {
    let changed = false;
    for (const turn of this.turns) if (turn.editing) { turn.editing = false; changed = true; }
    if (changed) this.render();
  }

  /**
   * One message of the thread. Shown as text (Markdown once core/markdown.js renders it) with its
   * role, branch switcher, run link and actions; a click on the text (or Edit) turns it into the
   * editor (role, text, images, move, delete). An empty turn opens as the editor. The last reply is
   * shown once: in the Response card beside the thread (`replyElsewhere`), here as a one-line stub.
   */
  renderTurn(turn, index) {
    const readOnly = document.body.classList.contains("read-only");
    const editing = !readOnly && (turn.editing || (turn.text === "" && !turn.tool_calls?.length && !turn.images.length));
    const role = el("select", { "aria-label": `Role of message ${index + 1}`, "data-testid": "turn-role", hidden: !editing }, ROLES.map((r) => el("option", { value: r }, r)));
    role.value = turn.role;
    const text = el("textarea", { rows: 1, "data-testid": "turn-text", "aria-label": `Message ${index + 1} text`, hidden: !editing,
      placeholder: turn.role === "assistant" ? "What the assistant said…" : "Message…" });
    text.value = turn.text;
    // A read-only page (access.js): drawn locked at once, not only on its next check.
    if (readOnly) {
      Object.assign(text, { readOnly: true }).dataset.locked = "1";
      Object.assign(role, { disabled: true }).dataset.locked = "1";
    }
    text.style.maxHeight = "320px";
    text.addEventListener("input", () => { turn.text = text.value; body.textContent = text.value; });
    text.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && turn.editing) {
        event.preventDefault(); // Esc here leaves the editor; it does not stop a stream
        this.setEditing(turn, false);
      }
    });
    const stub = turn.role === "assistant" && !editing && index === this.turns.length - 1 && this.replyElsewhere?.();
    // A click on the text edits it (keyboard: the Edit button).
    const body = el("div", { class: `turn-body${stub ? " is-stub" : ""}`, "data-testid": "turn-body", hidden: editing,
      title: readOnly ? null : "Click to edit" });
    if (stub) body.textContent = "The latest reply — shown in the Response panel.";
    else renderText(body, turn.text);
    if (!readOnly) {
      const edit = (event) => {
        if (event.target.closest("a")) return; // a link in a rendered reply opens; it does not edit
        if (window.getSelection()?.toString()) return; // selecting text to copy is not a click to edit
        this.setEditing(turn, true);
      };
      body.addEventListener("click", edit);
    }
    const images = el("div", { class: "turn-images" });
    const item = el("li", { class: `turn${editing ? " is-editing" : ""}`, dataset: { role: turn.role }, "data-testid": "turn" });
    const imageButtons = [
      el("button", { type: "button", class: "btn btn-ghost btn-xs", title: "Attach an image by URL", "aria-label": "Attach an image by URL",
        onclick: () => askImageUrl(images, (img) => { turn.images.push(img); this.render(); }) }, "+ URL"),
      el("label", { class: "btn btn-ghost btn-xs file-btn", title: "Upload an image" }, "+ Upload",
        el("input", { type: "file", accept: "image/*", "aria-label": "Upload an image", onchange: async (e) => {
          const file = e.target.files[0];
          if (!file) return;
          turn.images.push({ url: await readImageFile(file), name: file.name });
          this.render();
        } })),
    ];
    const imageTools = el("span", { class: "turn-image-tools", hidden: turn.role !== "user" || !editing }, imageButtons);
    // A reply that did not finish is kept as it was saved, marked.
    const marks = { stopped: "stopped", error: "failed" };
    const mark = turn.role === "assistant" && marks[turn.runStatus]
      ? el("span", { class: `chip ${turn.runStatus}`, "data-testid": "turn-status",
        title: turn.runStatus === "stopped" ? "This reply was stopped before it finished; it is saved as it was" : "This reply failed before it finished; the text that arrived is saved" }, marks[turn.runStatus])
      : null;
    role.addEventListener("change", () => {
      turn.role = role.value;
      if (turn.role !== "user") turn.images = [];
      this.render();
    });
    // Branch switcher, run link and regenerate/fork buttons, when saved.js is on the page.
    const [info, actions] = this.decorate ? this.decorate(turn, index) : [[], []];
    const who = el("span", { class: "turn-who", "data-testid": "turn-who", hidden: editing }, ROLE_NAMES[turn.role] || turn.role);
    const editTools = editing ? [
      el("button", { type: "button", class: "btn btn-ghost btn-xs", title: "Move up", "aria-label": "Move up", "data-testid": "turn-up",
        disabled: index === 0, onclick: () => this.move(index, -1) }, "↑"),
      el("button", { type: "button", class: "btn btn-ghost btn-xs", title: "Move down", "aria-label": "Move down", "data-testid": "turn-down",
        disabled: index === this.turns.length - 1, onclick: () => this.move(index, 1) }, "↓"),
      el("button", { type: "button", class: "btn btn-ghost btn-xs", title: "Delete this message", "aria-label": "Delete this message", "data-testid": "turn-delete",
        onclick: () => this.remove(index) }, "✕"),
      turn.text !== "" ? el("button", { type: "button", class: "btn btn-xs", "data-testid": "turn-done", onclick: () => this.setEditing(turn, false) }, "Done") : null,
    ] : (readOnly ? [] : [el("button", { type: "button", class: "btn btn-ghost btn-xs", "data-testid": "turn-edit", title: "Edit this message", "aria-label": `Edit message ${index + 1}`,
      onclick: () => this.setEditing(turn, true) }, "Edit")]);
    item.append(
      el("div", { class: "turn-head" }, who, role, mark, imageTools, info, el("span", { class: "spacer" }), actions, editTools),
      body, text, images, ...[toolInfo(turn)].filter(Boolean));
    renderThumbs(images, turn.images, (i) => { turn.images.splice(i, 1); this.render(); });
    images.hidden = false;
    if (!turn.images.length) images.style.display = "none";
    if (editing) autogrow(text);
    return item;
  }

  /** Open or close a turn's editor (focus in its text when opened). */
  setEditing(turn, on) {
    turn.editing = on;
    this.render();
    if (on) {
      const index = this.turns.indexOf(turn);
      const area = this.list.children[index]?.querySelector("textarea");
      area?.focus();
    }
  }
}
