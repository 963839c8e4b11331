// The ONE Markdown renderer: every view of model output (the playground's reply and reasoning, tool
// results, compare and sweep columns, live watching, the share pages, replay, presentation mode, the run
// page) renders through this module, and the code export highlights its snippets with it.
//
// marked parses (GFM: tables, task lists, strikethrough), with two extensions here for math ($…$, $$…$$,
// \(…\), \[…\]) that KaTeX renders as MathML only: its HTML output carries style attributes, which the
// Content-Security-Policy refuses. highlight.js colours fenced code. DOMPurify then sanitises everything
// (no script, no event handler, no javascript: link, no style attribute) before it reaches the page.
// Raw HTML in model output is shown as text, except a few bare inline tags (<br>, <sub>, <kbd>, …).
// Images never load from model output: a remote image becomes a link (the CSP allows no remote images,
// and a same-origin one could be a request the user did not ask for); only inline data: images show.
//
// Streaming: MarkdownView re-parses the whole text (marked's lexer is fast) but rebuilds only the
// top-level blocks that changed, usually the last one, so earlier blocks, their selection and their copy
// buttons stay put. Callers draw at most once per animation frame (core/dom.js drawLater). A half-received
// construct renders sensibly: an open code fence is a code block that grows, and a table's header line
// waits until its delimiter row arrives rather than flashing up as a paragraph.

import { Marked } from "../../vendor/marked/marked.esm.js";
import DOMPurify from "../../vendor/dompurify/purify.es.mjs";
import hljs from "../../vendor/highlight/highlight.min.js";
import katex from "../../vendor/katex/katex.mjs";
import { el } from "./dom.js";
import { copyText } from "./clipboard.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

// Raw HTML that may stay HTML: bare inline tags without attributes. Anything else is shown as text.
const SAFE_TAG = /^<\/?(br|sub|sup|kbd|mark|b|i|em|strong|u|s|del|ins|small|wbr)\s*\/?>$/i;
// Languages tried when a fence names none (a short list: auto-detection runs while the block streams).
const AUTO_LANGUAGES = ["python", "javascript", "typescript", "bash", "json", "sql", "html", "css", "java", "go", "rust", "cpp", "yaml"];
const AUTO_LIMIT = 20_000; // characters: longer unlabelled blocks are not auto-detected
const MAX_SOURCE = 500_000; // characters rendered as Markdown; longer text is shown raw

function renderMath(tex, display) {
  try {
    const html = katex.renderToString(tex, { displayMode: display, output: "mathml", throwOnError: false, trust: false, strict: "ignore", maxSize: 20, maxExpand: 300 });
    return display ? `<div class="md-math">${html}</div>` : html;
  } catch {
    return `<code class="md-math-error">${escape(tex)}</code>`;
  }
}

/**
 * Highlighted HTML (escaped) of `code` and the language shown. An empty `language` is detected when
 * `detect` (about 6 ms a block, so not while a reply streams: the block is coloured once it has ended).
 */
export function highlight(code, language = "", { detect = true } = {}) {
  const name = String(language || "").trim().split(/\s+/)[0].toLowerCase();
  if (name && hljs.getLanguage(name)) {
    return { html: hljs.highlight(code, { language: name, ignoreIllegals: true }).value, language: name };
  }
  if (!name && detect && code.length <= AUTO_LIMIT) {
    const found = hljs.highlightAuto(code, AUTO_LANGUAGES);
    if (found.language && found.relevance >= 5) return { html: found.value, language: found.language };
  }
  return { html: escape(code), language: name };
}

function codeBlock(text, lang, detect = true) {
  const { html, language } = highlight(text, lang, { detect });
  return `<div class="md-code"><div class="md-code-head"><span class="md-code-lang">${escape(language || "text")}</span>`
    + `<button type="button" class="md-copy" data-md-copy="code" aria-label="Copy the code">Copy</button></div>`
    + `<pre><code class="hljs${language ? ` language-${escape(language)}` : ""}">${html}</code></pre></div>`;
}

