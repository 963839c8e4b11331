"""OpenAI-compatible response JSON and headers → the plain events of ``proxy.client.events`` (pure).

Chat and completions chunks, whole (non-streamed) completions, and the response headers Fireworks
sends (sampling options, prompt tokens, rate limits). Never assumes ``choices`` is non-empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from proxy.client.events import Delta, Done, Event, Finish, Opened, Perf, RawOutput, Rethink, Usage


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


def opened_from(status: int, raw_headers: Mapping[str, str], *, dropped: tuple[str, ...] = ()) -> Opened:
    """The Opened event from a 2xx response's status and headers (``dropped``: fields left out)."""
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
        dropped=dropped,
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
    return delta if _says_something(delta) else None


def _says_something(delta: Delta) -> bool:
    # Not e.g. the role-only first chunk, or the empty delta next to finish_reason.
    return not (
        delta.content is None
        and delta.reasoning is None
        and delta.tool_calls is None
        and delta.logprobs is None
    )


OPEN, CLOSE = "<think>", "</think>"


def _partial(text: str, tag: str) -> int:
    """How many characters at the end of ``text`` may be the start of ``tag`` (kept for the next piece)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ThinkSplit:
    """The one place reasoning written into a choice's text is split out of it, so every view agrees.

    ``<think>…</think>`` inline in the content is reasoning. A lone ``</think>`` (the template opened
    ``<think>`` in the prompt, so the stream carries the reasoning, the closing tag, then the answer)
    makes everything before it reasoning: the text already sent as content is moved by a ``Rethink``.
    A tail that may be the start of a tag waits for the next piece (or the end of the choice).
    """

    __slots__ = ("held", "inside", "said", "tagged", "trim")

    def __init__(self) -> None:
        self.held = ""
        self.inside = False  # between <think> and </think>
        self.tagged = False  # a tag was seen: a later </think> is no longer lone
        self.said = False  # content was sent (before any tag)
        self.trim = False  # the answer after a closing tag starts without its blank lines

    def feed(self, text: str, *, final: bool = False) -> tuple[bool, str, str]:
        """(rethink, reasoning, content) for the next piece of the choice's text."""
        text, self.held = self.held + text, ""
        rethink, reasoning, content = False, "", ""
        while text:
            if self.inside:
                end = text.find(CLOSE)
                if end == -1:
                    keep = 0 if final else _partial(text, CLOSE)
                    reasoning += text[: len(text) - keep]
                    self.held = text[len(text) - keep :]
                    break
                reasoning += text[:end]
                text, self.inside, self.trim = text[end + len(CLOSE) :], False, True
                continue
            start = text.find(OPEN)
            lone = -1 if self.tagged else text.find(CLOSE)
            if lone != -1 and (start == -1 or lone < start):
                # Everything before a lone closing tag was reasoning, including what was sent as text.
                rethink = rethink or self.said
                reasoning += content + text[:lone]
                content, self.said, self.tagged, self.trim = "", False, True, True
                text = text[lone + len(CLOSE) :]
                continue
            if start != -1:
                before = text[:start]
                if self.said or content or before.strip():
                    content += before
                text, self.inside, self.tagged = text[start + len(OPEN) :], True, True
                continue
            keep = 0 if final else max(_partial(text, OPEN), 0 if self.tagged else _partial(text, CLOSE))
            piece, self.held = text[: len(text) - keep], text[len(text) - keep :]
            if not final and not (self.said or content or self.tagged) and not piece.strip():
                self.held = piece + self.held  # leading blank lines may still precede a <think>
                piece = ""
            content += piece
            break
        if self.trim and content:
            content = content.lstrip()
            self.trim = not content
        self.said = self.said or bool(content)
        return rethink, reasoning, content


class StreamState:
    """What a stream has said so far, for the final Done, and each choice's ``ThinkSplit``."""

    __slots__ = ("finish_reasons", "model", "response_id", "saw_done", "think")

    def __init__(self) -> None:
        self.finish_reasons: dict[int, str] = {}
        self.saw_done = False
        self.response_id: str | None = None
        self.model: str | None = None
        self.think: dict[int, ThinkSplit] = {}

    def split(self, delta: Delta, *, final: bool = False) -> list[Event]:
        """The delta with reasoning written into its text split out (``ThinkSplit``)."""
        splitter = self.think.get(delta.choice)
        if splitter is None:
            if delta.content is None:
                return [delta]
            splitter = self.think[delta.choice] = ThinkSplit()
        rethink, reasoning, content = splitter.feed(delta.content or "", final=final)
        split = Delta(
            choice=delta.choice,
            content=content or None,
            reasoning=((delta.reasoning or "") + reasoning) or None,
            tool_calls=delta.tool_calls,
            logprobs=delta.logprobs,
            role=delta.role,
        )
        out: list[Event] = [Rethink(choice=delta.choice)] if rethink else []
        return [*out, split] if _says_something(split) else out

    def flush(self, choice: int | None = None) -> list[Event]:
        """The text still held back (a possible tag's start), at the end of a choice or of the stream."""
        out: list[Event] = []
        for index in sorted(self.think) if choice is None else [choice]:
            splitter = self.think.get(index)
            if splitter is not None and splitter.held:
                out += self.split(Delta(choice=index, content=""), final=True)
        return out

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
    usage = obj.get("usage")
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
            reason = choice.get("finish_reason")
            finished = isinstance(reason, str) and bool(reason)
            if delta is not None:
                events += state.split(delta, final=whole or finished)
            elif finished:
                events += state.flush(index)
            raw_output = choice.get("raw_output")
            if isinstance(raw_output, dict) and raw_output:
                events.append(RawOutput(choice=index, raw=raw_output))
            if isinstance(reason, str) and reason:
                state.finish_reasons[index] = reason
                finishes.append(Finish(choice=index, reason=reason))
            # Some servers put the usage inside the finishing choice rather than beside the choices.
            if not isinstance(usage, dict) and isinstance(choice.get("usage"), dict):
                usage = choice["usage"]
    events.extend(finishes)
    if isinstance(usage, dict):
        events.append(usage_from(usage))
    perf = obj.get("perf_metrics")
    if isinstance(perf, dict):
        events.append(Perf(metrics=perf))
    return events
