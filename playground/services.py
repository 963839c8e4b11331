"""Writes: keyword-only ``<entity>_<action>`` functions, each one transaction.

The websocket consumer calls ``run_start`` before the upstream request and ``run_finish`` once after
the stream ends (done, stopped or error), so the relay loop itself never touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from playground.models import Conversation, Message, Mode, Run
from playground.params import SAMPLING_OPTION_DEFAULTS
from playground.selectors import conversation_get_for_user

TITLE_LENGTH = 60
# Response headers not worth keeping on a run (session state, not information about the reply).
DROPPED_HEADERS = frozenset({"set-cookie", "cookie", "authorization"})


@dataclass(frozen=True)
class RunResult:
    """What ``run_finish`` saved: the run, the reply message (if any) and the conversation's message ids."""

    run_id: int
    message_id: int | None
    message_ids: list[int]


def title_from_messages(messages: list[dict[str, Any]], prompt: str | None = None) -> str:
    """A short title from the first user message (or the prompt), cut at a word boundary."""
    text = prompt or ""
    for message in messages:
        if message.get("role") == "user":
            text = _text_of(message.get("content"))
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


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _message_fields(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": message["role"],
        "content": message.get("content") if message.get("content") is not None else "",
        "reasoning": message.get("reasoning_content") or message.get("reasoning") or "",
        "tool_calls": message.get("tool_calls") or None,
        "tool_call_id": message.get("tool_call_id") or "",
    }


def conversation_messages_replace(*, conversation: Conversation, messages: list[dict[str, Any]]) -> None:
    """Make the conversation's messages equal to ``messages``, keeping the unchanged leading ones.

    Keeping the common prefix keeps the ids (and the runs pointing at them) of earlier replies that
    the page sends back as part of the whole conversation.
    """
    existing = list(conversation.messages.order_by("position"))
    wanted = [_message_fields(m) for m in messages]
    keep = 0
    for old, new in zip(existing, wanted, strict=False):
        if any(getattr(old, field) != value for field, value in new.items()):
            break
        keep += 1
    if keep < len(existing):
        conversation.messages.filter(position__gte=keep).delete()
    Message.objects.bulk_create(
        Message(conversation=conversation, position=position, **fields)
        for position, fields in enumerate(wanted[keep:], start=keep)
    )


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
) -> Run:
    """Create or update the user's conversation with what the page sent and open a streaming Run.

    Raises ``Conversation.DoesNotExist`` for a conversation id that is not the user's.
    """
    if conversation_id is None:
        conversation = Conversation(owner=user)
    else:
        conversation = conversation_get_for_user(user=user, conversation_id=conversation_id, for_update=True)
    conversation.mode = mode
    conversation.model = model
    conversation.system_prompt = system_prompt
    conversation.params = params
    conversation.extra = extra
    if not conversation.title:
        conversation.title = title_from_messages(messages, prompt)
    conversation.save()
    # Completions mode has no chat: its prompt is kept as the one user message.
    sent = [{"role": "user", "content": prompt or ""}] if mode == Mode.COMPLETIONS else messages
    conversation_messages_replace(conversation=conversation, messages=sent)
    return Run.objects.create(
        conversation=conversation,
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
    timeline: list[list[Any]],
    error: dict[str, Any] | None,
    response_model: str | None,
    finish_reasons: dict[Any, Any],
) -> RunResult:
    """Save the end of a run and the reply (choice 0, partial for stopped and error) as a message."""
    run = Run.objects.select_for_update().select_related("conversation").get(pk=run_id)
    conversation = run.conversation
    first = output[0] if output else {}
    content = first.get("content") or ""
    reasoning = first.get("reasoning") or ""
    tool_calls = first.get("tool_calls") or None
    message = None
    # A finished reply is saved even when empty; a stopped or failed one only if the user saw something.
    if status == Run.Status.DONE or content or reasoning or tool_calls:
        last = conversation.messages.aggregate(last=Max("position"))["last"]
        message = Message.objects.create(
            conversation=conversation,
            position=0 if last is None else last + 1,
            role=Message.Role.ASSISTANT,
            content=content,
            reasoning=reasoning,
            tool_calls=tool_calls,
        )
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
    run.save()
    conversation.save(update_fields=["updated_at"])
    return RunResult(
        run_id=run.pk,
        message_id=message.pk if message else None,
        message_ids=list(conversation.messages.order_by("position").values_list("pk", flat=True)),
    )
