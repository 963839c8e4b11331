"""Comparison reads: the comparisons a user may see, one reopened with its columns' runs, a run's replay data.

A comparison follows the conversation rules (``playground/permissions.py``): it is its owner's, or
shared with its workspace; anyone else gets a 404. Its columns' runs are read through the comparison
(the runs it was saved with, in its owner's conversations), so whoever may view the comparison sees
every column, and a run that was deleted shows as missing.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery

from playground.models import Comparison, Membership, Run, Visibility
from playground.permissions import Facts, can
from playground.selectors.conversations import conversation_list_for_user, run_get_for_user
from playground.selectors.runs import run_frames

# What a page needs to show or replay a run: its reply, metrics and chunk timeline.
REPLAY_FIELDS = (
    "pk",
    "conversation_id",
    "message_id",
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


def comparison_list_for_user(*, user: Any, workspace_id: int | None = None) -> QuerySet[Comparison]:
    """The comparisons the user may view as a member (of ``workspace_id`` only, when given), newest first."""
    if not getattr(user, "is_authenticated", False):
        return Comparison.objects.none()
    mine = Membership.objects.filter(user=user).values("workspace_id")
    comparisons = Comparison.objects.filter(workspace_id__in=mine).filter(
        Q(owner=user) | Q(visibility=Visibility.WORKSPACE)
    )
    if workspace_id is not None:
        comparisons = comparisons.filter(workspace_id=workspace_id)
    return comparisons


def comparison_facts(comparison: Comparison, *, user: Any) -> Facts:
    """What the permission policy needs to know about a comparison, for this user."""
    return Facts(
        shared=comparison.visibility == Visibility.WORKSPACE,
        mine=comparison.owner_id == getattr(user, "pk", None),
        signed_in=bool(getattr(user, "is_authenticated", False)),
    )


def comparison_get_for_user(
    *, user: Any, comparison_id: int, action: str = "view", for_update: bool = False
) -> Comparison:
    """A comparison the user may view, if their role allows ``action`` on it.

    Raises Comparison.DoesNotExist when they may not even view it (a 404) and PermissionDenied when
    they may view it but not do ``action`` (a 403). The result's ``member_role`` is the user's role
    in its workspace.
    """
    role = Membership.objects.filter(workspace_id=OuterRef("workspace_id"), user=user).values("role")
    queryset = comparison_list_for_user(user=user).annotate(member_role=Subquery(role[:1]))
    if for_update:
        queryset = queryset.select_for_update()
    comparison = queryset.get(pk=comparison_id)
    if not can(comparison.member_role, action, comparison_facts(comparison, user=user)):
        raise PermissionDenied(f"Your role ({comparison.member_role}) cannot {action} this comparison.")
    return comparison


def comparison_conversation_ids(comparison: Comparison) -> list[int]:
    """The conversations of the comparison's columns (each column's runs live in one), in column order."""
    ids = [c.get("conversation") for c in comparison.columns if isinstance(c, dict)]
    return [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]


def comparison_rights(comparison: Comparison, *, user: Any) -> dict[str, bool]:
    """What the page offers this user on a comparison (the server checks every action again)."""
    role = getattr(comparison, "member_role", None)
    facts = comparison_facts(comparison, user=user)
    return {
        # Running it again in place runs each column's own conversation: its owner's.
        "can_run": can(role, "run", facts) and facts.mine,
        "can_share": can(role, "share", facts),
        "can_set_visibility": can(role, "set_visibility", facts),
        "can_delete": can(role, "delete", facts),
        "can_rename": can(role, "edit", facts),
    }


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
        "frames": run_frames(timeline=run["timeline"], run_id=run["pk"], message_id=run["message_id"]),
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


# How many of the newest finished runs of a model are looked through for a recorded one.
RECORDED_WINDOW = 500


def run_latest_recorded(*, user: Any, request: dict[str, Any], endpoint: str) -> dict[str, Any] | None:
    """The most recent successful run the user may see of the same prompt and configuration: its exact
    request body is ``request`` (built by the one request builder from the same fields), as replay data;
    None when there is none among the model's ``RECORDED_WINDOW`` newest finished runs."""
    rows = (
        Run.objects.filter(
            conversation__in=conversation_list_for_user(user=user),
            model=request.get("model"),
            endpoint=endpoint,
            status=Run.Status.DONE,
        )
        .order_by("-pk")
        .values(*REPLAY_FIELDS, "request", "started_at")[:RECORDED_WINDOW]
    )
    for row in rows:
        if row["request"] == request:
            return {**run_replay_data(row), "started_at": row["started_at"].isoformat()}
    return None


def comparison_runs(comparison: Comparison) -> dict[int, dict[str, Any]]:
    """Each column's run as replay data, by run id (one query): the runs the comparison was saved with,
    in its owner's conversations; a deleted one is absent."""
    pairs = {
        c.get("run"): c.get("conversation")
        for c in comparison.columns
        if isinstance(c, dict) and c.get("run")
    }
    rows = Run.objects.filter(pk__in=list(pairs), conversation__owner_id=comparison.owner_id).values(
        *REPLAY_FIELDS
    )
    return {row["pk"]: run_replay_data(row) for row in rows if pairs.get(row["pk"]) == row["conversation_id"]}


def comparison_data(comparison: Comparison) -> dict[str, Any]:
    """A comparison with each column's run (``data``: None when missing), as the pages read it."""
    runs = comparison_runs(comparison)
    return {
        "id": comparison.pk,
        "kind": comparison.kind,
        "title": str(comparison),
        "system_prompt": comparison.system_prompt,
        "messages": comparison.messages,
        "sweep": comparison.sweep,
        "created_at": comparison.created_at.isoformat(),
        "visibility": comparison.visibility,
        "columns": [{**c, "data": runs.get(c.get("run"))} for c in comparison.columns],
    }


def comparison_page_data(*, user: Any, comparison_id: int) -> dict[str, Any]:
    """A comparison the user may view with its columns' runs and the user's rights on it."""
    comparison = comparison_get_for_user(user=user, comparison_id=comparison_id)
    owner = comparison.owner.get_username() if comparison.owner_id else ""
    return {
        **comparison_data(comparison),
        "owner": owner,
        "role": comparison.member_role,
        "rights": comparison_rights(comparison, user=user),
    }
