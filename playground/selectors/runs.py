"""Reads about runs for the pages: a run's frames (its saved timeline, which every page folds as it folds
live frames), the summary of the last run of the branch on screen, and whether a run's answer came
from the offline emulator (its response headers carry ``x-playground-emulator``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.query import QuerySet

from playground.models import Run

EMULATOR_HEADER = "x-playground-emulator"
# The fields of a run the playground page fills its Usage, Performance and Sampling panels from.
SUMMARY_FIELDS = (
    "pk",
    "status",
    "message_id",
    "follows_id",
    "model",
    "response_model",
    "request_id",
    "usage",
    "timings",
    "timeline",
    "output",
    "sampling_options",
    "requested_options",
    "perf_metrics",
    "rate_limits",
    "response_headers",
)


def run_frames(*, timeline: Any, run_id: int, message_id: int | None) -> list[dict[str, Any]]:
    """A saved run as the frames it sent after ``chat.started`` (``Run.timeline``), the last one
    (``chat.done`` or ``chat.error``) with the run's ids: replay, the run page and the playground fold
    them exactly as live frames, so every view computes its figures the same way."""
    frames = [dict(entry) for entry in timeline or [] if isinstance(entry, dict)]
    if frames and frames[-1].get("type") in ("chat.done", "chat.error"):
        frames[-1].update(run=run_id, message_id=message_id)
    return frames


def headers_say_emulator(headers: Mapping[str, Any] | None) -> bool:
    """Whether kept response headers mark the answer as the offline emulator's."""
    return any(str(k).lower() == EMULATOR_HEADER and str(v) == "1" for k, v in (headers or {}).items())


def last_run_emulator(last_run: QuerySet[Run]) -> Subquery:
    """An annotation: the emulator header of the first run of ``last_run`` (an OuterRef'd queryset)."""
    return Subquery(
        last_run.annotate(emulator_header=KeyTextTransform(EMULATOR_HEADER, "response_headers")).values(
            "emulator_header"
        )[:1]
    )


def cached_prompt_tokens(usage: Mapping[str, Any] | None, headers: Mapping[str, Any] | None) -> int | None:
    """The cached prompt tokens as the playground shows them: usage first, else the response header."""
    if usage and usage.get("cached_tokens") is not None:
        return usage["cached_tokens"]
    try:
        return int((headers or {})["fireworks-cached-prompt-tokens"])
    except (KeyError, TypeError, ValueError):
        return None


def run_summary_for_leaf(*, runs: Iterable[Mapping[str, Any]], leaf_id: int | None) -> dict[str, Any] | None:
    """The last finished run of the branch ending at ``leaf_id`` (the one that wrote the leaf, else one
    that followed it and failed or stopped before any text), as the page shows it. One query, or none
    when there is no such run. ``runs`` are the conversation's runs, oldest first, with ``pk``,
    ``message_id``, ``follows_id`` and ``status``."""
    if leaf_id is None:
        return None
    picked = None
    for run in runs:
        if run["status"] == Run.Status.STREAMING:
            continue
        if run["message_id"] == leaf_id or (run["message_id"] is None and run["follows_id"] == leaf_id):
            picked = run["pk"]
    if picked is None:
        return None
    row = Run.objects.filter(pk=picked).values(*SUMMARY_FIELDS).first()
    if row is None:
        return None
    output = row.pop("output") or []
    frames = run_frames(timeline=row.pop("timeline"), run_id=row["pk"], message_id=row["message_id"])
    return {
        "id": row.pop("pk"),
        "message": row.pop("message_id"),
        "follows": row.pop("follows_id"),
        **row,
        "choices": max(1, len(output)),
        "frames": frames,
        "emulator": headers_say_emulator(row.get("response_headers")),
    }
