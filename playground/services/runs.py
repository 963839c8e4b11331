"""Writes: keyword-only ``<entity>_<action>`` functions, each one transaction.

The websocket consumer calls ``run_start`` before the upstream request and ``run_finish`` once after
the stream ends (done, stopped or error), so the relay loop itself never touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from playground.content import content_text
from playground.models import Conversation, Message, Mode, Run
from playground.params import SAMPLING_OPTION_DEFAULTS
from playground.search import search_index
from playground.selectors.conversations import conversation_get_for_user
from playground.selectors.workspaces import workspace_get_for_user
from playground.services.conversations import conversation_path_extend
from playground.tree import path_ids

TITLE_LENGTH = 60
# Response headers not worth keeping on a run (session state, not information about the reply).
DROPPED_HEADERS = frozenset({"set-cookie", "cookie", "authorization"})


@dataclass(frozen=True)
class RunPlace:
    """Where an opened run's reply goes, as ``run_start`` left it: ``run_finish`` needs nothing more, so
    a stream's end is written without reading anything back."""

    conversation_id: int
    follows_id: int | None
    follows_position: int | None
    # The ids of the branch the run answers, root first (its last one is ``follows_id``).
    path: tuple[int, ...]


@dataclass(frozen=True)
class RunResult:
    """What ``run_finish`` saved: the run, the reply (if any) and the ids of its branch, root first."""

    run_id: int
    message_id: int | None
    message_ids: list[int]


def title_from_messages(messages: list[dict[str, Any]], prompt: str | None = None) -> str:
    """A short title from the first user message (or the prompt), cut at a word boundary."""
    text = prompt or ""
    for message in messages:
        if message.get("role") == "user":
            text = content_text(message.get("content"))
            break
    text = " ".join(text.split())
    if len(text) <= TITLE_LENGTH:
        return text
    cut = text[:TITLE_LENGTH].rsplit(" ", 1)[0] or text[:TITLE_LENGTH]
    return cut + "…"


def requested_options_for(request: dict[str, Any]) -> dict[str, Any]:
    """The sampling values a request asked for, keyed like ``fireworks-sampling-options``."""
    requested = {key: request[key] for key in SAMPLING_OPTION_DEFAULTS if request.get(key) is not None}
    if request.get("max_completion_tokens") is not None:
        requested["max_tokens"] = request["max_completion_tokens"]
    return requested


@transaction.atomic
def run_start(
    *,
    user: Any,
    conversation_id: int | None,
    mode: str,
    model: str,
    messages: list[dict[str, Any]],
    prompt: str | None,
    params: dict[str, Any],
    extra: dict[str, Any],
    request: dict[str, Any],
    system_prompt: str = "",
    workspace_id: int | None = None,
    personal_workspace_id: int | None = None,
) -> Run:
    """Create or update the user's conversation with what the page sent and open a streaming Run.

    The messages become a branch of the conversation's tree (an edited or shortened list adds a new
    branch beside the old one, which is kept). A new conversation goes to ``workspace_id`` (the
    user's current workspace; their personal one when None). Raises ``Conversation.DoesNotExist`` for
    a conversation the user may not see and PermissionDenied when their role may not run it.
    ``personal_workspace_id``: the user's personal workspace when the caller knows it (the socket does),
    so a new conversation there is made without looking it up (it is the user's for good).
    """
    if conversation_id is None:
        if workspace_id is not None:
            workspace_get_for_user(user=user, workspace_id=workspace_id, action="create")
        conversation = Conversation(owner=user, workspace_id=workspace_id or personal_workspace_id)
    else:
        conversation = conversation_get_for_user(
            user=user, conversation_id=conversation_id, action="run", for_update=True
        )
    conversation.mode = mode
    conversation.model = model
    conversation.system_prompt = system_prompt
    conversation.params = params
    conversation.extra = extra
    retitled = not conversation.title
    if retitled:
        conversation.title = title_from_messages(messages, prompt)
    # Completions mode has no chat: its prompt is kept as the one user message.
    sent = [{"role": "user", "content": prompt or ""}] if mode == Mode.COMPLETIONS else messages
    if conversation_id is None:
        conversation.save()
        # A new conversation's leaf is its newest message (``tree.leaf_of``) until the reply sets it.
        path = conversation_path_extend(conversation=conversation, messages=sent, new=True, retitled=retitled)
    else:
        path = conversation_path_extend(conversation=conversation, messages=sent, retitled=retitled)
        changed = ["mode", "model", "system_prompt", "params", "extra", "updated_at"]
        if path and conversation.current_leaf_id != path[-1].pk:
            conversation.current_leaf = path[-1]
            changed.append("current_leaf")
        # What a stream sets, not every column again: one statement.
        conversation.save(update_fields=[*changed, "title"] if retitled else changed)
    return run_open(conversation=conversation, path=path, user=user, mode=mode, model=model, request=request)


