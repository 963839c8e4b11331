"""The upstream client: against httpx.MockTransport, then against the emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from proxy.client.client import UpstreamClient, prepare_body, shared_client
from proxy.client.dialect import Dialect
from proxy.client.errors import (
    UpstreamConnectionError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    UpstreamStreamError,
    UpstreamTimeout,
)
from proxy.client.events import Delta, Done, Event, Finish, Opened, Perf, RawOutput, Usage
from proxy.relay import StreamRecord
from tests.emulator_fixture import EmulatorServer

KEY = "fw_3ZsEcretKey0123456789abcdef"
BASE = "https://api.fireworks.ai/inference/v1"
MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
BODY: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "x-request-id": "req-123"}

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


# --- helpers -------------------------------------------------------------------------------------


def chunk(*choices: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "resp-1",
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": list(choices),
        **extra,
    }


def choice(i: int = 0, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    return {"index": i, "delta": delta, "finish_reason": finish}


def sse(*items: dict[str, Any] | str, done: bool = True) -> bytes:
    out = b"".join(
        b"data: " + (item if isinstance(item, str) else json.dumps(item)).encode() + b"\n\n" for item in items
    )
    return out + (b"data: [DONE]\n\n" if done else b"")


def stream_response(raw: bytes, headers: dict[str, str] | None = None, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, headers=headers or SSE_HEADERS, content=raw)


class TrackedStream(httpx.AsyncByteStream):
    """A response body that yields parts (after optional sleeps), then fails or hangs, and records aclose."""

    def __init__(
        self,
        parts: list[bytes],
        *,
        delay: float = 0.0,
        first_delay: float = 0.0,
        error: Exception | None = None,
        hang: bool = False,
    ) -> None:
        self.parts, self.delay, self.first_delay, self.error, self.hang = (
            parts,
            delay,
            first_delay,
            error,
            hang,
        )
        self.closed = False
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for n, part in enumerate(self.parts):
            wait = self.first_delay if n == 0 else self.delay
            if wait:
                await asyncio.sleep(wait)
            self.sent += 1
            yield part
        if self.error is not None:
            raise self.error
        if self.hang:
            await asyncio.sleep(3600)

    async def aclose(self) -> None:
        self.closed = True


def tracked(stream: TrackedStream, headers: dict[str, str] | None = None, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, headers=headers or SSE_HEADERS, stream=stream)


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., UpstreamClient]]:
    made: list[UpstreamClient] = []

    def make(handler: Handler | None = None, **kwargs: Any) -> UpstreamClient:
        kwargs.setdefault("base_url", BASE)
        kwargs.setdefault("api_key", KEY)
        if handler is not None:
            kwargs["transport"] = httpx.MockTransport(handler)
        client = UpstreamClient(**kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


async def collect(client: UpstreamClient, body: dict[str, Any] | None = None, **kwargs: Any) -> list[Event]:
    return [event async for event in client.stream_chat(body or BODY, **kwargs)]


async def failure(client: UpstreamClient, body: dict[str, Any] | None = None, **kwargs: Any) -> UpstreamError:
    """Run a stream that must fail; return the error (and check no other exception type escaped)."""
    with pytest.raises(UpstreamError) as info:
        await collect(client, body, **kwargs)
    return info.value


def text(events: list[Event], index: int = 0) -> str:
    return "".join(e.content or "" for e in events if isinstance(e, Delta) and e.choice == index)


def kinds(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


# --- prepare_body ----------------------------------------------------------------------------------


def test_prepare_body_asks_for_streaming_usage_and_perf() -> None:
    body = {"model": MODEL, "messages": [], "stream": False, "new_field": {"x": 1}}
    prepared = prepare_body(body)
    assert prepared == {
        "model": MODEL,
        "messages": [],
        "stream": True,
        "new_field": {"x": 1},
        "stream_options": {"include_usage": True},
        "perf_metrics_in_response": True,
    }
    assert body["stream"] is False and "stream_options" not in body  # the caller's dict is untouched


def test_prepare_body_sends_nothing_for_what_the_user_switched_off() -> None:
    """Switched off is not sent at all (issue 13: perf_metrics_in_response went out as false)."""
    body = {"prompt": "x", "stream_options": {"include_usage": False}, "perf_metrics_in_response": False}
    assert prepare_body(body, endpoint="completions") == {"prompt": "x", "stream": True}


def test_prepare_body_speaks_the_dialect() -> None:
    """Another server gets no Fireworks extension unasked, and nothing it refused before."""
    other = Dialect("other")
    assert prepare_body(BODY, dialect=other) == {**BODY, "stream_options": {"include_usage": True}}
    emulator = prepare_body(BODY, dialect=Dialect("emulator"))
    assert emulator["perf_metrics_in_response"] is True
    # What the user set explicitly still goes to another server (it may accept it)...
    assert prepare_body({**BODY, "top_k": 5}, dialect=other)["top_k"] == 5
    # ...unless it refused it before; the essential fields are never dropped.
    refused = Dialect("other", frozenset({"top_k", "stream_options", "model"}))
    assert prepare_body({**BODY, "top_k": 5}, dialect=refused) == BODY


# --- the request -----------------------------------------------------------------------------------


async def test_sends_the_body_exactly_with_the_key_and_extra_headers(make_client: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, headers=SSE_HEADERS, content=sse(chunk(choice(content="a", finish="stop")))
        )

    body = {**prepare_body(BODY), "some_future_field": [1, "é"], "logit_bias": {"123": -100}}
    snapshot = json.loads(json.dumps(body))
    await collect(make_client(handler), body, headers={"x-session-affinity": "s1"})
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/chat/completions"
    assert json.loads(request.content) == snapshot
    assert body == snapshot
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-session-affinity"] == "s1"


async def test_completions_endpoint_and_no_authorization_without_a_key(make_client: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        data = {"choices": [{"index": 0, "text": "Hello", "logprobs": None, "finish_reason": "length"}]}
        return httpx.Response(200, headers=SSE_HEADERS, content=sse(data))

    events = await collect(
        make_client(handler, api_key=""), {"model": "m", "prompt": "Hi"}, endpoint="completions"
    )
    assert str(seen[0].url) == f"{BASE}/completions"
    assert "authorization" not in seen[0].headers
    assert text(events) == "Hello"


# --- the stream ------------------------------------------------------------------------------------


async def test_opened_carries_what_the_server_said_in_its_headers(make_client: Any) -> None:
    headers = {
        "Content-Type": "text/event-stream",
        "X-Request-Id": "req-9",
        "Fireworks-Sampling-Options": '{"temperature": 0.5, "max_tokens": 10, "new_knob": null}',
        "Fireworks-Prompt-Tokens": "12",
        "Fireworks-Cached-Prompt-Tokens": "4",
        "Fireworks-Server-Time-To-First-Token": "0.017",
        "X-RateLimit-Remaining-Requests": "59",
        "x-ratelimit-over-limit": "no",
    }
    events = await collect(
        make_client(stream_response(sse(chunk(choice(content="x", finish="stop"))), headers))
    )
    opened = events[0]
    assert isinstance(opened, Opened)
    assert opened.status == 200
    assert opened.request_id == "req-9"
    assert opened.sampling_options == {"temperature": 0.5, "max_tokens": 10, "new_knob": None}
    assert opened.rate_limits == {"x-ratelimit-remaining-requests": "59", "x-ratelimit-over-limit": "no"}
    assert (opened.prompt_tokens, opened.cached_prompt_tokens, opened.server_ttft) == (12, 4, 0.017)
    assert opened.headers["fireworks-prompt-tokens"] == "12"
    assert all(name == name.lower() for name in opened.headers)


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", ""])
async def test_unparsable_sampling_options_are_none(make_client: Any, raw: str) -> None:
    headers = {**SSE_HEADERS, "fireworks-sampling-options": raw}
    events = await collect(
        make_client(stream_response(sse(chunk(choice(content="x", finish="stop"))), headers))
    )
    assert isinstance(events[0], Opened) and events[0].sampling_options is None


async def test_a_fireworks_stream_in_order(make_client: Any) -> None:
    raw = sse(
        chunk(choice(role="assistant"), usage=None),
        chunk(choice(content="How can"), usage=None),
        chunk(choice(content=" I help?"), usage=None),
        chunk(
            choice(finish="stop"),
            usage={"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
            perf_metrics={"server-time-to-first-token": "0.017", "prompt-tokens": 12},
        ),
    )
    events = await collect(make_client(stream_response(raw)))
    assert kinds(events) == ["Opened", "Delta", "Delta", "Finish", "Usage", "Perf", "Done"]
    assert text(events) == "How can I help?"
    usage = events[4]
    assert isinstance(usage, Usage) and (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.total_tokens,
    ) == (
        12,
        8,
        20,
    )
    # perf_metrics values stay as they came: numbers or decimal strings.
    assert events[5] == Perf({"server-time-to-first-token": "0.017", "prompt-tokens": 12})
    assert events[-1] == Done({0: "stop"}, saw_done_marker=True, response_id="resp-1", model=MODEL)


async def test_usage_in_an_extra_chunk_with_no_choices(make_client: Any) -> None:
    raw = sse(
        chunk(choice(content="Hi")),
        chunk(choice(finish="length")),
        chunk(
            usage={
                "prompt_tokens": 3,
                "completion_tokens": 1,
                "total_tokens": 4,
                "prompt_tokens_details": {"cached_tokens": 2},
            }
        ),
    )
    events = await collect(make_client(stream_response(raw)))
    assert kinds(events) == ["Opened", "Delta", "Finish", "Usage", "Done"]
    usage = events[3]
    assert isinstance(usage, Usage) and usage.cached_tokens == 2 and usage.total_tokens == 4
    assert isinstance(events[-1], Done) and events[-1].finish_reasons == {0: "length"}


async def test_no_usage_at_all_is_fine(make_client: Any) -> None:
    events = await collect(
        make_client(stream_response(sse(chunk(choice(content="a", finish="stop"), usage=None))))
    )
    assert kinds(events) == ["Opened", "Delta", "Finish", "Done"]


async def test_within_one_chunk_deltas_then_finishes_then_usage_then_perf(make_client: Any) -> None:
    raw = sse(
        chunk(
            choice(0, finish="stop", content="A"),
            choice(1, finish="length", content="B"),
            usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            perf_metrics={"server-processing-time": 0.1},
        )
    )
    events = await collect(make_client(stream_response(raw)))
    assert events[1:] == [
        Delta(0, content="A"),
        Delta(1, content="B"),
        Finish(0, "stop"),
        Finish(1, "length"),
        Usage(1, 2, 3, raw={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}),
        Perf({"server-processing-time": 0.1}),
        Done({0: "stop", 1: "length"}, True, "resp-1", MODEL),
    ]


async def test_two_choices_interleaved(make_client: Any) -> None:
    raw = sse(
        chunk(choice(0, role="assistant"), choice(1, role="assistant")),
        chunk(choice(1, content="Hel")),
        chunk(choice(0, content="Bon")),
        chunk(choice(1, content="lo")),
        chunk(choice(0, content="jour", finish="stop")),
        chunk(choice(1, finish="stop")),
    )
    events = await collect(make_client(stream_response(raw)))
    assert (text(events, 0), text(events, 1)) == ("Bonjour", "Hello")
    assert isinstance(events[-1], Done) and events[-1].finish_reasons == {0: "stop", 1: "stop"}


async def test_tool_call_fragments_come_through_in_order(make_client: Any) -> None:
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    raw = sse(
        chunk(choice(role="assistant", tool_calls=[first])),
        chunk(choice(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}])),
        chunk(choice(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}])),
        chunk(choice(finish="tool_calls")),
    )
    events = await collect(make_client(stream_response(raw)))
    fragments = [f for e in events if isinstance(e, Delta) for f in e.tool_calls or []]
    assert fragments[0]["id"] == "call_1" and fragments[0]["function"]["name"] == "get_weather"
    assert json.loads("".join(f["function"]["arguments"] for f in fragments)) == {"city": "Paris"}
    assert events[-2] == Finish(0, "tool_calls")


async def test_reasoning_and_logprobs(make_client: Any) -> None:
    logprobs = {
        "content": [{"token": "Hi", "logprob": -0.1, "top_logprobs": [{"token": "Hi", "logprob": -0.1}]}]
    }
    raw = sse(
        chunk(choice(reasoning_content="Let me think. ")),
        chunk({"index": 0, "delta": {"content": "Hi"}, "logprobs": logprobs, "finish_reason": None}),
        chunk(choice(finish="stop")),
    )
    events = await collect(make_client(stream_response(raw)))
    assert events[1] == Delta(0, reasoning="Let me think. ")
    assert events[2] == Delta(0, content="Hi", logprobs=logprobs)


async def test_role_only_and_empty_deltas_are_skipped_and_keepalives_ignored(make_client: Any) -> None:
    raw = (
        b": keep-alive\n\n"
        + sse(chunk(choice(role="assistant")), chunk(choice(content="")), done=False)
        + b": ping\n\n"
        + sse(chunk(choice(content="x", finish="stop")))
    )
    events = await collect(make_client(stream_response(raw)))
    assert kinds(events) == ["Opened", "Delta", "Finish", "Done"]


async def test_the_same_events_when_the_bytes_arrive_one_at_a_time(make_client: Any) -> None:
    raw = sse(chunk(choice(content="héllo 🎉")), chunk(choice(content=" wörld", finish="stop"))).replace(
        b"\n", b"\r\n"
    )
    stream = TrackedStream([raw[i : i + 1] for i in range(len(raw))])
    events = await collect(make_client(tracked(stream)))
    assert text(events) == "héllo 🎉 wörld"
    assert isinstance(events[-1], Done) and events[-1].saw_done_marker


async def test_another_server_without_done_or_fireworks_headers(make_client: Any) -> None:
    raw = sse(
        {"id": "x1", "model": "served-model", "choices": [{"index": 0, "delta": {"content": "ok"}}]},
        {
            "id": "x1",
            "model": "served-model",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        },
        done=False,
    )
    events = await collect(make_client(stream_response(raw, {"content-type": "text/event-stream"})))
    opened = events[0]
    assert isinstance(opened, Opened)
    assert (opened.request_id, opened.sampling_options, opened.rate_limits, opened.prompt_tokens) == (
        None,
        None,
        {},
        None,
    )
    assert events[-1] == Done({0: "stop"}, saw_done_marker=False, response_id="x1", model="served-model")


async def test_a_final_event_without_a_blank_line_is_not_lost(make_client: Any) -> None:
    raw = (
        sse(chunk(choice(content="a")), done=False)
        + b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
    )
    events = await collect(make_client(stream_response(raw)))
    assert isinstance(events[-1], Done) and events[-1].finish_reasons == {0: "stop"}


async def test_what_follows_done_is_ignored(make_client: Any) -> None:
    raw = sse(chunk(choice(content="a", finish="stop"))) + b"data: garbage\n\n"
    events = await collect(make_client(stream_response(raw)))
    assert kinds(events) == ["Opened", "Delta", "Finish", "Done"]


async def test_a_stream_that_ends_early_is_an_incomplete_stream(make_client: Any) -> None:
    raw = sse(chunk(choice(content="half an ans")), done=False)
    seen: list[Event] = []
    with pytest.raises(UpstreamConnectionError) as info:
        async for event in make_client(stream_response(raw)).stream_chat(BODY):
            seen.append(event)
    assert info.value.code == "incomplete_stream" and info.value.retryable
    assert info.value.request_id == "req-123"
    assert text(seen) == "half an ans"  # what arrived was still shown


# --- a 200 that is not a stream ----------------------------------------------------------------------


async def test_a_whole_json_completion_becomes_the_same_events(make_client: Any) -> None:
    tool_calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    completion = {
        "id": "resp-2",
        "object": "chat.completion",
        "model": "other-model",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hi!",
                    "reasoning_content": "think",
                    "tool_calls": tool_calls,
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        "perf_metrics": {"server-processing-time": "0.087"},
    }
    handler = stream_response(json.dumps(completion).encode(), {"content-type": "application/json"})
    events = await collect(make_client(handler))
    assert kinds(events) == ["Opened", "Delta", "Finish", "Usage", "Perf", "Done"]
    delta = events[1]
    assert isinstance(delta, Delta)
    assert (delta.content, delta.reasoning, delta.tool_calls) == ("Hi!", "think", tool_calls)
    assert events[-1] == Done(
        {0: "tool_calls"}, saw_done_marker=False, response_id="resp-2", model="other-model"
    )


async def test_a_whole_json_completion_under_a_vague_content_type(make_client: Any) -> None:
    completion = {
        "id": "r",
        "choices": [{"index": 0, "message": {"content": "plain"}, "finish_reason": "stop"}],
    }
    handler = stream_response(b"  " + json.dumps(completion).encode(), {"content-type": "text/plain"})
    events = await collect(make_client(handler))
    assert (
        text(events) == "plain" and isinstance(events[-1], Done) and events[-1].finish_reasons == {0: "stop"}
    )


async def test_a_whole_json_body_that_is_not_json(make_client: Any) -> None:
    handler = stream_response(b"<html>oops</html>", {"content-type": "application/json"})
    error = await failure(make_client(handler))
    assert isinstance(error, UpstreamProtocolError) and "oops" in error.message


# --- errors in the stream ---------------------------------------------------------------------------


async def test_an_error_inside_the_stream(make_client: Any) -> None:
    raw = sse(chunk(choice(content="partial")), {"error": {"message": "model crashed", "type": "internal"}})
    seen: list[Event] = []
    with pytest.raises(UpstreamStreamError) as info:
        async for event in make_client(stream_response(raw)).stream_chat(BODY):
            seen.append(event)
    assert "model crashed" in info.value.message
    assert info.value.request_id == "req-123"
    assert text(seen) == "partial"


@pytest.mark.parametrize("data", ['{"message": "overloaded, try later"}', "overloaded, try later"])
async def test_an_error_event_type_inside_the_stream(make_client: Any, data: str) -> None:
    raw = b"event: error\ndata: " + data.encode() + b"\n\n"
    error = await failure(make_client(stream_response(raw)))
    assert isinstance(error, UpstreamStreamError) and "overloaded, try later" in error.message


@pytest.mark.parametrize("bad", ['{"choices": [', "hello there", "[1,2]"])
async def test_a_data_line_that_is_not_a_json_object(make_client: Any, bad: str) -> None:
    raw = sse(chunk(choice(content="a")), bad)
    error = await failure(make_client(stream_response(raw)))
    assert isinstance(error, UpstreamProtocolError)
    assert bad[:10] in error.message


# --- HTTP errors ---------------------------------------------------------------------------------


ERROR_SHAPES: list[tuple[str, int, bytes, dict[str, str], dict[str, Any], list[str]]] = [
    (
        "object",
        400,
        b'{"error":{"object":"error","type":"invalid_request_error","message":"roles must alternate"}}',
        {"content-type": "application/json", "x-request-id": "r-400"},
        {"code": "bad_request", "retryable": False, "request_id": "r-400"},
        ["Fireworks returned 400: roles must alternate"],
    ),
    (
        "bare string",
        404,
        b'{"error":"Model not found, inaccessible, and/or not deployed"}',
        {"content-type": "application/json"},
        {"code": "not_found", "retryable": False, "param": "model"},
        ["Fireworks returned 404: Model not found, inaccessible, and/or not deployed", MODEL],
    ),
    (
        "coded",
        404,
        b'{"error":{"message":"Model foo does not exist","type":"invalid_request_error","code":"NOT_FOUND",'
        b'"param":"model"},"request_id":"r-body"}',
        {"content-type": "application/json", "x-request-id": "r-header"},
        {"code": "not_found", "param": "model", "request_id": "r-body"},
        ["Model foo does not exist"],
    ),
    (
        "not found without a message",
        404,
        b"",
        {},
        {"code": "not_found"},
        ["404", MODEL, "was not found, or this server has no", "/chat/completions"],
    ),
    (
        "a path the server does not have (FastAPI's 404)",
        404,
        b'{"detail":"Not Found"}',
        {"content-type": "application/json"},
        {"code": "not_found", "param": None},
        ["404: Not Found. This server has no " + BASE + "/chat/completions: check FIREWORKS_BASE_URL."],
    ),
    (
        "OpenAI's unknown model names it already",
        404,
        b'{"error":{"message":"The model `gpt-nope` does not exist or you do not have access to it.",'
        b'"type":"invalid_request_error","param":null,"code":"model_not_found"}}',
        {"content-type": "application/json"},
        {"code": "not_found", "param": "model"},
        ["404: The model `gpt-nope` does not exist or you do not have access to it."],
    ),
    (
        "a JSON array of error objects",
        400,
        b'[{"error":{"code":400,"message":"Request contains an invalid argument.",'
        b'"status":"INVALID_ARGUMENT"}}]',
        {"content-type": "application/json"},
        {"code": "bad_request"},
        ["Fireworks returned 400: Request contains an invalid argument."],
    ),
    (
        "empty 502",
        502,
        b"",
        {},
        {"code": "bad_gateway", "retryable": True},
        ["Fireworks returned 502", "gateway"],
    ),
    (
        "FastAPI detail list",
        422,
        b'{"detail":[{"loc":["body","temperature"],"msg":"Input should be less than or equal to 2",'
        b'"type":"less_than_equal"}]}',
        {"content-type": "application/json"},
        {"code": "validation_error", "param": "temperature", "retryable": False},
        ["422", "temperature: Input should be less than or equal to 2"],
    ),
    (
        "FastAPI detail string",
        400,
        b'{"detail":"Extra inputs are not permitted"}',
        {"content-type": "application/json"},
        {"code": "bad_request"},
        ["Extra inputs are not permitted"],
    ),
    (
        "plain text",
        500,
        b"upstream connect error or disconnect/reset before headers",
        {"content-type": "text/plain"},
        {"code": "server_error", "retryable": False},
        ["500", "upstream connect error"],
    ),
    (
        "html",
        503,
        b"<html><head><title>503 Service Temporarily Unavailable</title></head><body><center>"
        b"<h1>503</h1></center></body></html>",
        {"content-type": "text/html"},
        {"code": "overloaded", "retryable": True},
        ["503 Service Temporarily Unavailable"],
    ),
    (
        "rate limited",
        429,
        b'{"error":{"message":"Request rate limit exceeded"}}',
        {"content-type": "application/json", "retry-after": "3"},
        {"code": "rate_limited", "retryable": True},
        ["Request rate limit exceeded", "Retry after 3 s"],
    ),
    (
        "unauthorized",
        401,
        b'{"error":{"message":"Unauthorized"}}',
        {"content-type": "application/json"},
        {"code": "unauthorized", "retryable": False},
        ["401", "Check the API key"],
    ),
]


@pytest.mark.parametrize(
    ("status", "raw", "headers", "fields", "phrases"),
    [c[1:] for c in ERROR_SHAPES],
    ids=[c[0] for c in ERROR_SHAPES],
)
async def test_http_error_shapes(
    make_client: Any,
    status: int,
    raw: bytes,
    headers: dict[str, str],
    fields: dict[str, Any],
    phrases: list[str],
) -> None:
    error = await failure(make_client(stream_response(raw, headers or {"x-other": "1"}, status)))
    assert isinstance(error, UpstreamHTTPError)
    assert error.status == status
    for name, value in fields.items():
        assert getattr(error, name) == value, name
    for phrase in phrases:
        assert phrase in error.message
    assert "<" not in error.message
    assert error.as_dict()["message"] == error.message


STATUS_CODES = [
    (400, "bad_request", False),
    (401, "unauthorized", False),
    (402, "payment_required", False),
    (403, "forbidden", False),
    (404, "not_found", False),
    (405, "method_not_allowed", False),
    (408, "timeout", True),
    (412, "precondition_failed", False),
    (413, "payload_too_large", False),
    (418, "client_error", False),
    (422, "validation_error", False),
    (429, "rate_limited", True),
    (500, "server_error", False),
    (502, "bad_gateway", True),
    (503, "overloaded", True),
    (504, "gateway_timeout", True),
    (520, "unknown", True),
    (301, "unexpected_status", False),
]


@pytest.mark.parametrize(("status", "code", "retryable"), STATUS_CODES)
async def test_every_status_has_a_code_and_a_sentence(
    make_client: Any, status: int, code: str, retryable: bool
) -> None:
    error = await failure(make_client(stream_response(b"", {"x-request-id": "rid"}, status)))
    assert isinstance(error, UpstreamHTTPError)
    assert (error.code, error.retryable, error.status, error.request_id) == (code, retryable, status, "rid")
    assert error.message.startswith(f"Fireworks returned {status}: ")
    assert len(error.message) > len(f"Fireworks returned {status}: ") + 5


async def test_other_servers_are_named_by_host(make_client: Any) -> None:
    error = await failure(make_client(stream_response(b"", {}, 503), base_url="http://10.0.0.5:8000/v1"))
    assert error.message.startswith("The upstream at 10.0.0.5:8000 returned 503")


# --- transport failures --------------------------------------------------------------------------


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("exc", "error_type", "code"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), UpstreamConnectionError, "connection_error"),
        (
            httpx.ConnectError("[Errno -2] Name or service not known"),
            UpstreamConnectionError,
            "connection_error",
        ),
        (httpx.ConnectTimeout("timed out"), UpstreamTimeout, "connect_timeout"),
        (httpx.PoolTimeout("pool"), UpstreamTimeout, "timeout"),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            UpstreamConnectionError,
            None,
        ),
        (httpx.WriteError("broken pipe"), UpstreamConnectionError, None),
        (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."), UpstreamError, None),
        (httpx.ProxyError("proxy said no"), UpstreamError, None),
        (httpx.LocalProtocolError("bad header"), UpstreamError, None),
        (ConnectionResetError("reset by peer"), UpstreamConnectionError, None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
async def test_no_transport_exception_escapes(
    make_client: Any, exc: Exception, error_type: type[UpstreamError], code: str | None
) -> None:
    error = await failure(make_client(raising(exc)))
    assert isinstance(error, error_type)
    if code:
        assert error.code == code
    if code == "connect_timeout":
        assert "10 s (the connect timeout)" in error.message
    else:
        assert str(exc) in error.message


@pytest.mark.parametrize(
    "exc",
    [
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("connection reset"),
    ],
)
async def test_a_connection_cut_mid_stream(make_client: Any, exc: Exception) -> None:
    stream = TrackedStream([sse(chunk(choice(content="so far")), done=False)], error=exc)
    seen: list[Event] = []
    with pytest.raises(UpstreamConnectionError) as info:
        async for event in make_client(tracked(stream)).stream_chat(BODY):
            seen.append(event)
    assert info.value.code == "stream_cut" and info.value.retryable
    assert info.value.request_id == "req-123"
    assert text(seen) == "so far"
    assert stream.closed


async def test_connection_refused_for_real(make_client: Any) -> None:
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await failure(make_client(base_url=f"http://127.0.0.1:{port}/v1"))
    assert isinstance(error, UpstreamConnectionError) and error.retryable
    assert f"127.0.0.1:{port}" in error.message


# --- timeouts ------------------------------------------------------------------------------------


async def test_first_byte_timeout_waiting_for_headers(make_client: Any) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200)

    started = asyncio.get_running_loop().time()
    error = await failure(make_client(slow, first_byte_timeout=0.1))
    assert asyncio.get_running_loop().time() - started < 2
    assert isinstance(error, UpstreamTimeout) and error.code == "first_byte_timeout" and error.retryable
    assert "0.1 s" in error.message and "first-byte" in error.message


async def test_first_byte_timeout_waiting_for_the_first_chunk(make_client: Any) -> None:
    stream = TrackedStream([b"data: {}\n\n"], first_delay=5)
    error = await failure(make_client(tracked(stream), first_byte_timeout=0.1))
    assert isinstance(error, UpstreamTimeout) and error.code == "first_byte_timeout"
    assert stream.closed


async def test_gap_timeout_between_chunks(make_client: Any) -> None:
    stream = TrackedStream([sse(chunk(choice(content="a")), done=False)], hang=True)
    seen: list[Event] = []
    with pytest.raises(UpstreamTimeout) as info:
        async for event in make_client(tracked(stream), gap_timeout=0.1).stream_chat(BODY):
            seen.append(event)
    assert info.value.code == "gap_timeout"
    assert "0.1 s" in info.value.message and "between two chunks" in info.value.message
    assert text(seen) == "a"
    assert stream.closed


async def test_the_gap_limit_applies_to_each_gap_not_the_whole_stream(make_client: Any) -> None:
    parts = [sse(chunk(choice(content=str(i))), done=False) for i in range(6)] + [
        sse(chunk(choice(finish="stop")))
    ]
    stream = TrackedStream(parts, delay=0.05)  # 0.3 s in all, no gap longer than 0.05 s
    events = await collect(make_client(tracked(stream), gap_timeout=0.25, first_byte_timeout=0.25))
    assert text(events) == "012345"


# --- the response is closed on every path ----------------------------------------------------------


async def test_closed_when_done(make_client: Any) -> None:
    stream = TrackedStream([sse(chunk(choice(content="a", finish="stop")))])
    await collect(make_client(tracked(stream)))
    assert stream.closed


async def test_closed_on_an_http_error(make_client: Any) -> None:
    stream = TrackedStream([b'{"error": "nope"}'])
    await failure(make_client(tracked(stream, {"content-type": "application/json"}, 500)))
    assert stream.closed


async def test_closed_on_a_stream_error(make_client: Any) -> None:
    stream = TrackedStream([sse({"error": "boom"})], hang=True)
    await failure(make_client(tracked(stream)))
    assert stream.closed


async def test_closed_when_the_caller_closes_the_generator_early(make_client: Any) -> None:
    stream = TrackedStream([sse(chunk(choice(content="a")), done=False)], hang=True)
    events = make_client(tracked(stream)).stream_chat(BODY)
    assert isinstance(await anext(events), Opened)
    assert isinstance(await anext(events), Delta)
    await events.aclose()
    assert stream.closed


async def test_closed_when_the_caller_breaks_out_of_the_loop(make_client: Any) -> None:
    stream = TrackedStream([sse(chunk(choice(content="a")), done=False)], hang=True)
    async with contextlib.aclosing(make_client(tracked(stream)).stream_chat(BODY)) as events:
        async for event in events:
            if isinstance(event, Delta):
                break
    assert stream.closed


async def test_closed_when_the_consuming_task_is_cancelled(make_client: Any) -> None:
    stream = TrackedStream([sse(chunk(choice(content="a")), done=False)], hang=True)
    client = make_client(tracked(stream))
    got_delta = asyncio.Event()

    async def consume() -> None:
        async for event in client.stream_chat(BODY):
            if isinstance(event, Delta):
                got_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_delta.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert stream.closed


async def test_cancelled_while_waiting_for_headers_raises_cancelled_not_an_upstream_error(
    make_client: Any,
) -> None:
    started = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(5)
        return httpx.Response(200)

    client = make_client(slow)
    task = asyncio.create_task(collect(client))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- secrets -------------------------------------------------------------------------------------


def assert_no_secret(error: UpstreamError) -> None:
    for text_ in (error.message, str(error), repr(error), error.body or "", json.dumps(error.as_dict())):
        assert KEY not in text_
        assert "fw_3Zs" not in text_
        assert "sk-live-abc" not in text_


@pytest.mark.parametrize(
    "handler",
    [
        stream_response(
            json.dumps(
                {"error": {"message": f"Invalid API key {KEY}: Authorization: Bearer sk-live-abc"}}
            ).encode(),
            {"content-type": "application/json"},
            401,
        ),
        stream_response(f"bad key {KEY}".encode(), {"content-type": "text/plain"}, 403),
        stream_response(sse({"error": f"key {KEY} revoked"}), SSE_HEADERS),
        stream_response(sse(f"not json {KEY}"), SSE_HEADERS),
        raising(httpx.ConnectError(f"failed sending Authorization: Bearer {KEY}")),
        raising(httpx.ConnectError("failed for fw_3ZsAnotherLookingKey")),
    ],
    ids=["http-json", "http-text", "stream-error", "protocol-error", "connect-error", "fw-pattern"],
)
async def test_the_key_never_appears_in_an_error(make_client: Any, handler: Handler) -> None:
    error = await failure(make_client(handler))
    assert_no_secret(error)
    assert "[redacted]" in error.message or "[redacted]" in (error.body or "")


async def test_the_key_is_not_in_the_client_repr(make_client: Any) -> None:
    client = make_client(stream_response(b""))
    assert KEY not in repr(client) and KEY not in repr(vars(client))


# --- list_models and shared_client -------------------------------------------------------------------


async def test_list_models(make_client: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "list", "data": [{"id": "a"}, {"id": "b"}]})

    assert await make_client(handler).list_models() == [{"id": "a"}, {"id": "b"}]
    assert str(seen[0].url) == f"{BASE}/models" and seen[0].method == "GET"
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        (
            stream_response(b'{"error": "Unauthorized"}', {"content-type": "application/json"}, 401),
            UpstreamHTTPError,
        ),
        (stream_response(b"<html>", {"content-type": "text/html"}), UpstreamProtocolError),
        (stream_response(b'{"models": []}', {"content-type": "application/json"}), UpstreamProtocolError),
        (raising(httpx.ConnectError("refused")), UpstreamConnectionError),
    ],
)
async def test_list_models_errors(
    make_client: Any, handler: Handler, error_type: type[UpstreamError]
) -> None:
    with pytest.raises(error_type):
        await make_client(handler).list_models()


async def test_shared_client_is_one_per_loop_and_configuration() -> None:
    config = {
        "base_url": BASE,
        "api_key": KEY,
        "connect_timeout": 1.0,
        "first_byte_timeout": 2.0,
        "gap_timeout": 3.0,
    }
    first = shared_client(**config)
    try:
        assert shared_client(**config) is first
        other = shared_client(**{**config, "gap_timeout": 4.0})
        assert other is not first
        await other.aclose()
    finally:
        await first.aclose()


def test_shared_client_differs_between_event_loops() -> None:
    config = {
        "base_url": BASE,
        "api_key": KEY,
        "connect_timeout": 1.0,
        "first_byte_timeout": 2.0,
        "gap_timeout": 3.0,
    }
    clients: list[UpstreamClient] = []

    async def get() -> None:
        client = shared_client(**config)
        assert shared_client(**config) is client
        clients.append(client)
        await client.aclose()

    for _ in range(2):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(get())
        finally:
            loop.close()
    assert clients[0] is not clients[1]


def test_shared_client_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        shared_client(base_url=BASE, api_key="", connect_timeout=1, first_byte_timeout=1, gap_timeout=1)


# --- against the emulator, over real loopback HTTP -----------------------------------------------

EMU_BODY: dict[str, Any] = prepare_body(
    {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 12, "temperature": 0.5}
)


@pytest.fixture
async def emu_client(emulator: Any) -> AsyncIterator[UpstreamClient]:
    client = UpstreamClient(base_url=emulator.base_url, api_key=KEY, gap_timeout=5, first_byte_timeout=5)
    yield client
    await client.aclose()


async def stream_end(emulator: Any, request_id: str | None) -> str | None:
    """How the emulator says the stream ended (it notices a disconnect a moment later)."""
    for _ in range(100):
        ends = [s["end"] for s in emulator.state()["streams"] if s["request_id"] == request_id]
        if ends and ends[-1]:
            return str(ends[-1])
        await asyncio.sleep(0.02)
    return None


async def test_emulator_stream(emulator: Any, emu_client: UpstreamClient) -> None:
    events = await collect(emu_client, EMU_BODY)
    opened, done = events[0], events[-1]
    assert isinstance(opened, Opened) and isinstance(done, Done)
    assert opened.sampling_options is not None and opened.sampling_options["temperature"] == 0.5
    assert opened.sampling_options["max_tokens"] == 12
    assert opened.rate_limits and opened.prompt_tokens
    assert text(events)
    usage = [e for e in events if isinstance(e, Usage)]
    assert len(usage) == 1 and usage[0].completion_tokens
    assert any(isinstance(e, Perf) for e in events)
    assert done.saw_done_marker and done.finish_reasons and done.model == MODEL
    assert await stream_end(emulator, opened.request_id) == "completed"
    request = emulator.state()["requests"][-1]
    assert request["body"] == EMU_BODY  # sent exactly as given
    assert KEY not in json.dumps(request)


async def test_emulator_completions(emu_client: UpstreamClient) -> None:
    body = prepare_body(
        {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 8}, endpoint="completions"
    )
    events = await collect(emu_client, body, endpoint="completions")
    assert text(events) and isinstance(events[-1], Done)


async def test_emulator_sees_the_client_stop_early(emulator: Any, emu_client: UpstreamClient) -> None:
    emulator.configure(tokens_per_second=40)
    body = {**EMU_BODY, "max_tokens": 200}
    opened: Opened | None = None
    async with contextlib.aclosing(emu_client.stream_chat(body)) as events:
        async for event in events:
            if isinstance(event, Opened):
                opened = event
            if isinstance(event, Delta):
                break
    assert opened is not None
    assert await stream_end(emulator, opened.request_id) == "client_disconnected"


async def test_emulator_sees_a_cancelled_task(emulator: Any, emu_client: UpstreamClient) -> None:
    emulator.configure(tokens_per_second=40)
    seen: list[Event] = []
    got_delta = asyncio.Event()

    async def consume() -> None:
        async for event in emu_client.stream_chat({**EMU_BODY, "max_tokens": 200}):
            seen.append(event)
            if isinstance(event, Delta):
                got_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_delta.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert isinstance(seen[0], Opened)
    assert await stream_end(emulator, seen[0].request_id) == "client_disconnected"


async def test_emulator_cut(emulator: Any, emu_client: UpstreamClient) -> None:
    emulator.inject({"kind": "cut", "after_chunks": 3})
    seen: list[Event] = []
    with pytest.raises(UpstreamConnectionError) as info:
        async for event in emu_client.stream_chat(EMU_BODY):
            seen.append(event)
    assert info.value.code == "stream_cut" and info.value.retryable
    assert text(seen)  # the part before the cut was delivered
    assert (
        info.value.request_id and isinstance(seen[0], Opened) and info.value.request_id == seen[0].request_id
    )


async def test_emulator_malformed_line(emulator: Any, emu_client: UpstreamClient) -> None:
    emulator.inject({"kind": "malformed", "after_chunks": 2})
    error = await failure(emu_client, EMU_BODY)
    assert isinstance(error, UpstreamProtocolError) and "not JSON" in error.message


async def test_emulator_stream_error(emulator: Any, emu_client: UpstreamClient) -> None:
    emulator.inject({"kind": "stream_error", "after_chunks": 2, "message": "GPU fell over"})
    error = await failure(emu_client, EMU_BODY)
    assert isinstance(error, UpstreamStreamError) and "GPU fell over" in error.message
    assert error.request_id


async def test_emulator_gap_stall(emulator: Any) -> None:
    emulator.inject({"kind": "stall", "after_chunks": 2, "seconds": 2})
    client = UpstreamClient(base_url=emulator.base_url, gap_timeout=0.3, first_byte_timeout=5)
    try:
        error = await failure(client, EMU_BODY)
    finally:
        await client.aclose()
    assert isinstance(error, UpstreamTimeout) and error.code == "gap_timeout" and "0.3 s" in error.message


async def test_emulator_stall_before_headers(emulator: Any) -> None:
    emulator.inject({"kind": "stall", "after_chunks": -1, "seconds": 2})
    client = UpstreamClient(base_url=emulator.base_url, gap_timeout=5, first_byte_timeout=0.3)
    try:
        error = await failure(client, EMU_BODY)
    finally:
        await client.aclose()
    assert isinstance(error, UpstreamTimeout) and error.code == "first_byte_timeout"


async def test_emulator_no_done(emulator: Any, emu_client: UpstreamClient) -> None:
    emulator.inject({"kind": "no_done"})
    events = await collect(emu_client, EMU_BODY)
    done = events[-1]
    assert isinstance(done, Done) and not done.saw_done_marker and done.finish_reasons


async def test_emulator_split_writes_give_the_same_text(emulator: Any, emu_client: UpstreamClient) -> None:
    body = {**EMU_BODY, "seed": 11}
    whole = await collect(emu_client, body)
    emulator.inject({"kind": "split"})
    split = await collect(emu_client, body)
    assert text(split) == text(whole) and text(whole)
    assert [type(e) for e in split] == [type(e) for e in whole]


@pytest.mark.parametrize(("placement", "count"), [("final_chunk", 1), ("extra_chunk", 1), ("none", 0)])
async def test_emulator_usage_placements(
    emulator: Any, emu_client: UpstreamClient, placement: str, count: int
) -> None:
    emulator.inject({"kind": "usage", "placement": placement})
    events = await collect(emu_client, EMU_BODY)
    assert sum(isinstance(e, Usage) for e in events) == count
    assert isinstance(events[-1], Done) and events[-1].finish_reasons
    if count:
        names = kinds(events)
        assert names.index("Finish") < names.index("Usage")


@pytest.mark.parametrize(
    ("fault", "code", "retryable", "phrase"),
    [
        ({"kind": "status", "status": 503, "shape": "empty"}, "overloaded", True, "returned 503"),
        ({"kind": "status", "status": 502, "shape": "empty"}, "bad_gateway", True, "returned 502"),
        ({"kind": "status", "status": 404, "shape": "string"}, "not_found", False, MODEL),
        (
            {"kind": "status", "status": 400, "shape": "object", "message": "bad roles"},
            "bad_request",
            False,
            "bad roles",
        ),
        ({"kind": "status", "status": 422, "shape": "detail"}, "validation_error", False, "returned 422"),
        ({"kind": "status", "status": 500, "shape": "text"}, "server_error", False, "upstream connect error"),
        (
            {"kind": "status", "status": 429, "shape": "coded", "retry_after": 7},
            "rate_limited",
            True,
            "Retry after 7 s",
        ),
        ({"kind": "status", "status": 401, "shape": "coded"}, "unauthorized", False, "Check the API key"),
    ],
    ids=lambda v: f"{v['status']}-{v['shape']}" if isinstance(v, dict) else None,
)
async def test_emulator_error_statuses(
    emulator: Any, emu_client: UpstreamClient, fault: dict[str, Any], code: str, retryable: bool, phrase: str
) -> None:
    emulator.inject(fault)
    error = await failure(emu_client, EMU_BODY)
    assert isinstance(error, UpstreamHTTPError)
    assert (error.status, error.code, error.retryable) == (fault["status"], code, retryable)
    assert phrase in error.message
    if fault["shape"] == "coded":
        assert error.request_id


async def test_emulator_unknown_model(emu_client: UpstreamClient) -> None:
    error = await failure(emu_client, {**EMU_BODY, "model": "accounts/nobody/models/nothing"})
    assert isinstance(error, UpstreamHTTPError) and error.code == "not_found"
    assert "accounts/nobody/models/nothing" in error.message


async def test_emulator_rejected_key_is_not_echoed(emulator: Any) -> None:
    client = UpstreamClient(base_url=emulator.base_url, api_key="fw_invalid")
    try:
        error = await failure(client, EMU_BODY)
    finally:
        await client.aclose()
    assert isinstance(error, UpstreamHTTPError) and error.code == "unauthorized"
    assert "fw_invalid" not in json.dumps(error.as_dict()) and "fw_invalid" not in (error.body or "")


async def test_emulator_models(emu_client: UpstreamClient) -> None:
    models = await emu_client.list_models()
    assert MODEL in [m["id"] for m in models]


# --- raw_output: its own event and a chat.raw frame; tool calls and speculation from the emulator --


async def run(client: UpstreamClient, body: dict[str, Any], endpoint: Any = "chat") -> list[Any]:
    return [e async for e in client.stream_chat(body, endpoint=endpoint)]


async def test_raw_output_becomes_its_own_event_and_a_chat_raw_frame(mock: Any) -> None:
    raw = {"prompt_fragments": ["<|begin_of_text|>", "Hi"], "prompt_token_ids": [1, 2], "completion": "Hey"}
    final = {**choice(0, "stop"), "raw_output": raw}
    events = await run(mock(sse(chunk(choice(0, content="Hey")), chunk(final))), BODY)
    assert kinds(events) == ["Opened", "Delta", "RawOutput", "Finish", "Done"]
    assert events[2] == RawOutput(choice=0, raw=raw)
    relay = StreamRecord("s")
    frames = relay.frames(events)
    assert {"type": "chat.raw", "choice": 0, "raw_output": raw}.items() <= frames[2].items()
    assert relay.output()[0]["raw_output"] == raw


async def test_emulator_raw_output_tool_calls_and_speculation(emulator: EmulatorServer) -> None:
    client = UpstreamClient(base_url=emulator.base_url, api_key=KEY)
    try:
        tools = [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "parameters": {
                        "type": "object",
                        "properties": {"q": {"type": "string"}},
                        "required": ["q"],
                    },
                },
            }
        ]
        body = prepare_body({**BODY, "tools": tools, "tool_choice": "required", "raw_output": True})
        events = await run(client, body)
        relay = StreamRecord("s")
        relay.frames(events)
        out = relay.output()[0]
        assert out["finish_reason"] == "tool_calls"
        assert json.loads(out["tool_calls"][0]["function"]["arguments"]).keys() == {"q"}
        assert out["raw_output"]["completion"].startswith("<|python_tag|>")
        code = "x = 1\ny = 2\nprint(x + y)\n"
        edit = {"role": "user", "content": f"Swap:\n```\n{code}```"}
        body = prepare_body(
            {"model": MODEL, "messages": [edit], "prediction": {"type": "content", "content": code}}
        )
        events = await run(client, body)
        perf = next(e for e in events if isinstance(e, Perf)).metrics
        opened = next(e for e in events if isinstance(e, Opened))
        assert perf["speculation-prompt-matched-tokens"] > 0
        assert opened.headers["fireworks-speculation-prompt-tokens"] == str(perf["speculation-prompt-tokens"])
    finally:
        await client.aclose()
