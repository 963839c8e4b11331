"""Reads, with the permission filtering in one place: a user only ever sees their own conversations."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from playground.models import Conversation, Message, Run
from playground.tree import branch_of, leaf_of


def conversation_list_for_user(*, user: Any) -> QuerySet[Conversation]:
    """The user's conversations, most recently updated first."""
    if not getattr(user, "is_authenticated", False):
        return Conversation.objects.none()
    return Conversation.objects.filter(owner=user)


def conversation_get_for_user(*, user: Any, conversation_id: int, for_update: bool = False) -> Conversation:
    """One of the user's conversations; raises Conversation.DoesNotExist for anyone else's."""
    queryset = conversation_list_for_user(user=user)
    if for_update:
        queryset = queryset.select_for_update()
    return queryset.get(pk=conversation_id)


def conversation_search_for_user(*, user: Any, query: str = "", model: str = "") -> QuerySet[Conversation]:
    """The user's conversations for the list page: newest first, filtered, with the last run's status.

    ``query`` matches the title or the text of any message (case-insensitive); ``model`` is exact.
    The result is one SQL query however many rows it has.
    """
    conversations = conversation_list_for_user(user=user)
    if model:
        conversations = conversations.filter(model=model)
    if query:
        in_messages = Message.objects.filter(conversation=OuterRef("pk"), search_text__icontains=query)
        conversations = conversations.filter(Q(title__icontains=query) | Exists(in_messages))
    last_run = Run.objects.filter(conversation=OuterRef("pk")).order_by("-started_at", "-pk")
    return conversations.annotate(
        last_run_id=Subquery(last_run.values("pk")[:1]),
        last_run_status=Subquery(last_run.values("status")[:1]),
    ).order_by("-updated_at", "-pk")


def conversation_models_for_user(*, user: Any) -> list[str]:
    """The models the user's conversations use, for the list's filter."""
    return list(
        conversation_list_for_user(user=user).order_by("model").values_list("model", flat=True).distinct()
    )


def conversation_path(*, conversation: Conversation) -> list[Message]:
    """The messages of the branch on screen, first to last."""
    return branch_of(conversation, list(conversation.messages.all()))


def conversation_page_data(*, user: Any, conversation_id: int) -> dict[str, Any]:
    """What the playground page needs to show a saved conversation: settings, the whole tree, runs.

    Three queries: the conversation, its messages, its runs. Raises Conversation.DoesNotExist.
    """
    conversation = conversation_get_for_user(user=user, conversation_id=conversation_id)
    nodes = list(conversation.messages.order_by("pk"))
    runs = list(conversation.runs.order_by("started_at", "pk").values("pk", "message_id", "status"))
    run_of = {r["message_id"]: r for r in runs if r["message_id"]}
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