def run_open(
    *,
    conversation: Conversation,
    path: list[Message],
    user: Any,
    mode: str,
    model: str,
    request: dict[str, Any],
) -> Run:
    """Open a streaming Run answering ``path`` (the branch, root first; empty: a reply at the root) on a
    conversation the caller already checked (``run_start``, an eval's cell); ``run.place`` is set."""
    follows = path[-1] if path else None
    run = Run.objects.create(
        conversation=conversation,
        follows=follows,
        started_by=user,
        endpoint=mode,
        model=model,
        request=request,
        status=Run.Status.STREAMING,
        requested_options=requested_options_for(request),
    )
    run.place = RunPlace(
        conversation_id=conversation.pk,
        follows_id=follows.pk if follows else None,
        follows_position=follows.position if follows else None,
        path=tuple(m.pk for m in path),
    )
    return run


def _place_of(run_id: int) -> RunPlace:
    """A run's place read back (for a caller that does not hold what ``run_start`` returned)."""
    conversation_id, follows_id, follows_position = (
        Run.objects.filter(pk=run_id).values_list("conversation_id", "follows_id", "follows__position").get()
    )
    nodes = Message.objects.filter(conversation_id=conversation_id).values_list("pk", "parent_id")
    return RunPlace(conversation_id, follows_id, follows_position, tuple(path_ids(nodes, follows_id)))


@transaction.atomic
def run_finish(
    *,
    run_id: int,
    status: str,
    opened: dict[str, Any] | None,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    perf: dict[str, Any] | None,
    timings: dict[str, Any],
    timeline: list[dict[str, Any]],
    error: dict[str, Any] | None,
    response_model: str | None,
    finish_reasons: dict[Any, Any],
    request: dict[str, Any] | None = None,
    place: RunPlace | None = None,
) -> RunResult:
    """Save the end of a run and the reply (choice 0, partial for stopped and error) as a message.

    ``request``: the body the server answered, when it differs from the one the run opened with (a
    field it refused by name was dropped and the request sent again). ``place``: what ``run_start``
    returned as ``run.place``; with it nothing is read, only written (a stream's end is three or four
    statements). Raises ``Run.DoesNotExist`` (and writes nothing) when the run is gone: its
    conversation was deleted while it streamed.
    """
    if place is None:
        place = _place_of(run_id)
    first = output[0] if output else {}
    content = first.get("content") or ""
    reasoning = first.get("reasoning") or ""
    tool_calls = first.get("tool_calls") or None
    message = None
    # A finished reply is saved even when empty; a stopped or failed one only if the user saw something.
    if status == Run.Status.DONE or content or reasoning or tool_calls:
        message = Message.objects.create(
            conversation_id=place.conversation_id,
            parent_id=place.follows_id,
            position=0 if place.follows_position is None else place.follows_position + 1,
            role=Message.Role.ASSISTANT,
            content=content,
            reasoning=reasoning,
            tool_calls=tool_calls,
        )
        search_index(messages=[message])
    fields: dict[str, Any] = {
        "message": message,
        "status": status,
        "output": output,
        "usage": usage,
        "perf_metrics": perf,
        "timings": timings,
        "timeline": timeline,
        "error": error,
        "response_model": response_model or "",
        "finish_reasons": {str(k): v for k, v in finish_reasons.items()},
        "finished_at": timezone.now(),
    }
    if opened:
        fields["request_id"] = opened.get("request_id") or ""
        fields["response_headers"] = {
            k: v for k, v in (opened.get("headers") or {}).items() if k.lower() not in DROPPED_HEADERS
        }
        fields["sampling_options"] = opened.get("sampling_options")
        fields["rate_limits"] = opened.get("rate_limits") or {}
    elif error and error.get("request_id"):
        fields["request_id"] = error["request_id"]
    # Only what the stream changed: the request (often the longest field) is not encoded and written again.
    if request is not None:
        fields["request"] = request
    if not Run.objects.filter(pk=run_id).update(**fields):
        raise Run.DoesNotExist(f"Run {run_id} is gone (its conversation was deleted).")
    leaf = message.pk if message else place.follows_id
    Conversation.objects.filter(pk=place.conversation_id).update(
        current_leaf_id=leaf, updated_at=fields["finished_at"]
    )
    return RunResult(
        run_id=run_id,
        message_id=message.pk if message else None,
        message_ids=[*place.path, message.pk] if message else list(place.path),
    )
