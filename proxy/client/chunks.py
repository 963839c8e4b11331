"""OpenAI-compatible response JSON and headers → the plain events of ``proxy.client.events`` (pure).

Chat and completions chunks, whole (non-streamed) completions, and the response headers Fireworks
sends (sampling options, prompt tokens, rate limits). Never assumes ``choices`` is non-empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from proxy.client.events import Delta, Done, Event, Finish, Opened, Perf, RawOutput, Usage


def _to_int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        try:
            return int(float(value))
        except ValueError:
            return None


def _to_float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def opened_from(status: int, raw_headers: Mapping[str, str]) -> Opened:
    """The Opened event from a 2xx response's status and headers."""
    headers = {k.lower(): v for k, v in raw_headers.items()}
    sampling: dict[str, Any] | None = None
    raw = headers.get("fireworks-sampling-options")
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        sampling = parsed if isinstance(parsed, dict) else None
    return Opened(
        status=status,
        headers=headers,
        request_id=headers.get("x-request-id"),
        sampling_options=sampling,
        rate_limits={k: v for k, v in headers.items() if k.startswith("x-ratelimit-")},
        prompt_tokens=_to_int(headers.get("fireworks-prompt-tokens")),
        cached_prompt_tokens=_to_int(headers.get("fireworks-cached-prompt-tokens")),
        server_ttft=_to_float(headers.get("fireworks-server-time-to-first-token")),
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def usage_from(raw: dict[str, Any]) -> Usage:
    """A Usage event from a ``usage`` object: chat's names, or the Responses API's (``input_tokens``,
    ``output_tokens``, ``input_tokens_details``). Counts that are not whole numbers are left out."""
    responses = "prompt_tokens" not in raw and ("input_tokens" in raw or "output_tokens" in raw)
    details = raw.get("input_tokens_details" if responses else "prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=_count(raw.get("input_tokens" if responses else "prompt_tokens")),
        completion_tokens=_count(raw.get("output_tokens" if responses else "completion_tokens")),
        total_tokens=_count(raw.get("total_tokens")),
        cached_tokens=_count(cached),
        raw=raw,
    )


def delta_from(index: int, part: dict[str, Any], choice: dict[str, Any]) -> Delta | None:
    """A Delta from a chat ``delta``/``message`` or a completions choice; None if it says nothing."""
    content = part.get("content")
    if content is None:
        content = choice.get("text")
    reasoning = part.get("reasoning_content")
    if reasoning is None:
        reasoning = part.get("reasoning")  # some OpenAI-compatible servers use this name
    tool_calls = part.get("tool_calls")
    logprobs = choice.get("logprobs")
    delta = Delta(
        choice=index,
        content=content if isinstance(content, str) and content else None,
        reasoning=reasoning if isinstance(reasoning, str) and reasoning else None,
        tool_calls=tool_calls if isinstance(tool_calls, list) and tool_calls else None,
        logprobs=logprobs if isinstance(logprobs, dict) and logprobs else None,
        role=part.get("role") if isinstance(part.get("role"), str) else None,
    )
    if (
        delta.content is None
        and delta.reasoning is None
        and delta.tool_calls is None
        and delta.logprobs is None
    ):
        return None  # e.g. the role-only first chunk, or the empty delta next to finish_reason
    return delta


class StreamState:
    """What a stream has said so far, for the final Done."""

    __slots__ = ("finish_reasons", "model", "response_id", "saw_done")

    def __init__(self) -> None:
        self.finish_reasons: dict[int, str] = {}
        self.saw_done = False
        self.response_id: str | None = None
        self.model: str | None = None

    def done(self) -> Done:
        """The Done event for what was seen."""
        return Done(
            finish_reasons=dict(self.finish_reasons),
            saw_done_marker=self.saw_done,
            response_id=self.response_id,
            model=self.model,
        )


def chunk_events(obj: dict[str, Any], state: StreamState, *, whole: bool) -> list[Event]:
    """The events of one chunk (or of a whole non-streamed completion): deltas, finishes, usage, perf."""
    if state.response_id is None and isinstance(obj.get("id"), str):
        state.response_id = obj["id"]
    if isinstance(obj.get("model"), str):
        state.model = obj["model"]
    events: list[Event] = []
    finishes: list[Event] = []
    choices = obj.get("choices")
    if isinstance(choices, list):
        for position, choice in enumerate(choices):
            if not isinstance(choice, dict):
                continue
            index = choice.get("index")
            if not isinstance(index, int):
                index = position
            part = choice.get("message" if whole else "delta")
            delta = delta_from(index, part if isinstance(part, dict) else {}, choice)
            if delta is not None:
                events.append(delta)
            raw_output = choice.get("raw_output")
            if isinstance(raw_output, dict) and raw_output:
                events.append(RawOutput(choice=index, raw=raw_output))
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                state.finish_reasons[index] = reason
                finishes.append(Finish(choice=index, reason=reason))
    events.extend(finishes)
    usage = obj.get("usage")
    if isinstance(usage, dict):
        events.append(usage_from(usage))
    perf = obj.get("perf_metrics")
    if isinstance(perf, dict):
        events.append(Perf(metrics=perf))
    return events
