"""The ONE fold of a stream on the server: upstream events in, ``chat.*`` frames and a ``StreamRecord`` out.

Pure bookkeeping in memory (no database, no network). The record holds, with named fields, what the
page's fold (``static/playground/core/stream.js``) holds: per-choice text, reasoning, tool calls and
logprobs; usage; the applied and requested sampling options; the timeline (the frames sent, in order,
without the stream id: replay and live-watch snapshots feed them to the page's fold as they came) and
the figures, each computed by one formula (``figures``; README, "How each figure is computed").

Everything the upstream controls is bounded here: choice indexes (to the ``n`` asked for), tool-call
indexes, the number of deltas and the text kept. Past a bound the stream ends with a protocol error
and keeps what arrived.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from proxy.client.errors import UpstreamProtocolError
from proxy.client.events import Delta, Done, Event, Finish, Opened, Perf, RawOutput, Rethink, Usage
from proxy.pricing import Price, cost
from proxy.protocol import error_frame

# Response headers the page has no use for (session state of the upstream, not facts about the reply).
HIDDEN_HEADERS = frozenset({"set-cookie"})
# Bounds on what one stream may make the server keep (hostile or broken upstreams).
MAX_TOOL_CALLS = 128
MAX_DELTAS = 100_000
MAX_TEXT = 8 * 1024 * 1024  # characters of content, reasoning and tool-call arguments, all choices together
# Not kept in the saved timeline: the stream id (the page's own), and a delta's logprobs (the choice's
# output has them all; keeping them twice would double the run).
_NOT_KEPT = frozenset({"stream", "logprobs"})


def _merge_logprobs(into: dict[str, Any], fragment: dict[str, Any]) -> None:
    # Both formats (token list under "content", or the legacy parallel lists) grow by concatenation.
    for key, value in fragment.items():
        if isinstance(value, list) and isinstance(into.get(key), list):
            into[key].extend(value)
        else:
            into[key] = list(value) if isinstance(value, list) else value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


@dataclass
class ChoiceRecord:
    """What one choice has said so far. Text grows as a list of pieces, joined when read: adding to a
    string kept in an object copies it whole each time, quadratic in a long (or hostile) stream."""

    content_parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    # Per tool-call index: id, type, name, and the arguments' pieces.
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    logprobs: dict[str, Any] | None = None
    raw_output: dict[str, Any] | None = None
    # Chat with ``echo``: the prompt the upstream sent back first, kept apart from the reply.
    echo: str | None = None

    @property
    def content(self) -> str:
        """The text so far."""
        return "".join(self.content_parts)

    @property
    def reasoning(self) -> str:
        """The reasoning so far."""
        return "".join(self.reasoning_parts)

    def merge_tool_calls(self, fragments: list[Any]) -> int:
        """Fold tool-call fragments (id and name first, then ``arguments`` in pieces); return text added."""
        added = 0
        for position, fragment in enumerate(fragments):
            if not isinstance(fragment, dict):
                continue
            index = fragment.get("index", position)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < MAX_TOOL_CALLS:
                raise UpstreamProtocolError(
                    f"The upstream sent a tool call with index {index!r:.40}: expected a number "
                    f"from 0 to {MAX_TOOL_CALLS - 1}."
                )
            call = self.calls.get(index)
            if call is None:
                call = self.calls[index] = {"id": None, "type": "function", "name": "", "arguments": []}
            if isinstance(fragment.get("id"), str) and fragment["id"]:
                call["id"] = fragment["id"]
            if isinstance(fragment.get("type"), str) and fragment["type"]:
                call["type"] = fragment["type"]
            function = fragment.get("function")
            function = function if isinstance(function, dict) else {}
            name = _text(function.get("name"))
            if name and not call["name"]:
                call["name"] = name
            arguments = _text(function.get("arguments"))
            if arguments:
                call["arguments"].append(arguments)
            added += len(name) + len(arguments)
        return added

    def tool_calls(self) -> list[dict[str, Any]] | None:
        """The tool calls assembled, in index order (None when there are none)."""
        return [
            {
                "id": call["id"],
                "type": call["type"],
                "function": {"name": call["name"], "arguments": "".join(call["arguments"])},
            }
            for _, call in sorted(self.calls.items())
        ] or None

    def as_output(self) -> dict[str, Any]:
        """The choice as saved in ``Run.output``."""
        out: dict[str, Any] = {
            "content": self.content,
            "reasoning": self.reasoning,
            "tool_calls": self.tool_calls(),
            "finish_reason": self.finish_reason,
            "logprobs": self.logprobs,
        }
        if self.raw_output is not None:
            out["raw_output"] = self.raw_output
        if self.echo is not None:
            out["echo"] = self.echo
        return out


def figures(
    *,
    first_ms: float | None,
    last_ms: float | None,
    deltas: int,
    usage: dict[str, Any] | None,
    total_ms: float,
    price: Price | None = None,
    cached_fallback: Any = None,
) -> dict[str, Any]:
    """Every figure of a stream, one formula each (README, "How each figure is computed").

    ``tokens`` is the server's completion count when it reported usage, else the deltas received;
    tokens per second is (tokens - 1) over the decode time (first delta to last), and ``None`` when
    that is undefined (fewer than two tokens, or no time between the first delta and the last).
    ``cost`` is ``proxy.pricing.cost`` of the usage at the run's price (None without either);
    ``cached_fallback`` is Fireworks' cached-prompt count (header or perf metric) when usage lacks it.
    """
    completion = (usage or {}).get("completion_tokens")
    tokens = completion if isinstance(completion, int) and not isinstance(completion, bool) else deltas
    decode_ms = None
    if first_ms is not None and last_ms is not None:
        decode_ms = round(max(0.0, last_ms - first_ms), 2)
    rate = None
    if tokens >= 2 and decode_ms:
        rate = round((tokens - 1) / (decode_ms / 1000), 2)
    return {
        "ttft_ms": first_ms,
        "total_ms": total_ms,
        "chunks": deltas,
        "tokens": tokens,
        "decode_ms": decode_ms,
        "tokens_per_second": rate,
        "cost": cost(usage, price, cached_fallback=cached_fallback),
    }


class StreamRecord:
    """One stream's state in memory, folded from the upstream's events: the record that is saved,
    snapshotted for live watchers and replayed."""

    def __init__(
        self,
        stream: str,
        *,
        choices: int = 1,
        requested: dict[str, Any] | None = None,
        dropped: tuple[str, ...] = (),
        echo: bool = False,
        price: Price | None = None,
    ) -> None:
        self.stream = stream
        # The price the run was started with (playground/pricing ``price_for``), set when the run opens
        # (before any event is folded); None when the model has no known price.
        self.price = price
        # Request fields the server does not accept, left out: known before (remembered refusals) and
        # refused by this stream's first request (then sent again without them).
        self.dropped: list[str] = list(dropped)
        # Chat with ``echo``: each choice's first content is the prompt echoed, not the reply (``chat.echo``).
        self.echo = echo
        self.max_choices = max(1, choices)
        self.requested = requested or {}
        self.started = time.monotonic()
        self.deltas = 0
        self.text = 0
        self.first_ms: float | None = None
        self.last_ms: float | None = None
        self.choices: dict[int, ChoiceRecord] = {}
        self.timeline: list[dict[str, Any]] = []
        self.opened: Opened | None = None
        self.usage: dict[str, Any] | None = None
        self.perf: dict[str, Any] | None = None
        self.finish_reasons: dict[int, str] = {}
        self.done: Done | None = None

    def now(self) -> float:
        """Milliseconds since the request was sent (monotonic clock)."""
        return round((time.monotonic() - self.started) * 1000, 2)

    def choice(self, index: int) -> ChoiceRecord:
        """The record of one choice, refusing an index the request did not ask for."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.max_choices:
            raise UpstreamProtocolError(
                f"The upstream sent choice index {index!r:.40}, but the request asked for "
                f"{self.max_choices} choice{'s' if self.max_choices != 1 else ''}."
            )
        record = self.choices.get(index)
        if record is None:
            record = self.choices[index] = ChoiceRecord()
        return record

    def _keep(self, frame: dict[str, Any]) -> dict[str, Any]:
        # The frame itself (no copy on the hot path); ``saved_timeline`` drops what is not kept.
        self.timeline.append(frame)
        return frame

    def saved_timeline(self) -> list[dict[str, Any]]:
        """The timeline as saved and replayed: each frame without its stream id, deltas without logprobs."""
        return [{k: v for k, v in frame.items() if k not in _NOT_KEPT} for frame in self.timeline]

    def frame(self, event: Event) -> dict[str, Any] | None:
        """Fold an event into the record and return the frame to send for it (None: nothing to say)."""
        t = self.now()
        base = {"stream": self.stream, "t": t}
        if isinstance(event, Delta):
            if not (event.content or event.reasoning or event.tool_calls or event.logprobs):
                return None  # the role-only first chunk carries nothing to show
            out = self.choice(event.choice)
            if self.echo and out.echo is None and event.content and not (event.reasoning or event.tool_calls):
                # The echoed prompt: shown apart, never saved as the reply nor sent back as history.
                out.echo = event.content
                self.text += len(event.content)
                echo = {"type": "chat.echo", **base, "choice": event.choice, "text": event.content}
                return self._keep(echo)
            if self.deltas >= MAX_DELTAS:
                raise UpstreamProtocolError(f"The upstream sent more than {MAX_DELTAS} chunks.")
            frame: dict[str, Any] = {"type": "chat.delta", **base, "i": self.deltas, "choice": event.choice}
            added = 0
            if event.content:
                out.content_parts.append(event.content)
                frame["content"] = event.content
                added += len(event.content)
            if event.reasoning:
                out.reasoning_parts.append(event.reasoning)
                frame["reasoning"] = event.reasoning
                added += len(event.reasoning)
            if event.tool_calls:
                added += out.merge_tool_calls(event.tool_calls)
                frame["tool_calls"] = event.tool_calls
            if event.logprobs:
                out.logprobs = out.logprobs or {}
                _merge_logprobs(out.logprobs, event.logprobs)
                frame["logprobs"] = event.logprobs
            self.text += added
            if self.text > MAX_TEXT:
                raise UpstreamProtocolError(f"The upstream sent more than {MAX_TEXT} characters.")
            self.deltas += 1
            if self.first_ms is None:
                self.first_ms = t
            self.last_ms = t
            return self._keep(frame)
        if isinstance(event, Opened):
            self.opened = event
            self.dropped += [name for name in event.dropped if name not in self.dropped]
            headers = {k: v for k, v in event.headers.items() if k.lower() not in HIDDEN_HEADERS}
            extra = {"dropped": list(self.dropped)} if self.dropped else {}
            return self._keep(
                {
                    "type": "chat.opened",
                    **base,
                    "status": event.status,
                    "request_id": event.request_id,
                    "sampling_options": event.sampling_options,
                    "requested": self.requested,
                    "rate_limits": event.rate_limits,
                    "headers": headers,
                    "prompt_tokens": event.prompt_tokens,
                    "cached_prompt_tokens": event.cached_prompt_tokens,
                    "server_ttft": event.server_ttft,
                    "price": self.price.as_dict() if self.price else None,
                    **extra,
                }
            )
        if isinstance(event, Rethink):
            # A lone </think>: the choice's text so far was reasoning (proxy/client/chunks.py ThinkSplit).
            out = self.choice(event.choice)
            out.reasoning_parts.extend(out.content_parts)
            out.content_parts = []
            return self._keep({"type": "chat.rethink", **base, "choice": event.choice})
        if isinstance(event, RawOutput):
            # Kept with the choice's output (the run record) and sent as it came: the prompt as the
            # model saw it, token ids, the completion before tool-call parsing.
            self.choice(event.choice).raw_output = event.raw
            return self._keep({"type": "chat.raw", **base, "choice": event.choice, "raw_output": event.raw})
        if isinstance(event, Finish):
            self.choice(event.choice).finish_reason = event.reason
            self.finish_reasons[event.choice] = event.reason
            return self._keep({"type": "chat.finish", **base, "choice": event.choice, "reason": event.reason})
        if isinstance(event, Usage):
            self.usage = {
                "prompt_tokens": event.prompt_tokens,
                "completion_tokens": event.completion_tokens,
                "total_tokens": event.total_tokens,
                "cached_tokens": event.cached_tokens,
            }
            return self._keep({"type": "chat.usage", **base, **self.usage})
        if isinstance(event, Perf):
            self.perf = event.metrics
            return self._keep({"type": "chat.perf", **base, "metrics": event.metrics})
        if isinstance(event, Done):
            self.done = event
            for index, reason in event.finish_reasons.items():
                if reason and index not in self.finish_reasons:
                    self.choice(index).finish_reason = reason
                    self.finish_reasons[index] = reason
            return None  # chat.done goes out after the run is saved, with its ids
        return None  # pragma: no cover - a new event kind; ignoring it beats killing the stream

    def frames(self, events: list[Event]) -> list[dict[str, Any]]:
        """Fold events that came in one read; consecutive deltas go out as one ``chat.deltas`` frame.

        Under load several chunks wait in one read: one frame for them costs one websocket message
        instead of many, and each delta keeps its own ``i`` and ``t``.
        """
        out: list[dict[str, Any]] = []
        deltas: list[dict[str, Any]] = []
        for event in events:
            frame = self.frame(event)
            if frame is None:
                continue
            if frame["type"] == "chat.delta":
                deltas.append(frame)
                continue
            if deltas:
                out.append(self._deltas(deltas))
                deltas = []
            out.append(frame)
        if deltas:
            out.append(self._deltas(deltas))
        return out

    def _deltas(self, deltas: list[dict[str, Any]]) -> dict[str, Any]:
        if len(deltas) == 1:
            return deltas[0]
        items = [{k: v for k, v in d.items() if k not in ("type", "stream")} for d in deltas]
        return {"type": "chat.deltas", "stream": self.stream, "items": items}

    def output(self) -> list[dict[str, Any]]:
        """Per choice, in index order: content, reasoning, assembled tool calls, finish reason, logprobs."""
        if not self.choices:
            return []
        return [(self.choices.get(i) or ChoiceRecord()).as_output() for i in range(max(self.choices) + 1)]

    def end(self, status: str, error: dict[str, Any] | None) -> dict[str, Any]:
        """The stream's last frame (``chat.done``, or ``chat.error`` with the error's fields), kept as the
        timeline's last entry; the socket adds the saved run's ids before sending it."""
        t = self.now()
        timings = self.figures(t)
        if error is not None:
            frame = error_frame(stream=self.stream, **error)
            return self._keep({**frame, "timings": timings, "t": t})
        done = self.done
        return self._keep(
            {
                "type": "chat.done",
                "stream": self.stream,
                "status": status,
                "finish_reasons": dict(self.finish_reasons),
                "model": done.model if done else None,
                "response_id": done.response_id if done else None,
                "saw_done_marker": done.saw_done_marker if done else False,
                "timings": timings,
                "t": t,
            }
        )

    def figures(self, total_ms: float | None = None) -> dict[str, Any]:
        """The stream's figures so far (``figures``)."""
        return figures(
            first_ms=self.first_ms,
            last_ms=self.last_ms,
            deltas=self.deltas,
            usage=self.usage,
            total_ms=self.now() if total_ms is None else total_ms,
            price=self.price,
            cached_fallback=self.cached_fallback(),
        )

    def cached_fallback(self) -> Any:
        """Fireworks' cached prompt tokens outside usage: the response header, else the perf metric."""
        if self.opened is not None and self.opened.cached_prompt_tokens is not None:
            return self.opened.cached_prompt_tokens
        return (self.perf or {}).get("cached-prompt-tokens")
