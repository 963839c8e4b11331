"""Run.timeline becomes the frames the stream sent (named entries), and Run.timings its figures.

Runs saved before kept positional rows ``[i, t_ms, choice, content, reasoning]`` and ``chunks_per_second``:
each becomes the frames the page folds (``chat.opened``, the deltas, ``chat.finish``, ``chat.usage``,
``chat.perf``, then ``chat.done`` or ``chat.error``), with the figures computed by the one formula.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _figures(deltas: list[dict[str, Any]], usage: Any, total_ms: Any) -> dict[str, Any]:
    # proxy.relay.figures, frozen here as it was when this migration was written.
    completion = (usage or {}).get("completion_tokens") if isinstance(usage, dict) else None
    tokens = completion if isinstance(completion, int) and not isinstance(completion, bool) else len(deltas)
    first = deltas[0]["t"] if deltas else None
    last = deltas[-1]["t"] if deltas else None
    decode = round(max(0.0, last - first), 2) if deltas else None
    rate = round((tokens - 1) / (decode / 1000), 2) if tokens >= 2 and decode else None
    return {
        "ttft_ms": first,
        "total_ms": total_ms,
        "chunks": len(deltas),
        "tokens": tokens,
        "decode_ms": decode,
        "tokens_per_second": rate,
    }


def _frames(run: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    deltas = []
    for row in run.timeline or []:
        if not isinstance(row, list | tuple) or len(row) < 3 or not isinstance(row[1], int | float):
            continue
        entry: dict[str, Any] = {"type": "chat.delta", "i": len(deltas), "t": row[1], "choice": row[2]}
        if len(row) > 3 and row[3]:
            entry["content"] = row[3]
        if len(row) > 4 and row[4]:
            entry["reasoning"] = row[4]
        deltas.append(entry)
    old = run.timings or {}
    total = old.get("total_ms")
    end_t = total if isinstance(total, int | float) else (deltas[-1]["t"] if deltas else 0)
    start_t = deltas[0]["t"] if deltas else end_t
    frames: list[dict[str, Any]] = []
    if run.request_id or run.sampling_options or run.response_headers:
        headers = run.response_headers or {}
        frames.append(
            {
                "type": "chat.opened",
                "t": start_t,
                "status": 200,
                "request_id": run.request_id or None,
                "sampling_options": run.sampling_options,
                "requested": run.requested_options or {},
                "rate_limits": run.rate_limits or {},
                "headers": headers,
                "prompt_tokens": None,
                "cached_prompt_tokens": None,
                "server_ttft": None,
            }
        )
    frames += deltas
    for index, reason in (run.finish_reasons or {}).items():
        frames.append({"type": "chat.finish", "t": end_t, "choice": int(index), "reason": reason})
    if isinstance(run.usage, dict):
        usage = {k: run.usage.get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        frames.append(
            {"type": "chat.usage", "t": end_t, **usage, "cached_tokens": run.usage.get("cached_tokens")}
        )
    if isinstance(run.perf_metrics, dict):
        frames.append({"type": "chat.perf", "t": end_t, "metrics": run.perf_metrics})
    timings = _figures(deltas, run.usage, total)
    if run.status == "error" and isinstance(run.error, dict):
        error = run.error
        frames.append(
            {
                "type": "chat.error",
                "code": error.get("code") or "upstream_error",
                "message": error.get("message") or "",
                "retryable": bool(error.get("retryable")),
                "status": error.get("status"),
                "request_id": error.get("request_id"),
                "param": error.get("param"),
                "timings": timings,
                "t": end_t,
            }
        )
    elif run.status in ("done", "stopped"):
        frames.append(
            {
                "type": "chat.done",
                "status": run.status,
                "finish_reasons": run.finish_reasons or {},
                "model": run.response_model or None,
                "response_id": None,
                "saw_done_marker": run.status == "done",
                "timings": timings,
                "t": end_t,
            }
        )
    return frames, timings


def forwards(apps: Any, schema_editor: Any) -> None:
    Run = apps.get_model("playground", "Run")
    for run in Run.objects.iterator(chunk_size=500):
        timeline = run.timeline or []
        if timeline and all(isinstance(entry, dict) for entry in timeline):
            continue  # already frames
        run.timeline, run.timings = _frames(run)
        run.save(update_fields=["timeline", "timings"])


class Migration(migrations.Migration):
    dependencies = [("playground", "0008_conversation_workspace_indexes")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
