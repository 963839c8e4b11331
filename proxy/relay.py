"""One stream's relay state: folds upstream events into ``chat.*`` frames and the run record.

Pure bookkeeping in memory (no database, no network): per-choice text, tool calls and logprobs,
the chunk timeline and the timings.
"""

from __future__ import annotations

import time
from typing import Any

from proxy.client.events import Delta, Done, Event, Finish, Opened, Perf, RawOutput, Usage

# Response headers the page has no use for (session state of the upstream, not facts about the reply).
HIDDEN_HEADERS = frozenset({"set-cookie"})


def _merge_logprobs(into: dict[str, Any], fragment: dict[str, Any]) -> None:
    # Both formats (token list under "content", or the legacy parallel lists) grow by concatenation.
    for key, value in fragment.items():
        if isinstance(value, list) and isinstance(into.get(key), list):
            into[key].extend(value)
        else:
            into[key] = list(value) if isinstance(value, list) else value


def _merge_tool_calls(into: dict[int, dict[str, Any]], fragments: list[dict[str, Any]]) -> None:
    for position, fragment in enumerate(fragments):
        if not isinstance(fragment, dict):
            continue
        index = fragment.get("index", position)
        call = into.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if fragment.get("id"):
            call["id"] = fragment["id"]
        if fragment.get("type"):
            call["type"] = fragment["type"]
        function = fragment.get("function") or {}
        if function.get("name") and not call["function"]["name"]:
            call["function"]["name"] = function["name"]
        if function.get("arguments"):
            call["function"]["arguments"] += function["arguments"]


class Relay:
    """One stream's state in memory: per-choice text, the timeline and the timings."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.chunks = 0
        self.first_ms: float | None = None
        self.last_ms: float | None = None
        self.choices: dict[int, dict[str, Any]] = {}
        self.tool_calls: dict[int, dict[int, dict[str, Any]]] = {}
        self.timeline: list[list[Any]] = []
        self.opened: Opened | None = None
        self.usage: dict[str, Any] | None = None
        self.perf: dict[str, Any] | None = None
        self.finish_reasons: dict[int, str] = {}
        self.done: Done | None = None

    def now(self) -> float:
        """Milliseconds since the request was sent (monotonic clock)."""
        return round((time.monotonic() - self.started) * 1000, 2)

    def choice(self, index: int) -> dict[str, Any]:
        """The accumulated output of one choice."""
        return self.choices.setdefault(
            index,
            {"content": "", "reasoning": "", "tool_calls": None, "finish_reason": None, "logprobs": None},
        )

    def frame(self, event: Event) -> dict[str, Any] | None:
        """Fold an event into the state and return the frame to send for it (None: nothing to say)."""
        t = self.now()
        base = {"stream": self.stream, "t": t}
        if isinstance(event, Delta):
            if not (event.content or event.reasoning or event.tool_calls or event.logprobs):
                return None  # the role-only first chunk carries nothing to show
            out = self.choice(event.choice)
            frame: dict[str, Any] = {"type": "chat.delta", **base, "i": self.chunks, "choice": event.choice}
            if event.content:
                out["content"] += event.content
                frame["content"] = event.content
            if event.reasoning:
                out["reasoning"] += event.reasoning
                frame["reasoning"] = event.reasoning
            if event.tool_calls:
                _merge_tool_calls(self.tool_calls.setdefault(event.choice, {}), event.tool_calls)
                frame["tool_calls"] = event.tool_calls
            if event.logprobs:
                out["logprobs"] = out["logprobs"] or {}
                _merge_logprobs(out["logprobs"], event.logprobs)
                frame["logprobs"] = event.logprobs
            self.timeline.append([self.chunks, t, event.choice, event.content, event.reasoning])
            self.chunks += 1
            if self.first_ms is None:
                self.first_ms = t
            self.last_ms = t
            return frame
        if isinstance(event, Opened):
            self.opened = event
            headers = {k: v for k, v in event.headers.items() if k.lower() not in HIDDEN_HEADERS}
            return {
                "type": "chat.opened",
                **base,
                "status": event.status,
                "request_id": event.request_id,
                "sampling_options": event.sampling_options,
                "rate_limits": event.rate_limits,
                "headers": headers,
                "prompt_tokens": event.prompt_tokens,
                "cached_prompt_tokens": event.cached_prompt_tokens,
                "server_ttft": event.server_ttft,
            }
        if isinstance(event, RawOutput):
            # Kept with the choice's output (the run record) and sent as it came: the prompt as the
            # model saw it, token ids, the completion before tool-call parsing.
            self.choice(event.choice)["raw_output"] = event.raw
            return {"type": "chat.raw", **base, "choice": event.choice, "raw_output": event.raw}
        if isinstance(event, Finish):
            self.finish_reasons[event.choice] = event.reason
            self.choice(event.choice)["finish_reason"] = event.reason
            return {"type": "chat.finish", **base, "choice": event.choice, "reason": event.reason}
        if isinstance(event, Usage):
            self.usage = {
                "prompt_tokens": event.prompt_tokens,
                "completion_tokens": event.completion_tokens,
                "total_tokens": event.total_tokens,
                "cached_tokens": event.cached_tokens,
            }
            return {"type": "chat.usage", **base, **self.usage}
        if isinstance(event, Perf):
            self.perf = event.metrics
            return {"type": "chat.perf", **base, "metrics": event.metrics}
        if isinstance(event, Done):
            self.done = event
            for index, reason in event.finish_reasons.items():
                self.finish_reasons.setdefault(index, reason)
                self.choice(index)["finish_reason"] = self.finish_reasons[index]
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
        for index, calls in self.tool_calls.items():
            self.choice(index)["tool_calls"] = [calls[k] for k in sorted(calls)]
        if not self.choices:
            return []
        return [self.choice(i) for i in range(max(self.choices) + 1)]

    def timings(self, total_ms: float) -> dict[str, Any]:
        """ttft_ms (request sent to first content), total_ms, chunks, chunks per second after the first."""
        rate = None
        if self.chunks > 1 and self.first_ms is not None and self.last_ms and self.last_ms > self.first_ms:
            rate = round((self.chunks - 1) / ((self.last_ms - self.first_ms) / 1000), 2)
        return {
            "ttft_ms": self.first_ms,
            "total_ms": total_ms,
            "chunks": self.chunks,
            "chunks_per_second": rate,
        }
