// Copying to the clipboard with a short "Copied ✓" on the button that did it (code export, replies, code blocks).

import { el } from "./dom.js";

/** Copy `text`; the button says so for a moment. */
export async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Older browsers or an insecure origin: copy through a hidden selection instead.
    const area = el("textarea", { style: "position:fixed;opacity:0" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  if (!button) return;
  if (!button.dataset.label) button.dataset.label = button.textContent;
  button.textContent = "Copied ✓";
  button.classList.add("copied");
  clearTimeout(button._copiedTimer);
  button._copiedTimer = setTimeout(() => {
    button.textContent = button.dataset.label;
    button.classList.remove("copied");
  }, 1500);
}
