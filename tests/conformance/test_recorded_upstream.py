"""Replay every recorded Fireworks exchange through the upstream client and check what a user would see."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from proxy.client.client import UpstreamClient, prepare_body
from proxy.client.errors import UpstreamError, UpstreamHTTPError
from proxy.client.events import Delta, Done, Event, Finish, Opened, Usage
from tests.recorded import Recorded, load, names

BASE = "https://api.fireworks.ai/inference/v1"
KEY = "fw_recordedReplayKey123"
# The recorded lengths and encodings describe the original wire bytes, not the replayed string.
WIRE_HEADERS = {"content-length", "transfer-encoding", "content-encoding", "connection"}


def replay(recorded: Recorded, requests: list[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        headers = {k: v for k, v in recorded.headers.items() if k not in WIRE_HEADERS}
        return httpx.Response(recorded.status, headers=headers, content=recorded.body.encode())

    return httpx.MockTransport(handler)


async def run(name: str) -> tuple[Recorded, list[Event], UpstreamError | None, list[httpx.Request]]:
    recorded = load(name)
    requests: list[httpx.Request] = []
    client = UpstreamClient(base_url=BASE, api_key=KEY, transport=replay(recorded, requests))
    endpoint = "completions" if recorded.path == "/completions" else "chat"
    events: list[Event] = []
    error: UpstreamError | None = None
    try:
        async for event in client.stream_chat(recorded.request_body, endpoint=endpoint):
            events.append(event)
    except UpstreamError as exc:
        error = exc
    finally:
        await client.aclose()
    return recorded, events, error, requests


def expected_texts(recorded: Recorded) -> dict[int, str]:
    """Each choice's text, reassembled independently from the recorded body."""
    texts: dict[int, str] = {}
    if recorded.is_stream:
        for data in recorded.sse_data():
            if data == "[DONE]":
                continue
            for choice in json.loads(data)["choices"]:
                piece = choice.get("text") if "text" in choice else (choice.get("delta") or {}).get("content")
                texts[choice["index"]] = texts.get(choice["index"], "") + (piece or "")
    else:
        for choice in json.loads(recorded.body)["choices"]:
            texts[choice["index"]] = choice["message"]["content"]
    return texts


def expected_usage(recorded: Recorded) -> dict[str, Any] | None:
    if recorded.is_stream:
        found = [json.loads(d).get("usage") for d in recorded.sse_data() if d != "[DONE]"]
        usages = [u for u in found if u]
        return usages[-1] if usages else None
    usage: dict[str, Any] | None = json.loads(recorded.body).get("usage")
    return usage


SUCCESSES = [n for n in names() if load(n).status == 200]
ERRORS = [n for n in names() if load(n).status != 200]


def test_every_fixture_is_covered() -> None:
    assert len(names()) >= 11
    assert set(SUCCESSES) | set(ERRORS) == set(names())
    assert set(ERRORS) == {"error-400-invalid-request", "error-404-bare-string", "error-502-empty-body"}


