"""What the upstream client yields, and the one error family it raises.

Plain data, no Django, no Channels, no httpx: the consumer, the tests and the benchmark all speak it.
A stream yields ``Opened`` first, then any number of ``Delta``, ``RawOutput``, ``Finish``, ``Usage`` and
``Perf`` events in the order the upstream sent them, then exactly one ``Done``; or it raises an
``UpstreamError`` at any point (before or after ``Opened``). Chat, completions and the Responses API
(``proxy/responses.py`` translates its events) all come out as these events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Opened:
    """The response headers arrived (status 2xx): what the server says it will do."""

    status: int
    headers: dict[str, str]  # every response header, names lower-cased
    request_id: str | None  # x-request-id
    sampling_options: dict[str, Any] | None  # parsed fireworks-sampling-options; None if absent or unparsable
    rate_limits: dict[str, str]  # every x-ratelimit-* header, as it came
    prompt_tokens: int | None = None  # fireworks-prompt-tokens
    cached_prompt_tokens: int | None = None  # fireworks-cached-prompt-tokens
    server_ttft: float | None = None  # fireworks-server-time-to-first-token, seconds


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of one choice: text, reasoning, tool-call fragments and/or logprobs."""

    choice: int
    content: str | None = None  # chat delta.content, or completions choices[].text
    reasoning: str | None = None  # delta.reasoning_content
    tool_calls: list[dict[str, Any]] | None = None  # raw delta.tool_calls fragments
    logprobs: dict[str, Any] | None = None  # the choice's logprobs object, as sent
    role: str | None = None


@dataclass(frozen=True, slots=True)
class RawOutput:
    """A choice's ``raw_output``: the prompt as the model saw it and the completion before parsing."""

    choice: int
    raw: dict[str, Any]  # prompt_fragments, prompt_token_ids, completion, completion_token_ids, ...


@dataclass(frozen=True, slots=True)
class Finish:
    """One choice finished, with its finish_reason (stop, length, tool_calls, ...)."""

    choice: int
    reason: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage as the upstream reported it."""

    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    cached_tokens: int | None = None  # prompt_tokens_details.cached_tokens
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Perf:
    """The response's ``perf_metrics`` object, an open mapping with hyphenated keys."""

    metrics: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Done:
    """The stream ended normally."""

    finish_reasons: dict[int, str]  # choice index -> finish_reason, for every choice that sent one
    saw_done_marker: bool  # False when the server closed the stream without ``data: [DONE]``
    response_id: str | None = None
    model: str | None = None  # the model the response names (may differ from the one requested)


Event = Opened | Delta | RawOutput | Finish | Usage | Perf | Done


class UpstreamError(Exception):
    """Any failure talking to the upstream, safe to show a user: never holds the API key.

    ``code`` is a short machine-readable word (see the subclasses); ``message`` is a sentence for a
    person; ``retryable`` says whether trying the same request again may succeed.
    """

    code = "upstream_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        param: str | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        if code is not None:
            self.code = code
        self.request_id = request_id
        if retryable is not None:
            self.retryable = retryable
        self.param = param
        self.body = body  # the raw error body (trimmed, scrubbed), for the run record

    def as_dict(self) -> dict[str, Any]:
        """The error as a plain mapping for frames and run records."""
        return {
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "request_id": self.request_id,
            "retryable": self.retryable,
            "param": self.param,
        }


class UpstreamHTTPError(UpstreamError):
    """The upstream answered with a 4xx/5xx status (any body shape)."""

    code = "http_error"


class UpstreamTimeout(UpstreamError):
    """Connecting, the first byte, or the gap between two chunks took longer than allowed."""

    code = "timeout"
    retryable = True


class UpstreamConnectionError(UpstreamError):
    """The connection could not be made, or was cut before the stream finished."""

    code = "connection_error"
    retryable = True


class UpstreamProtocolError(UpstreamError):
    """The upstream sent something that is not the expected wire format."""

    code = "protocol_error"


class UpstreamStreamError(UpstreamError):
    """The upstream reported an error inside the stream (``data: {"error": ...}``)."""

    code = "stream_error"
