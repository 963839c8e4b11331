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
    # Request fields the server refused by name, left out of the request that it answered
    dropped: tuple[str, ...] = ()


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
class Rethink:
    """A lone ``</think>`` closed a choice's reasoning: its content so far was reasoning, not text.

    Sent once, when the tag arrives (a template that opens ``<think>`` in the prompt leaves the stream
    only the closing tag). A fold moves the choice's content so far to its reasoning.
    """

    choice: int


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


Event = Opened | Delta | Rethink | RawOutput | Finish | Usage | Perf | Done