@pytest.mark.parametrize("name", SUCCESSES)
async def test_recorded_success(name: str) -> None:
    recorded, events, error, requests = await run(name)
    assert error is None
    # The client sends the body exactly as given.
    assert json.loads(requests[0].content) == recorded.request_body
    assert requests[0].url.path == "/inference/v1" + recorded.path

    opened = events[0]
    assert isinstance(opened, Opened)
    assert opened.request_id == recorded.headers["x-request-id"]
    assert opened.sampling_options == json.loads(recorded.headers["fireworks-sampling-options"])
    assert opened.prompt_tokens == int(recorded.headers["fireworks-prompt-tokens"])
    assert opened.rate_limits == {k: v for k, v in recorded.headers.items() if k.startswith("x-ratelimit-")}
    if "fireworks-server-time-to-first-token" in recorded.headers:
        assert opened.server_ttft == float(recorded.headers["fireworks-server-time-to-first-token"])

    texts: dict[int, str] = {}
    for event in events:
        if isinstance(event, Delta):
            texts[event.choice] = texts.get(event.choice, "") + (event.content or "")
    assert texts == expected_texts(recorded)
    assert all(text for text in texts.values())

    usages = [e for e in events if isinstance(e, Usage)]
    usage = expected_usage(recorded)
    assert usage is not None
    assert [(u.prompt_tokens, u.completion_tokens, u.total_tokens) for u in usages] == [
        (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"])
    ]

    done = events[-1]
    assert isinstance(done, Done)
    assert sum(isinstance(e, Done) for e in events) == 1
    finishes = {e.choice: e.reason for e in events if isinstance(e, Finish)}
    assert done.finish_reasons == finishes and finishes
    assert done.saw_done_marker is recorded.is_stream
    assert done.response_id == recorded.headers["x-request-id"]


async def test_the_recorded_stream_word_for_word() -> None:
    _, events, _, _ = await run("chat-stream")
    assert [type(e).__name__ for e in events] == ["Opened", "Delta", "Delta", "Finish", "Usage", "Done"]
    assert "".join(e.content or "" for e in events if isinstance(e, Delta)) == "How can I assist you today?"
    assert events[-1] == Done(
        {0: "stop"},
        True,
        "053ef7f9-359c-4b08-97fb-b9164d69d9d0",
        "accounts/fireworks/models/llama-v3p1-8b-instruct",
    )


async def test_the_recorded_completions_stream_ends_on_length() -> None:
    _, events, _, _ = await run("completions-stream")
    assert (
        "".join(e.content or "" for e in events if isinstance(e, Delta))
        == "romi Kanazawa, your work is being"
    )
    assert isinstance(events[-1], Done) and events[-1].finish_reasons == {0: "length"}


async def test_the_recorded_two_choices() -> None:
    _, events, _, _ = await run("chat-n-2")
    texts = {e.choice: e.content for e in events if isinstance(e, Delta)}
    assert texts == {
        0: "It's nice to meet you. Is there something I can help you with or would you like to chat?",
        1: "How can I assist you today?",
    }
    assert isinstance(events[-1], Done) and events[-1].finish_reasons == {0: "stop", 1: "stop"}


async def test_the_recorded_sampling_options_follow_the_request() -> None:
    for name, key, value in [
        ("chat-temperature-0.5", "temperature", 0.5),
        ("chat-top-p-0.5", "top_p", 0.5),
        ("chat-max-completion-tokens", "max_tokens", 10),
    ]:
        _, events, _, _ = await run(name)
        opened = events[0]
        assert isinstance(opened, Opened) and opened.sampling_options is not None
        assert opened.sampling_options[key] == value, name


async def test_the_recorded_rate_limits() -> None:
    _, events, _, _ = await run("chat-ratelimit-headers")
    opened = events[0]
    assert isinstance(opened, Opened)
    assert opened.rate_limits["x-ratelimit-remaining-tokens-prompt"] == "59985"
    assert opened.rate_limits["x-ratelimit-over-limit"] == "no"
    assert len(opened.rate_limits) == 7


async def test_replayed_through_prepare_body_too() -> None:
    """The consumer sends prepare_body(...): a stream request still replays to the same text."""
    recorded = load("chat-stream")
    requests: list[httpx.Request] = []
    client = UpstreamClient(base_url=BASE, api_key=KEY, transport=replay(recorded, requests))
    try:
        events = [e async for e in client.stream_chat(prepare_body(recorded.request_body))]
    finally:
        await client.aclose()
    sent = json.loads(requests[0].content)
    assert sent["stream_options"] == {"include_usage": True} and sent["perf_metrics_in_response"] is True
    assert "".join(e.content or "" for e in events if isinstance(e, Delta)) == "How can I assist you today?"


ERROR_EXPECTATIONS: dict[str, dict[str, Any]] = {
    "error-400-invalid-request": {
        "status": 400,
        "code": "bad_request",
        "retryable": False,
        "request_id": "16f0ef75-5773-41b0-a166-26b1e2b7ec1a",
        "phrases": ["Fireworks returned 400", "conversation roles must alternate user/assistant"],
    },
    "error-404-bare-string": {
        "status": 404,
        "code": "not_found",
        "retryable": False,
        "request_id": None,
        "phrases": [
            "Fireworks returned 404",
            "Model not found, inaccessible, and/or not deployed",
            "accounts/fireworks/models/llama-v3p2-1b-instruct",
        ],
    },
    "error-502-empty-body": {
        "status": 502,
        "code": "bad_gateway",
        "retryable": True,
        "request_id": None,
        "phrases": ["Fireworks returned 502"],
    },
}


@pytest.mark.parametrize("name", ERRORS)
async def test_recorded_error(name: str) -> None:
    _, events, error, _ = await run(name)
    expected = ERROR_EXPECTATIONS[name]
    assert events == []  # no Opened for an error status
    assert isinstance(error, UpstreamHTTPError)
    assert (error.status, error.code, error.retryable, error.request_id) == (
        expected["status"],
        expected["code"],
        expected["retryable"],
        expected["request_id"],
    )
    for phrase in expected["phrases"]:
        assert phrase in error.message
    assert KEY not in json.dumps(error.as_dict())
