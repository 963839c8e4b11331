"""Reads, with the permission filtering in one place: a user only ever sees their own conversations."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from playground.models import Conversation, Message, Run


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
