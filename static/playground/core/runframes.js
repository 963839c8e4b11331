// A saved run's frames, as the fold reads them: `frames` (the stored timeline of frames plus a terminal
// chat.done or chat.error), as the server sends them in replay.json, #run-chart, the playground's
// last-run summary and comparison columns.
//
// TRANSITIONAL: runs saved before the timeline became a list of frames (rows [i, t_ms, choice, content,
// reasoning]) are turned into the same frames here. Delete legacyFrames once no such data is served.

import { FRAME } from "./protocol.js";

function legacyFrames(run) {
  const frames = [{ type: FRAME.STARTED, run: run.id ?? null, conversation: run.conversation ?? null, model: run.model ?? null }];
  const headers = run.response_headers || {};
  const serverTtft = Number(headers["fireworks-server-time-to-first-token"]);
  frames.push({ type: FRAME.OPENED, t: 0, request_id: run.request_id || null, headers, rate_limits: run.rate_limits || {},
    sampling_options: run.sampling_options ?? null, requested: run.requested_options ?? null,
    prompt_tokens: Number(headers["fireworks-prompt-tokens"]) || null,
    server_ttft: Number.isFinite(serverTtft) && headers["fireworks-server-time-to-first-token"] !== undefined ? serverTtft : null });
  const rows = (run.timeline || []).filter((r) => Array.isArray(r) && typeof r[1] === "number");
  if (rows.length) {
    for (const [i, t, choice, content, reasoning] of rows) {
      frames.push({ type: FRAME.DELTA, i, t, choice: choice ?? 0, ...(content ? { content } : {}), ...(reasoning ? { reasoning } : {}) });
    }
  } else if (Array.isArray(run.gaps_ms) && typeof run.timings?.ttft_ms === "number") {
    // The last-run summary kept only the gaps: the deltas' times, without their text.
    let t = run.timings.ttft_ms;
    frames.push({ type: FRAME.DELTA, i: 0, t });
    run.gaps_ms.forEach((gap, k) => { t += gap; frames.push({ type: FRAME.DELTA, i: k + 1, t }); });
  }
  const total = run.timings?.total_ms ?? (rows.length ? rows[rows.length - 1][1] : 0);
  for (const [choice, reason] of Object.entries(run.finish_reasons || {})) frames.push({ type: FRAME.FINISH, t: total, choice: Number(choice), reason });
  if (run.usage) frames.push({ type: FRAME.USAGE, t: total, ...run.usage });
  if (run.perf_metrics) frames.push({ type: FRAME.PERF, t: total, metrics: run.perf_metrics });
  if (run.status === "error") frames.push({ type: FRAME.ERROR, t: total, run: run.id, ...(run.error || {}) });
  else frames.push({ type: FRAME.DONE, t: total, run: run.id, status: run.status === "stopped" ? "stopped" : "done", finish_reasons: run.finish_reasons || {}, model: run.response_model || null });
  return frames;
}

/** The frames of a saved run (replay data, run chart data or the last-run summary). */
export function runFrames(run) {
  if (!run) return [];
  if (Array.isArray(run.frames)) return run.frames;
  return legacyFrames(run);
}

/** A watcher's snapshot with `frames` (TRANSITIONAL: an older server sent the text so far instead). */
export function snapshotWithFrames(snapshot) {
  if (Array.isArray(snapshot.frames)) return snapshot;
  const frames = [{ type: FRAME.STARTED, run: snapshot.run ?? null, model: snapshot.model ?? null }];
  const opened = snapshot.opened;
  if (opened) frames.push({ type: FRAME.OPENED, t: 0, ...opened });
  const t = snapshot.timings?.ttft_ms ?? snapshot.t ?? 0;
  for (const c of snapshot.choices || []) {
    frames.push({ type: FRAME.DELTA, t, choice: c.choice, content: c.content || "", reasoning: c.reasoning || "" });
    if (c.finish_reason) frames.push({ type: FRAME.FINISH, t, choice: c.choice, reason: c.finish_reason });
  }
  if (snapshot.usage) frames.push({ type: FRAME.USAGE, t, ...snapshot.usage });
  const lastI = Number.isInteger(snapshot.i) ? snapshot.i : -1;
  // The synthetic deltas carry no `i`: the next live delta must continue after the snapshot's.
  return { ...snapshot, frames, i: lastI, legacy: true };
}
