// "Prompt as the model saw it": the raw_output of a reply (chat.raw frames): the templated prompt with its
// fragment boundaries and token ids (hover, or the toggle), tokens per message, and the raw completion
// before tool-call parsing.

import { el, clear } from "../core/dom.js";

const HEADER = "<|start_header_id|>";

/** Messages of a templated prompt, when fragments and ids line up one to one: [{role, fragments, ids}]. */
export function messagesOf(fragments, ids) {
  const out = [];
  let current = { role: "(start)", fragments: [], ids: [] };
  fragments.forEach((fragment, i) => {
    if (fragment === HEADER && current.fragments.length) {
      out.push(current);
      current = { role: "", fragments: [], ids: [] };
    }
    if (!current.role && current.fragments.length === 1) current.role = fragment;
    current.fragments.push(fragment);
    current.ids.push(ids[i]);
  });
  if (current.fragments.length) out.push(current);
  return out;
}

export class PromptInspector {
  constructor(anchor) {
    this.showIds = el("input", { type: "checkbox", "data-testid": "show-token-ids" });
    this.body = el("div", { class: "inspect-body" });
    this.root = el("details", { class: "panel inspect-panel", "data-testid": "prompt-inspector", hidden: true },
      el("summary", { class: "panel-head" }, el("h2", {}, "Prompt as the model saw it"),
        el("span", { class: "small muted", "data-testid": "prompt-token-count" })),
      el("label", { class: "small" }, this.showIds, " show token ids"), this.body);
    this.showIds.addEventListener("change", () => this.root.classList.toggle("with-ids", this.showIds.checked));
    anchor.after(this.root);
  }

  reset() {
    clear(this.body);
    this.root.hidden = true;
  }

  /** A chat.raw frame (choice 0 only: the prompt is the same for every choice). */
  show(frame) {
    if (frame.choice !== 0) return;
    const raw = frame.raw_output || {};
    const fragments = Array.isArray(raw.prompt_fragments) ? raw.prompt_fragments : [];
    const ids = Array.isArray(raw.prompt_token_ids) ? raw.prompt_token_ids : [];
    clear(this.body);
    this.root.hidden = false;
    this.root.querySelector("[data-testid=prompt-token-count]").textContent =
      ids.length ? `${ids.length} prompt tokens` : fragments.length ? `${fragments.length} fragments` : "";
    const aligned = fragments.length > 0 && fragments.length === ids.length;
    if (fragments.length) {
      const prompt = el("div", { class: "prompt-fragments mono", "data-testid": "prompt-fragments" });
      const groups = aligned ? messagesOf(fragments, ids) : [{ role: "", fragments, ids: [] }];
      for (const group of groups) {
        const block = el("div", { class: "prompt-message", "data-testid": "prompt-message" },
          aligned ? el("span", { class: "prompt-role small", "data-testid": "prompt-message-tokens" }, `${group.role || "prompt"} · ${group.ids.length} tokens`) : null);
        group.fragments.forEach((fragment, i) => {
          const id = group.ids[i];
          const special = /^<\|.*\|>$/.test(fragment);
          block.append(el("span", { class: special ? "frag special" : "frag", title: id !== undefined ? `token id ${id}` : "fragment", "data-testid": "prompt-fragment" },
            // Newlines shown as ↵ (then broken), so that whitespace fragments stay visible.
            fragment.includes("\n") ? `${fragment.replace(/\n/g, "↵")}\n` : fragment, id !== undefined ? el("sub", { class: "tok-id" }, String(id)) : null));
        });
        prompt.append(block);
      }
      this.body.append(prompt);
    } else if (ids.length) {
      this.body.append(el("p", { class: "small muted" }, "The server sent token ids without the prompt's text."),
        el("pre", { class: "mono", "data-testid": "prompt-ids" }, ids.join(" ")));
    }
    if (typeof raw.completion === "string") {
      this.body.append(el("h3", { class: "small" }, "Raw completion (before tool-call parsing)"),
        el("pre", { class: "mono raw-completion", "data-testid": "raw-completion" }, raw.completion));
    }
    if (Array.isArray(raw.completion_token_ids)) {
      this.body.append(el("p", { class: "small muted", "data-testid": "completion-token-count" }, `${raw.completion_token_ids.length} completion token ids`),
        el("pre", { class: "mono tok-ids", "data-testid": "completion-ids" }, raw.completion_token_ids.join(" ")));
    }
  }
}