const mathBlock = {
  name: "mathBlock",
  level: "block",
  start(src) {
    const m = src.match(/^ {0,3}(\$\$|\\\[)/m);
    return m ? m.index : undefined;
  },
  tokenizer(src) {
    const m = /^ {0,3}\$\$([\s\S]+?)\$\$[ \t]*(?:\n+|$)/.exec(src) || /^ {0,3}\\\[([\s\S]+?)\\\][ \t]*(?:\n+|$)/.exec(src);
    if (m) return { type: "mathBlock", raw: m[0], text: m[1].trim() };
    return undefined;
  },
  renderer: (token) => renderMath(token.text, true),
};

const mathInline = {
  name: "mathInline",
  level: "inline",
  start(src) {
    const i = src.search(/\$|\\[([]/);
    return i < 0 ? undefined : i;
  },
  tokenizer(src) {
    let m = /^\$\$(?!\s)([^$]+?)\$\$/.exec(src) || /^\\\[([\s\S]+?)\\\]/.exec(src);
    if (m) return { type: "mathInline", raw: m[0], text: m[1].trim(), display: true };
    // $…$ as pandoc reads it: no space just inside the dollars, no digit right after the closing one
    // (so "costs $5 and $10" stays text).
    m = /^\\\(([\s\S]+?)\\\)/.exec(src) || /^\$(?![\s$])((?:\\.|[^\\$\n])+?)(?<![\s\\])\$(?!\d)/.exec(src);
    if (m) return { type: "mathInline", raw: m[0], text: m[1].trim(), display: false };
    return undefined;
  },
  renderer: (token) => renderMath(token.text, token.display),
};

/** A Marked instance; `detect`: guess the language of unlabelled code blocks. */
function makeMarked(detect) {
  return new Marked({
    gfm: true,
    breaks: false,
    extensions: [mathBlock, mathInline],
    renderer: {
      code: ({ text, lang }) => codeBlock(text, lang, detect),
      html: ({ text, block }) => {
        if (SAFE_TAG.test(text.trim())) return text.trim();
        return block ? `<p class="md-html">${escape(text)}</p>` : escape(text);
      },
      image: ({ href, text }) => {
        if (/^data:image\/(png|gif|jpe?g|webp);/i.test(href)) return `<img src="${escape(href)}" alt="${escape(text)}">`;
        return `<a class="md-image-link" href="${escape(href)}" title="An image in the reply, not loaded: open it in a new tab">`
          + `<span aria-hidden="true">🖼 </span>${escape(text || "image")}</a>`;
      },
    },
  });
}
const marked = makeMarked(true);
const markedLive = makeMarked(false); // while a reply streams

const purify = DOMPurify(window);
purify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
  if (node.tagName === "IMG" && !/^data:image\//i.test(node.getAttribute("src") || "")) node.remove();
});
const PURIFY = {
  USE_PROFILES: { html: true, mathMl: true },
  FORBID_TAGS: ["style", "form", "dialog"],
  FORBID_ATTR: ["style", "id", "name"],
  ALLOW_DATA_ATTR: false,
  // KaTeX's <semantics><annotation> keeps the TeX source (copy, screen readers); annotation-xml stays out.
  ADD_TAGS: ["semantics", "annotation"],
  ADD_ATTR: ["data-md-copy", "target", "encoding"],
  RETURN_DOM_FRAGMENT: true,
};

/** Sanitised DOM for an HTML string this module produced. */
function toFragment(html) {
  return document.importNode(purify.sanitize(html, PURIFY), true);
}

/** While streaming, hold back a table until its delimiter row is complete (it would flash as a paragraph). */
function settled(source) {
  const lines = source.split("\n");
  const end = lines.at(-1) === "" ? lines.length - 1 : lines.length;
  let first = end;
  while (first > 0 && /^\s*\|/.test(lines[first - 1])) first -= 1;
  if (first === end) return source;
  const delimiterDone = first + 1 < lines.length - 1 && /^\s*\|?\s*:?-+:?\s*(\||$)/.test(lines[first + 1]);
  return delimiterDone ? source : lines.slice(0, first).join("\n");
}

/** Markdown text as sanitised DOM (a fragment), in one go. */
export function renderMarkdown(source) {
  return toFragment(marked.parse(String(source ?? "").slice(0, MAX_SOURCE)));
}

/** Highlight a <code> element's text in place (the code export's snippets). */
export function highlightElement(code, language) {
  const { html } = highlight(code.textContent, language);
  code.replaceChildren(toFragment(html));
  code.classList.add("hljs");
}

/**
 * A growing Markdown text on screen: `set(text, {streaming})` re-renders only the blocks that changed.
 * Its code blocks carry working copy buttons. `format: "json"` shows the text as one JSON code block.
 */
export class MarkdownView {
  constructor({ className = "", testid = null } = {}) {
    this.root = el("div", { class: `md ${className}`.trim(), "data-testid": testid });
    this.blocks = []; // [{key, nodes}] in order
    this.source = null;
    this.root.addEventListener("click", (event) => {
      const button = event.target.closest?.("[data-md-copy=code]");
      if (!button || !this.root.contains(button)) return;
      const code = button.closest(".md-code")?.querySelector("code");
      if (code) copyText(code.textContent, button);
    });
  }

  set(source, { streaming = false, format = "markdown" } = {}) {
    const text = String(source ?? "");
    const key = `${format}\u0000${streaming ? 1 : 0}\u0000${text}`;
    if (key === this.source) return;
    this.source = key;
    if (format === "json" || text.length > MAX_SOURCE) {
      this.replaceFrom(0, [{ key: `json\u0000${text}`, html: format === "json" ? codeBlock(text, "json") : `<pre class="md-raw">${escape(text)}</pre>` }]);
      return;
    }
    const tokens = marked.lexer(streaming ? settled(text) : text);
    // An unlabelled code block is drawn again once the reply ends, with its language detected.
    const blocks = tokens.filter((t) => t.type !== "space").map((token) => ({
      key: `${token.type}\u0000${token.raw}${streaming && token.type === "code" && !token.lang ? "\u0000live" : ""}`,
      token,
    }));
    let same = 0;
    while (same < blocks.length && same < this.blocks.length && this.blocks[same].key === blocks[same].key) same += 1;
    this.replaceFrom(same, blocks.slice(same).map((b) => {
      const list = [b.token];
      list.links = tokens.links;
      return { key: b.key, html: (streaming ? markedLive : marked).parser(list) };
    }));
  }

  replaceFrom(index, fresh) {
    for (const block of this.blocks.splice(index)) block.nodes.forEach((n) => n.remove());
    for (const { key, html } of fresh) {
      const fragment = toFragment(html);
      const nodes = [...fragment.childNodes];
      this.root.append(fragment);
      this.blocks.push({ key, nodes });
    }
  }
}

/**
 * A reply's text with its tools: rendered Markdown, a raw-text view the user can switch to, and a copy
 * button for the whole text. `update(text, {streaming, format})`. `body` (the text) and `tools` (the
 * buttons) can go in different places; `root` holds both.
 */
export class ReplyText {
  constructor({ className = "", testid = "reply-md", label = "reply" } = {}) {
    this.text = "";
    this.raw = false;
    this.label = label;
    this.view = new MarkdownView({ className, testid });
    this.rawView = el("pre", { class: "md-raw", hidden: true, "data-testid": `${testid}-raw` });
    this.body = el("div", { class: "md-reply" }, this.view.root, this.rawView);
    this.rawButton = el("button", { type: "button", class: "md-tool", "aria-pressed": "false", "data-testid": `${testid}-raw-toggle`,
      title: `Show the ${label} as the raw text the model sent`, onclick: () => this.toggleRaw() }, "Raw");
    this.copyButton = el("button", { type: "button", class: "md-tool", "data-testid": `${testid}-copy`, "aria-label": `Copy the ${label}`,
      title: `Copy the ${label} (its Markdown source)`, onclick: () => copyText(this.text, this.copyButton) }, "Copy");
    this.tools = el("div", { class: "md-tools", hidden: true }, this.copyButton, this.rawButton);
    this.root = el("div", { class: "md-reply-box" }, this.body, this.tools);
  }

  update(text, { streaming = false, format = "markdown" } = {}) {
    this.text = String(text ?? "");
    this.streaming = streaming;
    this.format = format;
    this.tools.hidden = this.text === "";
    if (this.raw) {
      if (this.rawView.textContent !== this.text) this.rawView.textContent = this.text;
    } else {
      this.view.set(this.text, { streaming, format });
    }
    this.body.classList.toggle("streaming", streaming);
  }

  toggleRaw() {
    this.raw = !this.raw;
    this.rawButton.setAttribute("aria-pressed", String(this.raw));
    this.rawButton.textContent = this.raw ? "Rendered" : "Raw";
    this.rawButton.title = this.raw ? `Show the ${this.label} rendered as Markdown` : `Show the ${this.label} as the raw text the model sent`;
    this.view.root.hidden = this.raw;
    this.rawView.hidden = !this.raw;
    this.update(this.text, { streaming: this.streaming, format: this.format });
  }
}

/** Render every `[data-markdown]` element under `root` from its text (server-rendered pages). */
export function enhanceMarkdown(root = document) {
  for (const node of root.querySelectorAll("[data-markdown]")) {
    const reply = new ReplyText({ testid: node.dataset.testid ? `${node.dataset.testid}-md` : "reply-md" });
    reply.update(node.textContent);
    node.replaceChildren(reply.root);
    node.classList.add("md-host");
    node.removeAttribute("data-markdown");
  }
}
