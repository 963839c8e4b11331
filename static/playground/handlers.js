// Small behaviours declared in the templates with data attributes, instead of inline event handlers
// (the Content-Security-Policy allows no inline script):
//   data-autosubmit        on a select or file input: submit its form when it changes
//   data-select-on-focus   on an input: select its text when it gets focus (copyable links)
//   data-confirm="…"       on a form: ask before submitting it
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
