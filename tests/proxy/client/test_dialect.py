"""proxy/client/dialect.py: reading a refusal in any body shape, and the client's retry without the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from playground.params import PARAMS, server_json, server_kind
from proxy.client.client import UpstreamClient
from proxy.client.dialect import REFUSALS, refused_fields
from proxy.client.errors import UpstreamHTTPError
from proxy.client.events import Delta, Opened

BODY: dict[str, Any] = {
    "model": "m",
    "messages": [{"role": "user", "content": "Hi"}],
    "stream": True,
    "stream_options": {"include_usage": True},
    "perf_metrics_in_response": True,
    "top_k": 40,
    "temperature": 0.5,
}

# (name, status, body as the server sent it, the fields it refuses)
REFUSALS_SEEN: list[tuple[str, int, str, list[str]]] = [
    (
        "OpenAI's 400",
        400,
        '{"error":{"message":"Unrecognized request argument supplied: top_k","type":"invalid_request_error",'
        '"param":null,"code":null}}',
        ["top_k"],
    ),
    (
        "OpenAI's 400, two fields",
        400,
        '{"error":{"message":"Unrecognized request arguments supplied: perf_metrics_in_response, top_k",'
        '"type":"invalid_request_error","param":null,"code":null}}',
        ["perf_metrics_in_response", "top_k"],
    ),
    (
        "FastAPI's 422 list",
        422,
        '{"detail":[{"loc":["body","top_k"],"msg":"Extra inputs are not permitted",'
        '"type":"extra_forbidden"}]}',
        ["top_k"],
    ),
    (
        "FastAPI's detail string (issue 13)",
        422,
        '{"detail":"Unexpected fields in the request: {\'perf_metrics_in_response\'}"}',
        ["perf_metrics_in_response"],
    ),
    ("a message body", 400, '{"message":"Unknown parameter: \'top_k\'."}', ["top_k"]),
    (
        "a JSON array of errors",
        400,
        '[{"error":{"code":400,"message":"Invalid JSON payload received. '
        'Unknown name \\"top_k\\": Cannot find field.","status":"INVALID_ARGUMENT"}}]',
        ["top_k"],
    ),
    (
        "plain text (serde)",
        422,
        "Failed to deserialize the JSON body into the target type: unknown field `top_k`, expected one of "
        "`model`, `messages` at line 1 column 120",
        ["top_k"],
    ),
    (
        "vLLM's pydantic error inside a message",
        400,
        "{\"object\":\"error\",\"message\":\"[{'type': 'extra_forbidden', 'loc': ('body', 'top_k'), "
        '\'msg\': \'Extra inputs are not permitted\', \'input\': 40}]","type":"BadRequestError","code":400}',
        ["top_k"],
    ),
    (
        "a nested field refuses its object",
        422,
        '{"detail":[{"loc":["body","stream_options","include_usage"],"msg":"Extra inputs are not permitted",'
        '"type":"extra_forbidden"}]}',
        ["stream_options"],
    ),
    # Not refusals by name: a bad value, a missing field, a field the body does not hold, other statuses.
    ("a bad value", 400, '{"error":{"message":"temperature must be at most 1.5","param":"temperature"}}', []),
    (
        "FastAPI's bad value",
        422,
        '{"detail":[{"loc":["body","temperature"],"msg":"Input should be less than or equal to 1",'
        '"type":"less_than_equal"}]}',
        [],
    ),
    ("an essential field", 400, "Unrecognized request argument supplied: messages", []),
    ("a field not sent", 400, "Unrecognized request argument supplied: min_p", []),
    ("a 404", 404, "Unrecognized request argument supplied: top_k", []),
    ("an empty body", 400, "", []),
]


@pytest.mark.parametrize(
    ("status", "text", "expected"), [r[1:] for r in REFUSALS_SEEN], ids=[r[0] for r in REFUSALS_SEEN]
)
def test_a_refusal_names_its_fields_in_any_shape(status: int, text: str, expected: list[str]) -> None:
    assert sorted(refused_fields(status, text, BODY)) == sorted(expected)


def test_the_kind_of_server_comes_from_the_base_url() -> None:
    assert server_kind("https://api.fireworks.ai/inference/v1") == "fireworks"
    assert server_kind("http://127.0.0.1:8765/inference/v1") == "emulator"
    assert server_kind("http://localhost:9999/inference/v1/") == "emulator"
    assert server_kind("http://127.0.0.1:8000/v1") == "other"
    assert server_kind("https://api.openai.com/v1") == "other"
    assert server_kind("https://fireworks.ai.example.com/inference/v1") == "other"
    assert server_json("http://10.0.0.5:8000/v1") == {
        "kind": "other",
        "label": "OpenAI-compatible server",
        "host": "10.0.0.5:8000",
    }


def test_the_registry_knows_the_fireworks_extensions() -> None:
    extensions = {p.name for p in PARAMS if p.fireworks}
    assert {"top_k", "min_p", "repetition_penalty", "perf_metrics_in_response", "service_tier"} <= extensions
    assert not extensions & {"temperature", "top_p", "max_tokens", "seed", "n", "stop", "include_usage"}


@pytest.fixture(autouse=True)
def forget_refusals() -> Iterator[None]:
    REFUSALS.clear()
    yield
    REFUSALS.clear()


SSE = (
    b'data: {"id":"x","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def refusing(status: int, text: str, bodies: list[dict[str, Any]]) -> httpx.MockTransport:
    """Refuses the first request as given, answers the next."""

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        if len(bodies) == 1:
            return httpx.Response(status, content=text.encode())
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=SSE)

    return httpx.MockTransport(handler)


REFUSED = [r for r in REFUSALS_SEEN if r[3]]


@pytest.mark.parametrize(("status", "text", "fields"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
async def test_the_client_sends_the_request_once_more_without_the_refused_fields(
    status: int, text: str, fields: list[str]
) -> None:
    bodies: list[dict[str, Any]] = []
    client = UpstreamClient(base_url="http://127.0.0.1:1/v1", transport=refusing(status, text, bodies))
    try:
        events = [e async for e in client.stream_chat(BODY)]
    finally:
        await client.aclose()
    assert bodies == [BODY, {k: v for k, v in BODY.items() if k not in fields}]
    opened = events[0]
    assert isinstance(opened, Opened) and sorted(opened.dropped) == sorted(fields)
    assert [e.content for e in events if isinstance(e, Delta)] == ["ok"]
    assert REFUSALS.get("http://127.0.0.1:1/v1") == frozenset(fields)


async def test_a_bad_value_is_shown_and_sent_once() -> None:
    bodies: list[dict[str, Any]] = []
    text = '{"error":{"message":"temperature must be at most 1.5","param":"temperature"}}'
    client = UpstreamClient(base_url="http://127.0.0.1:1/v1", transport=refusing(400, text, bodies))
    try:
        with pytest.raises(UpstreamHTTPError) as info:
            [e async for e in client.stream_chat(BODY)]
    finally:
        await client.aclose()
    assert bodies == [BODY]
    assert info.value.param == "temperature" and "temperature must be at most 1.5" in info.value.message
    assert REFUSALS.get("http://127.0.0.1:1/v1") == frozenset()
