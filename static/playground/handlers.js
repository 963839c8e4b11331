// Small behaviours declared in the templates with data attributes, instead of inline event handlers
// (the Content-Security-Policy allows no inline script):
//   data-autosubmit        on a select or file input: submit its form when it changes
//   data-select-on-focus   on an input: select its text when it gets focus (copyable links)
//   data-confirm="…"       on a form: ask before submitting it
//   data-copy-from="#id"   on a button: copy that input's value (or element's text) to the clipboard
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof Element && target.matches("[data-autosubmit]") && target.form) target.form.submit();
});
document.addEventListener("focusin", (event) => {
  const target = event.target;
  if (target instanceof HTMLInputElement && target.matches("[data-select-on-focus]")) target.select();
});
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
document.addEventListener("click", async (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy-from]") : null;
  if (!button) return;
  const source = document.querySelector(button.dataset.copyFrom);
  if (!source) return;
  const text = "value" in source ? source.value : source.textContent;
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    // No clipboard permission (an http:// origin other than localhost): select it for Ctrl/⌘+C.
    if (source instanceof HTMLInputElement) { source.focus(); source.select(); }
    button.textContent = "Press Ctrl/⌘+C";
  }
  setTimeout(() => { button.textContent = label; }, 1500);
});
