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


# The fields run_finish sets.
FINISHED_FIELDS = [
    "request_id",
    "response_headers",
    "sampling_options",
    "rate_limits",
    "message",
    "status",
    "output",
    "usage",
    "perf_metrics",
    "timings",
    "timeline",
    "error",
    "response_model",
    "finish_reasons",
    "finished_at",
]


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
) -> Run:
    """Create or update the user's conversation with what the page sent and open a streaming Run.

    The messages become a branch of the conversation's tree (an edited or shortened list adds a new
    branch beside the old one, which is kept). A new conversation goes to ``workspace_id`` (the
    user's current workspace; their personal one when None). Raises ``Conversation.DoesNotExist`` for
    a conversation the user may not see and PermissionDenied when their role may not run it.
    """
    if conversation_id is None:
        if workspace_id is not None:
            workspace_get_for_user(user=user, workspace_id=workspace_id, action="create")
        conversation = Conversation(owner=user, workspace_id=workspace_id)
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
    conversation.save()
    # Completions mode has no chat: its prompt is kept as the one user message.
    sent = [{"role": "user", "content": prompt or ""}] if mode == Mode.COMPLETIONS else messages
    path = conversation_path_extend(
        conversation=conversation, messages=sent, new=conversation_id is None, retitled=retitled
    )
    follows = path[-1] if path else None
    if follows is not None and conversation.current_leaf_id != follows.pk:
        conversation.current_leaf = follows
        conversation.save(update_fields=["current_leaf"])
    return run_open(
        conversation=conversation, follows=follows, user=user, mode=mode, model=model, request=request
    )


def run_open(
    *,
    conversation: Conversation,
    follows: Message | None,
    user: Any,
    mode: str,
    model: str,
    request: dict[str, Any],
) -> Run:
    """Open a streaming Run on a conversation the caller already checked (``run_start``, an eval's cell)."""
    return Run.objects.create(
        conversation=conversation,
        follows=follows,
        started_by=user,
        endpoint=mode,
        model=model,
        request=request,
        status=Run.Status.STREAMING,
        requested_options=requested_options_for(request),
    )


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
) -> RunResult:
    """Save the end of a run and the reply (choice 0, partial for stopped and error) as a message.

    ``request``: the body the server answered, when it differs from the one the run opened with (a
    field it refused by name was dropped and the request sent again).
    """
    # Only the run row is locked: PostgreSQL refuses FOR UPDATE on the nullable side of an outer join.
    run = Run.objects.select_for_update(of=("self",)).select_related("conversation", "follows").get(pk=run_id)
    conversation = run.conversation
    first = output[0] if output else {}
    content = first.get("content") or ""
    reasoning = first.get("reasoning") or ""
    tool_calls = first.get("tool_calls") or None
    message = None
    # A finished reply is saved even when empty; a stopped or failed one only if the user saw something.
    if status == Run.Status.DONE or content or reasoning or tool_calls:
        follows = run.follows
        message = Message.objects.create(
            conversation=conversation,
            parent=follows,
            position=0 if follows is None else follows.position + 1,
            role=Message.Role.ASSISTANT,
            content=content,
            reasoning=reasoning,
            tool_calls=tool_calls,
        )
        search_index(messages=[message])
    if opened:
        run.request_id = opened.get("request_id") or ""
        run.response_headers = {
            k: v for k, v in (opened.get("headers") or {}).items() if k.lower() not in DROPPED_HEADERS
        }
        run.sampling_options = opened.get("sampling_options")
        run.rate_limits = opened.get("rate_limits") or {}
    elif error and error.get("request_id"):
        run.request_id = error["request_id"]
    run.message = message
    run.status = status
    run.output = output
    run.usage = usage
    run.perf_metrics = perf
    run.timings = timings
    run.timeline = timeline
    run.error = error
    run.response_model = response_model or ""
    run.finish_reasons = {str(k): v for k, v in finish_reasons.items()}
    run.finished_at = timezone.now()
    # Only what the stream changed: the request (often the longest field) is not encoded and written again.
    fields_changed = list(FINISHED_FIELDS)
    if request is not None:
        run.request = request
        fields_changed.append("request")
    run.save(update_fields=fields_changed)
    fields = ["updated_at"]
    if message is not None:
        conversation.current_leaf = message
        fields.append("current_leaf")
    conversation.save(update_fields=fields)
    leaf = message.pk if message else run.follows_id
    return RunResult(
        run_id=run.pk,
        message_id=message.pk if message else None,
        message_ids=path_ids(conversation.messages.values_list("pk", "parent_id"), leaf),
    )
