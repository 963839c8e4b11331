"""Comparison reads: the owner's comparisons, one reopened with its columns' runs, a run's replay data.

A comparison is its owner's (others get a 404). Each column's run is read through the conversations
the user may see, so a run whose conversation was deleted or is no longer visible shows as missing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from playground.models import Comparison, Run
from playground.selectors.conversations import conversation_list_for_user, run_get_for_user

# What a page needs to show or replay a run: its reply, metrics and chunk timeline.
REPLAY_FIELDS = (
    "pk",
    "conversation_id",
    "status",
    "model",
    "response_model",
    "usage",
    "timings",
    "timeline",
    "output",
    "sampling_options",
    "requested_options",
    "finish_reasons",
    "error",
)


def comparison_list_for_user(*, user: Any) -> QuerySet[Comparison]:
    """The user's comparisons, newest first."""
    if not getattr(user, "is_authenticated", False):
        return Comparison.objects.none()
    return Comparison.objects.filter(owner=user)


def comparison_get_for_user(*, user: Any, comparison_id: int) -> Comparison:
    """One of the user's comparisons; raises Comparison.DoesNotExist for anyone else's."""
    return comparison_list_for_user(user=user).get(pk=comparison_id)


def run_replay_data(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the replay and compare pages read it (a ``values()`` row of REPLAY_FIELDS)."""
    output = run["output"] or []
    first = output[0] if output and isinstance(output[0], dict) else {}
    return {
        "id": run["pk"],
        "conversation": run["conversation_id"],
        "status": run["status"],
        "model": run["model"],
        "response_model": run["response_model"],
        "usage": run["usage"],
        "timings": run["timings"] or {},
        "timeline": run["timeline"] or [],
        "content": first.get("content") or "",
        "reasoning": first.get("reasoning") or "",
        "sampling_options": run["sampling_options"],
        "requested_options": run["requested_options"],
        "finish_reasons": run["finish_reasons"] or {},
        "error": run["error"],
    }


def run_replay_for_user(*, user: Any, run_id: int) -> dict[str, Any]:
    """A run's replay data; raises Run.DoesNotExist for a run the user may not see."""
    run = run_get_for_user(user=user, run_id=run_id)
    return run_replay_data({f: getattr(run, f) for f in REPLAY_FIELDS})


def comparison_page_data(*, user: Any, comparison_id: int) -> dict[str, Any]:
    """A comparison with each column's run (None when missing), in two queries after the comparison."""
    comparison = comparison_get_for_user(user=user, comparison_id=comparison_id)
    ids = [c.get("run") for c in comparison.columns]
    rows = Run.objects.filter(conversation__in=conversation_list_for_user(user=user), pk__in=ids).values(
        *REPLAY_FIELDS
    )
    runs = {row["pk"]: run_replay_data(row) for row in rows}
    return {
        "id": comparison.pk,
        "kind": comparison.kind,
        "title": str(comparison),
        "system_prompt": comparison.system_prompt,
        "messages": comparison.messages,
        "sweep": comparison.sweep,
        "created_at": comparison.created_at.isoformat(),
        "columns": [{**c, "data": runs.get(c.get("run"))} for c in comparison.columns],
    }
