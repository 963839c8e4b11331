"""Writes on saved conversations and their message tree: extend a branch, rename, delete, fork, switch.

Messages form a tree per conversation: a message's ``parent`` is the one it follows. Sending an edited
earlier message, or asking for a reply again, never overwrites anything: the new messages become a
sibling branch, and ``Conversation.current_leaf`` remembers which branch is on screen.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from playground.models import Conversation, Message
from playground.permissions import can
from playground.search import search_forget, search_index
from playground.selectors.conversations import conversation_get_for_user
from playground.selectors.sharing import LinkHides
from playground.selectors.workspaces import role_of
from playground.services.access import access_changed
from playground.tree import children_by_parent, path_ids

TITLE_MAX = 200


def message_fields(message: dict[str, Any]) -> dict[str, Any]:
    """The stored fields of a message as the page or the API spells it."""
    return {
        "role": message["role"],
        "content": message.get("content") if message.get("content") is not None else "",
        "reasoning": message.get("reasoning_content") or message.get("reasoning") or "",
        "tool_calls": message.get("tool_calls") or None,
        "tool_call_id": message.get("tool_call_id") or "",
    }


def _matches(node: Message, fields: dict[str, Any]) -> bool:
    # The page sends an assistant turn without its reasoning or assembled tool calls: those only
    # count when sent.
    if (node.role, node.content, node.tool_call_id) != (
        fields["role"],
        fields["content"],
        fields["tool_call_id"],
    ):
        return False
    if fields["reasoning"] and fields["reasoning"] != node.reasoning:
        return False
    return not (fields["tool_calls"] and fields["tool_calls"] != node.tool_calls)


def conversation_path_extend(
    *, conversation: Conversation, messages: list[dict[str, Any]], new: bool = False, retitled: bool = False
) -> list[Message]:
    """Make ``messages`` a branch of the conversation's tree and return its nodes, root first.

    Each message reuses an existing node at that place in the tree when it says the same thing (the
    one named by its ``id`` first, else the newest equal sibling); from the first difference on, new
    nodes are added as a new branch. Nothing is deleted, so the earlier versions stay reachable.
    ``new``: the conversation was just created, so it has no tree to read. The new messages (and the
    title, when ``retitled``) go to the search index in one statement.
    """
    children = {} if new else children_by_parent(conversation.messages.all())
    path: list[Message] = []
    parent: Message | None = None
    for index, message in enumerate(messages):
        fields = message_fields(message)
        candidates = [n for n in children.get(parent.pk if parent else None, []) if _matches(n, fields)]
        named = [n for n in candidates if n.pk == message.get("id")]
        node = (named or candidates[-1:] or [None])[0]
        if node is None:
            added = []
            for position, rest in enumerate(messages[index:], start=index):
                parent = Message.objects.create(
                    conversation=conversation, parent=parent, position=position, **message_fields(rest)
                )
                added.append(parent)
            search_index(conversations=[conversation] if retitled else [], messages=added)
            return path + added
        path.append(node)
        parent = node
    if retitled:
        search_index(conversations=[conversation])
    return path


@transaction.atomic
def conversation_rename(*, user: Any, conversation_id: int, title: str) -> Conversation:
    """Set the title of one of the user's conversations."""
    conversation = conversation_get_for_user(
        user=user, conversation_id=conversation_id, action="edit", for_update=True
    )
    conversation.title = " ".join(title.split())[:TITLE_MAX]
    conversation.save(update_fields=["title", "updated_at"])
    search_index(conversations=[conversation])
    return conversation


@transaction.atomic
def conversation_delete(*, user: Any, conversation_id: int) -> None:
    """Delete one of the user's conversations with its messages and runs."""
    conversation = conversation_get_for_user(user=user, conversation_id=conversation_id, action="delete")
    search_forget(conversation_ids=[conversation.pk])
    conversation.delete()
    access_changed(conversations=[conversation_id])


@transaction.atomic
def conversation_leaf_set(*, user: Any, conversation_id: int, message_id: int) -> Conversation:
    """Remember which branch is on screen; raises Message.DoesNotExist for a message of another one."""
    conversation = conversation_get_for_user(
        user=user, conversation_id=conversation_id, action="edit", for_update=True
    )
    conversation.current_leaf = conversation.messages.get(pk=message_id)
    # Switching branches is not an edit: the list order (updated_at) stays.
    Conversation.objects.filter(pk=conversation.pk).update(current_leaf=conversation.current_leaf)
    return conversation


@transaction.atomic
def conversation_fork(
    *, user: Any, conversation_id: int, message_id: int, workspace_id: int | None = None
) -> Conversation:
    """A new conversation with the same settings and the branch from the first message to ``message_id``.

    Only the messages are copied: the runs stay with the conversation that made them.
    """
    source = conversation_get_for_user(user=user, conversation_id=conversation_id, action="fork")
    return conversation_fork_from(source=source, user=user, message_id=message_id, workspace_id=workspace_id)


def conversation_fork_from(
    *,
    source: Conversation,
    user: Any,
    message_id: int,
    workspace_id: int | None = None,
    hides: LinkHides | None = None,
) -> Conversation:
    """The fork of ``source`` (already checked: the user may read it) into ``workspace_id`` when the
    user may create there, else into their personal workspace; it is private to them.

    ``hides`` (the share link's, when forking through one) leaves out what the link hides: the system
    prompt and every "system" message of the branch, the parameters and extra fields."""
    hides = hides or LinkHides()
    if workspace_id is not None and not can(role_of(user=user, workspace_id=workspace_id), "create"):
        workspace_id = None
    nodes = list(source.messages.only("pk", "parent_id"))
    ids = path_ids(((n.pk, n.parent_id) for n in nodes), message_id)
    if not ids or ids[-1] != message_id:
        raise Message.DoesNotExist("No such message in this conversation.")
    by_id = source.messages.in_bulk(ids)
    fork = Conversation.objects.create(
        owner=user,
        workspace_id=workspace_id,
        title=f"{source.title or 'Conversation'} (fork)"[:TITLE_MAX],
        mode=source.mode,
        model=source.model,
        **hides.settings(system_prompt=source.system_prompt, params=source.params, extra=source.extra),
        forked_from=source,
    )
    parent = None
    copied = []
    for position, old in enumerate(hides.messages(by_id[pk] for pk in ids)):
        parent = Message.objects.create(
            conversation=fork,
            parent=parent,
            position=position,
            role=old.role,
            content=old.content,
            reasoning=old.reasoning,
            tool_calls=old.tool_calls,
            tool_call_id=old.tool_call_id,
        )
        copied.append(parent)
    fork.current_leaf = parent
    fork.save(update_fields=["current_leaf"])
    search_index(conversations=[fork], messages=copied)
    return fork
