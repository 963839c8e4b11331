// The page's HTTP calls to the server's JSON API, with Django's CSRF token.

/** The CSRF token from the page's form or cookie. */
export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** GET (no body), POST (a body) or `method`; the JSON answer, or an Error with the server's message. */
export async function api(url, body = null, method = null) {
  const response = await fetch(url, { method: method || (body ? "POST" : "GET"), credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: body ? JSON.stringify(body) : undefined });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(data.error?.message || `The server answered ${response.status}.`);
    error.lines = data.error?.lines || []; // per-line errors of a refused import (playground/evals)
    throw error;
  }
  return data;
}
