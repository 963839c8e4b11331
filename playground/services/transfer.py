"""A conversation with its message tree and runs as one JSON document, and back.

The document holds no database ids: messages are numbered by ``ref`` (1, 2, … in creation order) and
parents, the current leaf and each run's messages point at those refs. Timestamps are kept, so an
export of an import equals the original export except for ``exported_at``. Not carried: the owner
(an import belongs to whoever imports it), who started each run, and ``forked_from``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from playground.models import Conversation, Message, Mode, Run
from playground.search import search_index
from playground.selectors.conversations import conversation_get_for_user
from playground.selectors.workspaces import workspace_get_for_user

FORMAT = "fireworks-playground.conversation"
VERSION = 1
MESSAGE_FIELDS = ("role", "content", "reasoning", "tool_calls", "tool_call_id")
RUN_FIELDS = (
    "endpoint",
    "model",
    "request",
    "status",
    "request_id",
    "response_headers",
    "sampling_options",
    "requested_options",
    "rate_limits",
    "usage",
    "perf_metrics",
    "timings",
    "timeline",
    "output",
    "finish_reasons",
    "response_model",
    "error",
)
SETTINGS_FIELDS = ("title", "mode", "model", "system_prompt", "params", "extra")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def conversation_export(*, user: Any, conversation_id: int, action: str = "view") -> dict[str, Any]:
    """The document for a conversation the user may read (raises Conversation.DoesNotExist)."""
    conversation = conversation_get_for_user(user=user, conversation_id=conversation_id, action=action)
    messages = list(conversation.messages.order_by("pk"))
    ref = {m.pk: index for index, m in enumerate(messages, start=1)}
    runs = list(conversation.runs.order_by("started_at", "pk"))
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "conversation": {
            **{field: getattr(conversation, field) for field in SETTINGS_FIELDS},
            "current_leaf": ref.get(conversation.current_leaf_id),
            "created_at": _time(conversation.created_at),
            "updated_at": _time(conversation.updated_at),
        },
        "messages": [
            {
                "ref": ref[m.pk],
                "parent": ref.get(m.parent_id),
                **{field: getattr(m, field) for field in MESSAGE_FIELDS},
                "created_at": _time(m.created_at),
            }
            for m in messages
        ],
        "runs": [
            {
                "message": ref.get(r.message_id),
                "follows": ref.get(r.follows_id),
                **{field: getattr(r, field) for field in RUN_FIELDS},
                "started_at": _time(r.started_at),
                "finished_at": _time(r.finished_at),
            }
            for r in runs
        ],
    }


def _fail(message: str) -> ValidationError:
    return ValidationError(f"Not a conversation export: {message}")


def _parse_time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise _fail(f"{where} is not an ISO date-time.") from None


def _check(document: Any) -> None:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _fail(f"'format' must be {FORMAT!r}.")
    if document.get("version") != VERSION:
        raise _fail(f"version {document.get('version')!r} is not supported (only {VERSION}).")
    settings = document.get("conversation")
    if not isinstance(settings, dict) or settings.get("mode") not in Mode.values:
        raise _fail("'conversation' must be an object with a mode of chat or completions.")
    for field in ("title", "model", "system_prompt"):
        if not isinstance(settings.get(field, ""), str):
            raise _fail(f"conversation.{field} must be a string.")
    for field in ("params", "extra"):
        if not isinstance(settings.get(field, {}), dict):
            raise _fail(f"conversation.{field} must be an object.")
    messages = document.get("messages")
    if not isinstance(messages, list) or not isinstance(document.get("runs", []), list):
        raise _fail("'messages' and 'runs' must be lists.")
    seen: set[int] = set()
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or not isinstance(message.get("ref"), int):
            raise _fail(f"{where} needs a numeric ref.")
        if message.get("role") not in Message.Role.values:
            raise _fail(f"{where}.role must be one of {', '.join(Message.Role.values)}.")
        if message.get("parent") is not None and message["parent"] not in seen:
            raise _fail(f"{where}.parent must be the ref of an earlier message.")
        seen.add(message["ref"])
    for index, run in enumerate(document.get("runs", [])):
        if not isinstance(run, dict) or run.get("status") not in Run.Status.values:
            raise _fail(f"runs[{index}].status must be one of {', '.join(Run.Status.values)}.")
        for key in ("message", "follows"):
            if run.get(key) is not None and run[key] not in seen:
                raise _fail(f"runs[{index}].{key} must be a message ref.")


@transaction.atomic
def conversation_import(
    *, user: Any, document: Any, title: str | None = None, workspace_id: int | None = None
) -> Conversation:
    """A new conversation of the user's from an export document; raises ValidationError if malformed."""
    _check(document)
    if workspace_id is not None:
        workspace_get_for_user(user=user, workspace_id=workspace_id, action="create")
    settings = document["conversation"]
    conversation = Conversation.objects.create(
        owner=user,
        workspace_id=workspace_id,
        title=(title if title is not None else settings.get("title", ""))[:200],
        mode=settings["mode"],
        model=settings.get("model", ""),
        system_prompt=settings.get("system_prompt", ""),
        params=settings.get("params", {}),
        extra=settings.get("extra", {}),
    )
    nodes: dict[int, Message] = {}
    for data in document["messages"]:
        parent = nodes.get(data.get("parent"))
        node = Message.objects.create(
            conversation=conversation,
            parent=parent,
            position=0 if parent is None else parent.position + 1,
            **{field: data[field] for field in MESSAGE_FIELDS if data.get(field) is not None},
        )
        created = _parse_time(data.get("created_at"), f"message {data['ref']} created_at")
        if created:
            Message.objects.filter(pk=node.pk).update(created_at=created)
        nodes[data["ref"]] = node
    for data in document.get("runs", []):
        run = Run.objects.create(
            conversation=conversation,
            message=nodes.get(data.get("message")),
            follows=nodes.get(data.get("follows")),
            started_by=user,
            **{field: data[field] for field in RUN_FIELDS if data.get(field) is not None},
            finished_at=_parse_time(data.get("finished_at"), "a run's finished_at"),
        )
        started = _parse_time(data.get("started_at"), "a run's started_at")
        if started:
            Run.objects.filter(pk=run.pk).update(started_at=started)
    leaf = nodes.get(settings.get("current_leaf"))
    times = {
        "created_at": _parse_time(settings.get("created_at"), "conversation.created_at"),
        "updated_at": _parse_time(settings.get("updated_at"), "conversation.updated_at"),
    }
    Conversation.objects.filter(pk=conversation.pk).update(
        current_leaf=leaf, **{k: v for k, v in times.items() if v}
    )
    conversation.refresh_from_db()
    search_index(conversations=[conversation], messages=nodes.values())
    return conversation


@transaction.atomic
def conversation_duplicate(
    *, user: Any, conversation_id: int, workspace_id: int | None = None
) -> Conversation:
    """A full copy (tree, runs, settings) of a conversation the user may read, titled "Copy of …"."""
    document = conversation_export(user=user, conversation_id=conversation_id, action="fork")
    copy = conversation_import(
        user=user,
        document=document,
        title=f"Copy of {document['conversation']['title'] or 'conversation'}",
        workspace_id=workspace_id,
    )
    # A copy is new work: it goes to the top of the list.
    copy.save(update_fields=["updated_at"])
    return copy
