// The readiness check: one action sends a tiny request to every configuration (the server's
// `probe.start`, proxy/probe.py: the one request builder, client and fold; nothing saved) and shows each
// one green or red with its time to first token, whether it was cold (then warmed: both times), the
// rate-limit headroom from its headers and, for a red one, the exact error. Embeddable: presentation
// mode uses it, and any page with a PlaygroundSocket can (the arena). A red row offers to put its slot on
// a replay (`onSwitch(index, on)`); the page decides what a slot on replay does.

import { el, clear } from "../core/dom.js";
import { fmtMs, fmtNumber, shortModel } from "../core/format.js";
import { runProbe } from "../core/probe.js";

const LOW_HEADROOM = 0.2;

/** A configuration as the probe takes it: the fields of a chat.start, with a label. */
export function probeConfig({ label, model, params = {}, extra = null, system = "", messages }) {
  return { label, mode: "chat", model, params, ...(extra ? { extra } : {}), system, messages };
}

/** Each limit's headroom as words, the tightest first: "requests 75% left (450 of 600)". */
export function headroomText(headroom) {
  return Object.entries(headroom || {})
    .sort((a, b) => a[1].share - b[1].share)
    .map(([name, h]) => ({ name, low: h.share < LOW_HEADROOM,
      text: `${name} ${Math.round(h.share * 100)}% left (${fmtNumber(h.remaining)} of ${fmtNumber(h.limit)})` }));
}

export class ReadinessPanel {
  /**
   * socket: the page's PlaygroundSocket. options: {onRequest(), onSwitch(index, on), switchLabel, coldMs,
   * timeoutMs, concurrency, workspace (whose key to use; the current workspace's if not given)}. Mount
   * `root`; call check(configs).
   */
  constructor(socket, options = {}) {
    this.socket = socket;
    this.options = options;
    this.checking = false;
    this.results = [];
    this.configs = [];
    this.switched = new Set();
    this.listeners = [];
    this.summary = el("div", { class: "ready-summary small", "data-testid": "readiness-summary", role: "status" },
      "Not checked yet: checks every configuration with a tiny request (nothing is saved).");
    this.list = el("ol", { class: "ready-list", "data-testid": "readiness-list" });
    this.button = el("button", { type: "button", class: "btn btn-sm", "data-testid": "readiness-run",
      onclick: () => this.options.onRequest?.() }, "Check readiness");
    this.root = el("section", { class: "panel ready-panel", "data-testid": "readiness-panel", "aria-label": "Readiness check" },
      el("div", { class: "panel-head" }, el("h2", {}, "Readiness"), el("div", { class: "panel-actions" }, this.button)),
      this.summary, this.list);
  }

  /** Called with the results when a check ends. */
  onFinished(listener) {
    this.listeners.push(listener);
  }

  get running() {
    return this.checking;
  }

  /** Check these configurations ({label, model, params, extra, system, messages}); false if one is running. */
  check(configs) {
    if (this.checking) return false;
    this.configs = configs;
    this.results = configs.map(() => null);
    const options = { max_tokens: 4 };
    for (const [key, name] of [["coldMs", "cold_ms"], ["timeoutMs", "timeout_ms"], ["concurrency", "concurrency"], ["workspace", "workspace"]]) {
      if (this.options[key]) options[name] = this.options[key];
    }
    this.checking = true;
    this.button.disabled = true;
    this.button.textContent = "Checking…";
    this.render();
    this.setSummary(`Checking ${configs.length} configuration${configs.length === 1 ? "" : "s"}…`, "busy");
    runProbe(this.socket, configs.map((c) => probeConfig(c)), options, (frame) => {
      this.results[frame.index] = frame;
      this.render();
    }).then(({ done }) => this.onDone(done), (err) => {
      this.finish();
      this.setSummary(`Not checked: ${err.message}`, "bad");
    });
    return true;
  }

