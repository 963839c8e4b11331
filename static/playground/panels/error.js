// The error panel: a failure said once, with what a support request needs and what to do next.

import { el, clear } from "../core/dom.js";

export class ErrorView {
  constructor(root) {
    this.root = root;
    this.timer = null;
  }

  clear() {
    clearInterval(this.timer);
    this.root.hidden = true;
    clear(this.root);
  }

  /**
   * Show a failure once: what happened, the details a support request needs, and what to do next.
   * `detail` goes on its own line under the message. A retryable error offers Retry (after a
   * countdown when the server said `retryAfter` seconds); a non-retryable one says what to change
   * (`advice`) and offers "Send again" instead.
   */
  show({ title, message, detail, code, status, requestId, param, retryable, onRetry, advice, retryAfter, warn = false }) {
    clearInterval(this.timer);
    clear(this.root);
    this.root.hidden = false;
    this.root.classList.toggle("warn", warn);
    const meta = el("div", { class: "error-meta" });
    if (code) meta.append(el("span", {}, "code ", el("code", { "data-testid": "error-code" }, code)));
    if (status) meta.append(el("span", {}, "status ", el("code", { "data-testid": "error-status" }, String(status))));
    if (param) meta.append(el("span", {}, "parameter ", el("code", {}, param)));
    if (requestId) meta.append(el("span", {}, "request id ", el("code", {}, requestId)));
    this.root.append(el("h3", {}, title), el("p", { class: "error-message", "data-testid": "error-message" }, message || ""));
    if (detail) this.root.append(el("p", { class: "error-detail", "data-testid": "error-detail" }, detail));
    this.root.append(meta);
    if (retryable === undefined && !onRetry && !advice) return;
    const actions = el("div", { class: "error-actions" });
    const hint = el("span", { class: "small", "data-testid": "retry-advice" });
    actions.append(hint);
    if (retryable) hint.textContent = "This is usually temporary: retrying may work.";
    else if (advice) hint.textContent = advice;
    if (onRetry) {
      const button = el("button", { type: "button", class: "btn btn-sm", "data-testid": "retry", onclick: onRetry },
        retryable === false ? "Send again" : "Retry");
      actions.append(button);
      if (retryable && retryAfter > 0) {
        // The server asked to wait: count down, then offer Retry.
        let left = Math.ceil(retryAfter);
        button.disabled = true;
        const tick = () => {
          if (left <= 0) {
            clearInterval(this.timer);
            button.disabled = false;
            hint.textContent = "The wait the server asked for is over: retrying may work now.";
            return;
          }
          hint.textContent = `Rate limited: the server asked to wait. Retry in ${left} s…`;
          left -= 1;
        };
        tick();
        this.timer = setInterval(tick, 1000);
      }
    }
    this.root.append(actions);
  }
}

// What to change before sending again, when retrying the same request will not help. The server's
// message says what happened (proxy/client/errors.py); this is the page's own advice on what to do.
const STATUS_ADVICE = {
  400: "The server refused the request as sent: change the parameters or the messages, then send again.",
  401: "The API key was refused: check FIREWORKS_API_KEY on the server, then send again.",
  402: "Check the account's billing, then send again.",
  403: "The key may not use this model or deployment: pick another model, then send again.",
  404: "Check the model id (the Model field above) or deploy the model, then send again.",
  412: "The account is suspended or the LoRA failed to load: check the deployment, then send again.",
  413: "Shorten the prompt or remove images, then send again.",
  422: "The server refused the request as sent: change the parameters or the messages, then send again.",
};

/** The advice for an error retrying will not fix (`flagged`: a parameter is highlighted). */
export function retryAdvice(error, flagged) {
  if (flagged) return "Fix the highlighted parameter, then send again.";
  if (error.status && STATUS_ADVICE[error.status]) return STATUS_ADVICE[error.status];
  return "Sending the same request again will likely fail the same way: change something first.";
}
