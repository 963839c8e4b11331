"""The websocket protocol, declared once: every frame type in both directions, its fields, and the
closed set of error codes. The consumers build frames from these helpers; a test checks every frame
the server sends against ``check`` (tests/proxy/conftest.py), and ``proxy/PROTOCOL.md`` against
``INCOMING`` and ``OUTGOING``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.client.errors import STATUSES

# Frames are JSON text; one larger than this is refused with ``frame_too_large`` (the socket stays open).
MAX_FRAME_BYTES = 1024 * 1024
# How deep a frame's JSON may nest (a chat.start needs about 8 levels; tools' JSON schemas more).
MAX_FRAME_DEPTH = 64


@dataclass(frozen=True)
class Frame:
    """One frame type: the fields it always has and those it may have."""

    required: frozenset[str]
    optional: frozenset[str] = frozenset()
    doc: str = ""


def _frame(required: str, optional: str = "", doc: str = "") -> Frame:
    return Frame(frozenset(required.split()), frozenset(optional.split()), doc)


_WATCHED = "watching conversation started_by model"
_START_FIELDS = "mode model messages prompt system params extra conversation previous_response_id variables"

# Browser → server.
INCOMING: dict[str, Frame] = {
    "chat.start": _frame("type stream", _START_FIELDS, "Start a stream (the exact body is built here)."),
    "chat.stop": _frame("type stream", "", "Close the stream's upstream request at once."),
    "chat.attach": _frame("type stream", "", "Re-attach to a running stream (reload, reconnect)."),
    "models.list": _frame("type", "refresh", "The upstream's model list (cached unless refresh)."),
    "code.render": _frame("type stream", _START_FIELDS, "Code that sends what chat.start would send."),
    "watch": _frame("type conversation", "share comparison", "Watch a conversation's streams live."),
    "unwatch": _frame("type conversation", "", "Stop watching."),
    # /ws/eval/ (playground/evals/consumers.py)
    "eval.watch": _frame("type eval", "share", "Follow an eval run's progress live."),
    "eval.run": _frame("type eval", "", "Run the eval's cells not done yet, on the server."),
    "eval.stop": _frame("type eval", "", "Stop the eval: close every running request, keep what finished."),
    "probe.start": _frame(
        "type probe configs",
        "max_tokens cold_ms timeout_ms concurrency warm workspace",
        "Tiny measured requests to 1-16 configurations, nothing saved (proxy/probe.py).",
    ),
    # /ws/arena/ (proxy/arena.py): the stage and the audience's phones.
    "arena.join": _frame(
        "type", "arena token", "Join an arena: as its presenter (arena) or with its link (token)."
    ),
    "arena.send": _frame("type prompt", "", "Presenter: send a queued prompt to every configuration."),
    "arena.stop": _frame("type", "", "Presenter: stop the answers streaming now."),
    "arena.close": _frame("type prompt", "", "Presenter: close a round's voting."),
    "arena.reveal": _frame("type prompt", "", "Presenter: reveal which configuration each slot was."),
    "arena.vote": _frame(
        "type prompt choice", "", "Audience: vote for a slot, tie or bad (again: replaces)."
    ),
}

# Server → browser. Frames of a watched stream carry ``watching``, ``conversation`` and ``started_by``.
OUTGOING: dict[str, Frame] = {
    "chat.started": _frame("type stream conversation run", "request " + _WATCHED, "The run is open."),
    "chat.opened": _frame(
        "type stream t status request_id rate_limits prompt_tokens cached_prompt_tokens server_ttft",
        # Left out for a share-link viewer whose link hides the parameters (proxy/watch.py); dropped:
        # the request fields the server does not accept, left out (proxy/client/dialect.py).
        # price: the run's price (USD per million tokens: input, cached_input, output), null when unknown.
        "sampling_options requested headers dropped price " + _WATCHED,
        "The upstream's response headers arrived.",
    ),
    "chat.delta": _frame(
        "type stream i t choice", "content reasoning tool_calls logprobs " + _WATCHED, "A piece of a choice."
    ),
    "chat.deltas": _frame("type stream items", _WATCHED, "Several deltas from one read, each as chat.delta."),
    "chat.rethink": _frame(
        "type stream t choice", _WATCHED, "A lone </think>: the choice's text so far was reasoning."
    ),
    "chat.echo": _frame("type stream t choice text", _WATCHED, "Chat with echo: the echoed prompt."),
    "chat.raw": _frame("type stream t choice raw_output", _WATCHED, "A choice's raw_output."),
    "chat.finish": _frame("type stream t choice reason", _WATCHED, "A choice finished."),
    "chat.usage": _frame(
        "type stream t prompt_tokens completion_tokens total_tokens cached_tokens", _WATCHED, "Token usage."
    ),
    "chat.perf": _frame("type stream t metrics", _WATCHED, "The response's perf_metrics."),
    "chat.done": _frame(
        "type stream status finish_reasons model response_id saw_done_marker run message_id message_ids "
        "timings t",
        _WATCHED,
        "The stream ended (done or stopped) and was saved.",
    ),
    "chat.error": _frame(
        "type stream code message retryable status request_id param",
        "run message_id message_ids timings t " + _WATCHED,
        "A refused frame, or the end of a failed stream (its partial reply saved).",
    ),
    "chat.attached": _frame(
        "type stream conversation run i t frames",
        "",
        "A running stream so far, for a socket that (re-)attached: its frames as sent, then the rest follow.",
    ),
    "models.list": _frame("type models cached", "error", "The model list."),
    "code.rendered": _frame("type stream request snippets", "", "The request and its code."),
    "watch.ok": _frame("type conversation", "", "Now watching."),
    "unwatch.ok": _frame("type conversation", "", "No longer watching."),
    "watch.ended": _frame(
        "type conversation reason message", "", "The watch ended: the viewer's access to it did."
    ),
    "probe.result": _frame(
        "type probe index label model status ttft_ms total_ms tokens cold warm_ttft_ms rate_limits headroom "
        "dropped error request",
        "",
        "One configuration of a probe: ready or failed, its times, cold and warmed, headroom, the error.",
    ),
    "probe.done": _frame(
        "type probe ready failed total_ms", "", "Every configuration of the probe answered."
    ),
    "watch.snapshot": _frame(
        "type watching conversation started_by stream run model i t frames",
        "",
        "A running stream so far, for a watcher who joined late: its frames, to fold as they came.",
    ),
    "eval.watching": _frame("type eval status progress", "", "Now following the eval."),
    "eval.cell": _frame("type eval cell progress", "eta_s", "A cell ended (done, error or stopped)."),
    "eval.status": _frame("type eval status progress", "eta_s", "The eval started or ended."),
    "arena.state": _frame(
        "type arena title role prompts current", "queue configs", "The arena as this socket may see it."
    ),
    "arena.prompt": _frame(
        "type position text status slots answers",
        "tally void flagged reveal my_vote",
        "A round changed status (sent, voting, closed with its tally, revealed with its mapping).",
    ),
    "arena.slot": _frame("type prompt slot status", "", "A slot's answer ended (done, stopped or error)."),
    "arena.snapshot": _frame(
        "type prompt slot stream i frames", "", "A slot's answer so far, anonymised, for a late viewer."
    ),
    "arena.tally": _frame("type prompt counts", "", "Presenter: the votes per choice, after each vote."),
    "arena.voted": _frame("type prompt choice", "", "Your vote was counted (it replaces an earlier one)."),
}

# Why a frame was refused before anything was sent or saved.
FRAME_ERROR_CODES = frozenset(
    {
        "invalid_json",
        "invalid_frame",
        "frame_too_large",
        "unknown_type",
        "invalid_param",
        "duplicate_stream",
        "too_many_streams",
        "not_found",
        "forbidden",
        "unavailable",
        "internal_error",
        "conflict",
        "rate_limited",
    }
)
# Why a stream failed upstream (proxy/client/errors.py and client.py say each in words).
UPSTREAM_ERROR_CODES = frozenset(
    {code for code, _, _ in STATUSES.values()}
    | {
        "http_error",
        "server_error",
        "unexpected_status",
        "upstream_error",
        "invalid_body",
        "timeout",
        "connect_timeout",
        "first_byte_timeout",
        "gap_timeout",
        "connection_error",
        "request_failed",
        "read_failed",
        "stream_cut",
        "incomplete_stream",
        "protocol_error",
        "stream_error",
    }
)
ERROR_CODES = FRAME_ERROR_CODES | UPSTREAM_ERROR_CODES


class FrameError(Exception):
    """A frame the server cannot act on; becomes a ``chat.error`` and the socket stays open."""

    def __init__(
        self, code: str, message: str, *, stream: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.stream = stream
        self.param = param


def error_frame(
    *,
    stream: str | None,
    code: str,
    message: str,
    retryable: bool = False,
    status: int | None = None,
    request_id: str | None = None,
    param: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A ``chat.error`` frame with every documented field present."""
    return {
        "type": "chat.error",
        "stream": stream,
        "code": code,
        "message": message,
        "retryable": retryable,
        "status": status,
        "request_id": request_id,
        "param": param,
        **more,
    }


def check(frame: Any) -> list[str]:
    """What is wrong with a frame the server sends (empty when it is as declared)."""
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return ["a frame must be an object with a string 'type'"]
    declared = OUTGOING.get(frame["type"])
    if declared is None:
        return [f"{frame['type']!r} is not declared in proxy/protocol.py"]
    problems = [f"{frame['type']}: missing {name!r}" for name in sorted(declared.required - frame.keys())]
    unknown = frame.keys() - declared.required - declared.optional
    problems += [f"{frame['type']}: undeclared field {name!r}" for name in sorted(unknown)]
    if frame["type"] == "chat.error" and frame.get("code") not in ERROR_CODES:
        problems.append(f"chat.error: code {frame.get('code')!r} is not in ERROR_CODES")
    if frame["type"] == "chat.deltas":
        for item in frame.get("items") or []:
            problems += check({"type": "chat.delta", "stream": frame.get("stream"), **item})
    return problems
