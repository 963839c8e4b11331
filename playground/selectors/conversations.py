"""Reads, with the permission filtering in one place: the conversations a user may see are those of
their workspaces that are theirs or shared with the workspace (playground/permissions.py decides)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from playground.models import Conversation, Membership, Message, Run, Visibility, Workspace
from playground.permissions import Facts, can
from playground.pricing.selectors import cost_sum, timings_cost
from playground.search import search_filter
from playground.selectors.runs import last_run_emulator, run_summary_for_leaf
from playground.tree import branch_of, leaf_of


def conversation_list_for_user(*, user: Any, workspace_id: int | None = None) -> QuerySet[Conversation]:
    """The conversations the user may view as a member (of ``workspace_id`` only, when given)."""
    if not getattr(user, "is_authenticated", False):
        return Conversation.objects.none()
    mine = Membership.objects.filter(user=user).values("workspace_id")
    conversations = Conversation.objects.filter(workspace_id__in=mine).filter(
        Q(owner=user) | Q(visibility=Visibility.WORKSPACE)
    )
    if workspace_id is not None:
        conversations = conversations.filter(workspace_id=workspace_id)
    return conversations


def conversation_facts(conversation: Conversation, *, user: Any) -> Facts:
    """What the permission policy needs to know about a conversation, for this user."""
    return Facts(
        shared=conversation.visibility == Visibility.WORKSPACE,
        mine=conversation.owner_id == getattr(user, "pk", None),
        signed_in=bool(getattr(user, "is_authenticated", False)),
    )


def conversation_get_for_user(
    *, user: Any, conversation_id: int, action: str = "view", for_update: bool = False
) -> Conversation:
    """A conversation the user may view, if their role allows ``action`` on it.

    Raises Conversation.DoesNotExist when they may not even view it (a 404: its existence is not
    revealed) and PermissionDenied when they may view it but not do ``action`` (a 403). The result's
    ``member_role`` is the user's role in its workspace.
    """
    role = Membership.objects.filter(workspace_id=OuterRef("workspace_id"), user=user).values("role")
    queryset = conversation_list_for_user(user=user).annotate(member_role=Subquery(role[:1]))
    if for_update:
        queryset = queryset.select_for_update()
    conversation = queryset.get(pk=conversation_id)
    if not can(conversation.member_role, action, conversation_facts(conversation, user=user)):
        raise PermissionDenied(f"Your role ({conversation.member_role}) cannot {action} this conversation.")
    return conversation


def conversation_search_for_user(
    *, user: Any, query: str = "", model: str = "", workspace_id: int | None = None
) -> QuerySet[Conversation]:
    """The user's conversations for the list page, newest first (then the highest id), filtered.

    ``query`` matches the title or the text of any message, as words (``playground.search``: the
    database's full-text index, in order, the last word a prefix); ``model`` is exact. Count it, slice
    it, then give the slice to ``conversation_rows`` for the rows with their last run's status.
    """
    conversations = conversation_list_for_user(user=user, workspace_id=workspace_id)
    if model:
        conversations = conversations.filter(model=model)
    if query:
        match = search_filter(query)
        conversations = conversations.filter(match) if match is not None else conversations.none()
    return conversations.order_by("-updated_at", "-pk")


def conversation_rows(page: QuerySet[Conversation] | list[int]) -> QuerySet[Conversation]:
    """The conversations of ``page`` (a slice of ``conversation_search_for_user``, or its ids) in its
    order, each with its last run's id, status and emulator: one SQL query, the page's ids a subquery
    or a list, so the runs are read for these rows only and not for every row an OFFSET skips."""
    last_run = Run.objects.filter(conversation=OuterRef("pk")).order_by("-started_at", "-pk")
    ids = page if isinstance(page, list) else page.values("pk")
    return (
        Conversation.objects.filter(pk__in=ids)
        .annotate(
            last_run_id=Subquery(last_run.values("pk")[:1]),
            last_run_status=Subquery(last_run.values("status")[:1]),
            last_run_emulator=last_run_emulator(last_run),
        )
        .order_by("-updated_at", "-pk")
    )


def conversation_models_for_user(*, user: Any, workspace_id: int | None = None) -> list[str]:
    """The models the user's conversations use, for the list's filter.

    One query that skips from model to model through the index (a recursive query: the first model,
    then the first after it, ...), instead of reading every conversation for a few distinct values."""
    if not getattr(user, "is_authenticated", False):
        return []
    conversations = conversation_list_for_user(user=user, workspace_id=workspace_id).order_by("model")
    first_sql, first_params = conversations.values("model")[:1].query.sql_with_params()
    after = conversations.filter(model__gt=RawSQL("models.model", ())).values("model")[:1]
    after_sql, after_params = after.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE models(model) AS (SELECT ({first_sql}) "
            f"UNION ALL SELECT ({after_sql}) FROM models WHERE models.model IS NOT NULL) "
            "SELECT model FROM models WHERE model IS NOT NULL",
            [*first_params, *after_params],
        )
        return [row[0] for row in cursor.fetchall()]


def conversation_path(*, conversation: Conversation) -> list[Message]:
    """The messages of the branch on screen, first to last."""
    return branch_of(conversation, list(conversation.messages.all()))


def conversation_rights(
    conversation: Conversation, *, user: Any, role: str | None, current_role: str | None = None
) -> dict[str, bool]:
    """What the page lets the user do with a conversation they see (the server checks again on each
    action): ``role`` is theirs in its workspace, ``current_role`` in the workspace a fork would go to."""
    facts = conversation_facts(conversation, user=user)
    return {
        "can_run": can(role, "run", facts),
        "can_edit": can(role, "edit", facts),
        "can_share": can(role, "share", facts),
        "can_set_visibility": can(role, "set_visibility", facts),
        "can_fork": can(role, "fork", facts) and can(current_role, "create"),
    }


def workspace_summary(workspace_id: int | None) -> dict[str, Any]:
    """A workspace's id, name and whether it is someone's personal one (sharing there means nothing)."""
    name, personal_for = Workspace.objects.values_list("name", "personal_for_id").get(pk=workspace_id)
    return {"id": workspace_id, "name": name, "personal": personal_for is not None}


def conversation_page_data(
    *, user: Any, conversation_id: int, current_workspace_id: int | None = None
) -> dict[str, Any]:
    """What the playground page needs to show a saved conversation: settings, the whole tree, runs,
    the user's rights on it (``conversation_rights``; forking goes to ``current_workspace_id``) and its
    workspace, and who started each run.

    Seven queries: the conversation, its messages, its runs, who started them, its workspace's name,
    the user's role in the current workspace, and the last run of the branch on screen. Raises
    Conversation.DoesNotExist.
    """
    conversation = conversation_get_for_user(user=user, conversation_id=conversation_id)
    current_role = (
        Membership.objects.filter(user=user, workspace_id=current_workspace_id)
        .values_list("role", flat=True)
        .first()
        if current_workspace_id is not None
        else None
    )
    nodes = list(conversation.messages.order_by("pk"))
    runs = list(
        conversation.runs.order_by("started_at", "pk").values(
            "pk", "message_id", "follows_id", "status", "timings"
        )
    )
    run_of = {r["message_id"]: r for r in runs if r["message_id"]}
    # Who started each run that wrote a reply ("Run by <username>").
    run_by = dict(
        conversation.runs.filter(message__isnull=False).values_list("message_id", "started_by__username")
    )
    leaf = leaf_of(conversation, nodes)
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "mode": conversation.mode,
        "model": conversation.model,
        "system_prompt": conversation.system_prompt,
        "params": conversation.params,
        "extra": conversation.extra,
        "updated_at": conversation.updated_at.isoformat(),
        "current_leaf": leaf.pk if leaf else None,
        "streaming": any(r["status"] == Run.Status.STREAMING for r in runs),
        "visibility": conversation.visibility,
        "mine": conversation.owner_id == user.pk,
        "workspace": workspace_summary(conversation.workspace_id),
        "role": conversation.member_role,
        "rights": conversation_rights(
            conversation, user=user, role=conversation.member_role, current_role=current_role
        ),
        # The Usage, Performance and Sampling panels of the branch on screen (one more query).
        "last_run": run_summary_for_leaf(runs=runs, leaf_id=leaf.pk if leaf else None),
        # What the conversation's runs cost, summed (playground/pricing).
        "cost": cost_sum(r["timings"] for r in runs),
        "messages": [
            {
                "id": n.pk,
                "parent": n.parent_id,
                "role": n.role,
                "content": n.content,
                "reasoning": n.reasoning,
                "tool_calls": n.tool_calls,
                "tool_call_id": n.tool_call_id,
                "run": run_of[n.pk]["pk"] if n.pk in run_of else None,
                "run_status": run_of[n.pk]["status"] if n.pk in run_of else None,
                "run_by": run_by.get(n.pk),
                "cost": timings_cost(run_of[n.pk]["timings"]) if n.pk in run_of else None,
            }
            for n in nodes
        ],
    }


def message_list_for_conversation(*, conversation: Conversation) -> QuerySet[Message]:
    """The conversation's messages in order."""
    return conversation.messages.order_by("position")


def run_list_for_conversation(*, user: Any, conversation_id: int) -> QuerySet[Run]:
    """The runs of one of the user's conversations, newest first (empty for anyone else's)."""
    return Run.objects.filter(
        conversation__in=conversation_list_for_user(user=user), conversation_id=conversation_id
    )


def run_get_for_user(*, user: Any, run_id: int) -> Run:
    """One run of the user's conversations; raises Run.DoesNotExist for anyone else's."""
    return Run.objects.filter(conversation__in=conversation_list_for_user(user=user)).get(pk=run_id)