  onDone(frame) {
    this.finish();
    this.render();
    const failed = frame.failed;
    const cold = this.results.filter((r) => r?.cold).length;
    const parts = [`${frame.ready} of ${frame.ready + failed} ready`];
    if (cold) parts.push(`${cold} cold, warmed`);
    parts.push(`checked in ${fmtMs(frame.total_ms)}`);
    this.setSummary(parts.join(" · "), failed ? "bad" : "good");
    for (const listener of this.listeners) listener(this.results);
  }

  finish() {
    this.checking = false;
    this.button.disabled = false;
    this.button.textContent = "Check again";
  }

  setSummary(text, tone) {
    this.summary.textContent = text;
    this.summary.dataset.tone = tone;
  }

  /** Mark a slot as switched to a replay (or back), as the page decided. */
  setSwitched(index, on) {
    if (on) this.switched.add(index);
    else this.switched.delete(index);
    this.render();
  }

  render() {
    clear(this.list).append(...this.configs.map((config, index) => this.row(config, index, this.results[index])));
  }

  row(config, index, result) {
    const status = !result ? (this.checking ? "checking" : "unchecked") : result.status;
    const word = { checking: "checking…", unchecked: "not checked", ready: "ready", failed: "failed" }[status];
    const figures = [];
    if (result?.ttft_ms != null && !result.cold) {
      figures.push(el("span", { class: "ready-fig", "data-testid": "ready-ttft" }, el("span", { class: "label" }, "TTFT "), fmtMs(result.ttft_ms)));
    }
    if (result?.cold) {
      const warmed = result.warm_ttft_ms != null ? ` → warmed: ${fmtMs(result.warm_ttft_ms)}` : "";
      figures.push(el("span", { class: "ready-fig ready-cold", "data-testid": "ready-cold" }, `cold: ${fmtMs(result.ttft_ms)}${warmed}`));
    }
    const headroom = headroomText(result?.headroom);
    const extras = [];
    if (headroom.length) {
      extras.push(el("div", { class: "ready-headroom small", "data-testid": "ready-headroom" }, el("span", { class: "label" }, "Headroom: "),
        headroom.map((h, i) => el("span", { class: h.low ? "low" : "" }, `${i ? " · " : ""}${h.text}`))));
    } else if (result && result.status === "ready") {
      extras.push(el("div", { class: "ready-headroom small muted", "data-testid": "ready-headroom" }, "Headroom: the server sent no rate-limit headers."));
    }
    if (result?.dropped?.length) {
      extras.push(el("div", { class: "small muted" }, `Sent without ${result.dropped.join(", ")}: this server does not accept ${result.dropped.length === 1 ? "it" : "them"}.`));
    }
    if (result?.error) {
      const e = result.error;
      extras.push(el("div", { class: "ready-error", role: "alert", "data-testid": "ready-error" },
        `${e.code || "error"}${e.status ? ` (${e.status})` : ""}: ${e.message}`));
    }
    const on = this.switched.has(index);
    const action = this.options.onSwitch && (status === "failed" || on)
      ? el("button", { type: "button", class: `btn btn-xs${on ? " btn-primary" : ""}`, "data-testid": "ready-switch", "aria-pressed": String(on),
        onclick: () => this.options.onSwitch(index, !on) }, on ? "On replay ✓" : (this.options.switchLabel || "Use a replay"))
      : null;
    return el("li", { class: "ready-row", "data-testid": "readiness-row", dataset: { status, index } },
      el("span", { class: `ready-dot ${status}`, "aria-hidden": "true" }),
      el("div", { class: "ready-main" },
        el("div", { class: "ready-head" },
          el("span", { class: "ready-label" }, config.label || `Slot ${index + 1}`),
          el("span", { class: `chip ready-chip ${status}`, "data-testid": "ready-status" }, word),
          (config.label || "").includes(shortModel(config.model)) ? null
            : el("span", { class: "ready-model mono small", title: config.model }, shortModel(config.model)),
          on ? el("span", { class: "chip replay-label", "data-testid": "ready-replay-chip" }, "replay on stage") : null,
          el("div", { class: "topbar-spacer" }), action),
        figures.length ? el("div", { class: "ready-figs" }, figures) : null,
        extras));
  }
}
