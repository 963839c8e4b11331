"""The websocket frames the browser sends: checked and turned into the exact request body.

Everything here is synchronous and free of I/O, so a bad frame is refused before anything is sent
upstream or saved.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings

from playground.params import ALL, Mode, ParamError, server_kind, to_request_fields, validate
from playground.prompts.template import MAX_RENDERED_CHARS, TemplateError, render_start
from proxy.client.client import prepare_body
from proxy.client.dialect import ESSENTIAL, REFUSALS, Dialect
from proxy.client.responses import responses_body
from proxy.protocol import FrameError

ROLES = ("system", "user", "assistant", "tool")
PART_TYPES = ("text", "image_url")
MAX_STREAM_ID = 200


@dataclasses.dataclass(frozen=True)
class StartRequest:
    """A validated ``chat.start``: what to save and the exact body to send."""

    stream: str
    mode: Mode
    model: str
    messages: list[dict[str, Any]]
    prompt: str | None
    system: str
    params: dict[str, Any]
    extra: dict[str, Any]
    conversation: int | None
    body: dict[str, Any]
    previous_response_id: str | None = None
    # Fields the user set that this server refused before (remembered), left out of ``body``.
    dropped: tuple[str, ...] = ()

    @property
    def choices(self) -> int:
        """How many choices the request asks for (the bound on the upstream's choice indexes)."""
        n = self.body.get("n")
        return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 1


def stream_id(content: dict[str, Any]) -> str:
    """The frame's stream id, checked."""
    stream = content.get("stream")
    if not isinstance(stream, str) or not stream or len(stream) > MAX_STREAM_ID:
        raise FrameError(
            "invalid_frame", f"'stream' must be a non-empty string of at most {MAX_STREAM_ID} characters."
        )
    return stream


def _check_message(index: int, message: Any, stream: str) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise FrameError(
            "invalid_frame", f"{where} must be an object with a role and a content.", stream=stream
        )
    if message.get("role") not in ROLES:
        raise FrameError("invalid_frame", f"{where}.role must be one of {', '.join(ROLES)}.", stream=stream)
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in PART_TYPES:
                raise FrameError(
                    "invalid_frame", f"{where}.content parts must be text or image_url.", stream=stream
                )
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise FrameError(
                    "invalid_frame", f"{where}: a text part needs a 'text' string.", stream=stream
                )
            url = part.get("image_url")
            if part["type"] == "image_url" and not (
                isinstance(url, dict) and isinstance(url.get("url"), str)
            ):
                raise FrameError(
                    "invalid_frame", f"{where}: an image_url part needs image_url.url.", stream=stream
                )
    elif not isinstance(content, str) and not (content is None and message.get("tool_calls")):
        raise FrameError(
            "invalid_frame", f"{where}.content must be a string or a list of parts.", stream=stream
        )
    if message.get("tool_calls") is not None and not isinstance(message["tool_calls"], list):
        raise FrameError("invalid_frame", f"{where}.tool_calls must be a list.", stream=stream)
    for key in ("tool_call_id", "name", "reasoning_content"):
        if message.get(key) is not None and not isinstance(message[key], str):
            raise FrameError("invalid_frame", f"{where}.{key} must be a string.", stream=stream)
    # Only the fields the API knows go upstream; anything else the page attached stays behind.
    return {
        k: message[k]
        for k in ("role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content")
        if message.get(k) is not None or k == "content"
    }


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def fill_variables(content: dict[str, Any], stream: str) -> dict[str, Any]:
    """A ``chat.start`` with ``variables``: its system prompt, messages' text and prompt with the values
    filled in (playground/prompts/template.py), so everything after this sees, sends and saves the
    filled-in text. Without ``variables`` a ``{{name}}`` is plain text. A missing value is refused here,
    before anything is sent or saved."""
    variables = content.get("variables")
    if variables is None:
        return content
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise FrameError(
            "invalid_frame",
            "'variables' must be an object of variable name → text value.",
            stream=stream,
            param="variables",
        )
    try:
        return render_start(content, variables, max_chars=MAX_RENDERED_CHARS)
    except TemplateError as exc:
        raise FrameError("invalid_frame", str(exc), stream=stream, param="variables") from None


def upstream_dialect() -> Dialect:
    """How to speak to the configured upstream: its kind (from the base URL) and what it refused."""
    base_url = settings.FIREWORKS_BASE_URL
    return Dialect(server_kind(base_url), REFUSALS.get(base_url))


def parse_start(content: dict[str, Any], *, dialect: Dialect | None = None) -> StartRequest:
    """Check a ``chat.start`` frame and build the exact request body for the upstream's dialect
    (``upstream_dialect()`` unless given); raises FrameError naming what is wrong."""
    stream = stream_id(content)
    content = fill_variables(content, stream)
    dialect = dialect or upstream_dialect()
    mode: Mode = content.get("mode", "chat")
    if mode not in ALL:
        raise FrameError("invalid_frame", "'mode' must be chat, completions or responses.", stream=stream)
    previous = content.get("previous_response_id")
    if previous is not None and (mode != "responses" or not isinstance(previous, str) or not previous):
        raise FrameError(
            "invalid_frame",
            "'previous_response_id' must be a response id (a string), in responses mode only.",
            stream=stream,
        )
    model = content.get("model") or settings.PLAYGROUND_DEFAULT_MODEL
    if not isinstance(model, str):
        raise FrameError("invalid_frame", "'model' must be a string.", stream=stream)
    system = content.get("system") or ""
    if not isinstance(system, str):
        raise FrameError("invalid_frame", "'system' must be a string.", stream=stream)
    conversation = content.get("conversation")
    if conversation is not None and (isinstance(conversation, bool) or not isinstance(conversation, int)):
        raise FrameError(
            "invalid_frame", "'conversation' must be a conversation id (a number).", stream=stream
        )
    params = content.get("params") or {}
    extra = content.get("extra") or {}
    for name, value in (("params", params), ("extra", extra)):
        if not isinstance(value, dict):
            raise FrameError("invalid_frame", f"'{name}' must be an object.", stream=stream)
    try:
        cleaned = validate(params, mode=mode)
    except ParamError as exc:
        raise FrameError("invalid_param", exc.message, stream=stream, param=exc.param) from None
    messages: list[dict[str, Any]] = []
    prompt: str | None = None
    if mode in ("chat", "responses"):
        raw = content.get("messages")
        if not isinstance(raw, list) or not raw:
            raise FrameError(
                "invalid_frame", f"'messages' must be a non-empty list in {mode} mode.", stream=stream
            )
        sent_messages = [_check_message(i, m, stream) for i, m in enumerate(raw)]
        sent = [{"role": "system", "content": system}, *sent_messages] if system else sent_messages
        # A saved message's id (from the page) picks its node in the conversation's tree; never sent.
        messages = [
            {**m, "id": r["id"]} if _is_id(r.get("id")) else m
            for m, r in zip(sent_messages, raw, strict=True)
        ]
        body: dict[str, Any] = {"model": model, "messages": sent}
    else:
        prompt = content.get("prompt")
        if not isinstance(prompt, str):
            raise FrameError("invalid_frame", "'prompt' must be a string in completions mode.", stream=stream)
        body = {"model": model, "prompt": prompt}
    if mode == "responses":
        # The whole thread is saved; only what follows the previous response is sent (proxy/responses.py).
        body = responses_body(
            model=model,
            messages=sent_messages,
            system=system,
            fields={**to_request_fields(cleaned), **extra},
            previous_response_id=previous,
        )
    else:
        body = {**body, **to_request_fields(cleaned), **extra}
    dropped = tuple(k for k in body if k in dialect.refused and k not in ESSENTIAL)
    return StartRequest(
        stream=stream,
        mode=mode,
        model=model,
        messages=messages,
        prompt=prompt,
        system=system,
        params=cleaned,
        extra=extra,
        conversation=conversation,
        body=prepare_body(body, endpoint=mode, dialect=dialect),
        previous_response_id=previous,
        dropped=dropped,
    )
