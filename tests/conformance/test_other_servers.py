"""Other servers' dialects (tests/conformance/fixtures/, see its PROVENANCE.md), replayed through the
upstream client and the one server fold: the same text, reasoning, finish reason, usage and errors as a
careful reading of the bytes (each fixture's ``expected``), and the exact bodies a retry sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from proxy.client.client import UpstreamClient
from proxy.client.dialect import REFUSALS
from proxy.client.errors import UpstreamError
from proxy.client.events import Event, Rethink
from proxy.relay import StreamRecord

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KEY = "sk-conformanceKey0123456789"
WIRE_HEADERS = {"content-length", "transfer-encoding", "content-encoding", "connection"}


@dataclass(frozen=True)
class Cassette:
    name: str
    interactions: list[dict[str, Any]]
    expected: dict[str, Any]

    @property
    def base_url(self) -> str:
        return self.interactions[0]["request"]["uri"].rsplit("/chat/completions", 1)[0]

    def request_body(self, index: int) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.interactions[index]["request"]["body"])
        return body


def load(name: str) -> Cassette:
    raw = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())
    return Cassette(name, raw["interactions"], raw["expected"])


NAMES = sorted(p.stem for p in FIXTURES.glob("*.yaml"))


@pytest.fixture(autouse=True)
def forget_refusals() -> Iterator[None]:
    REFUSALS.clear()
    yield
    REFUSALS.clear()


async def replay(cassette: Cassette) -> tuple[list[Event], UpstreamError | None, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        response = cassette.interactions[min(len(sent), len(cassette.interactions)) - 1]["response"]
        headers = {k: v[0] for k, v in response["headers"].items() if k.lower() not in WIRE_HEADERS}
        return httpx.Response(
            response["status"]["code"], headers=headers, content=response["body"]["string"].encode()
        )

    client = UpstreamClient(base_url=cassette.base_url, api_key=KEY, transport=httpx.MockTransport(handler))
    events: list[Event] = []
    error: UpstreamError | None = None
    try:
        async for event in client.stream_chat(cassette.request_body(0)):
            events.append(event)
    except UpstreamError as exc:
        error = exc
    finally:
        await client.aclose()
    return events, error, sent


def test_every_dialect_the_issue_names_has_a_fixture() -> None:
    assert {
        "usage-in-choice",
        "think-lone-close",
        "error-json-array",
        "error-404-unknown-path",
        "error-404-openai-model",
        "stream-error-object",
        "no-done-crlf",
        "refusal-400-openai",
        "refusal-422-fastapi-list",
        "refusal-422-detail-string",
    } <= set(NAMES)
    provenance = (FIXTURES / "PROVENANCE.md").read_text()
    assert all(f"{name}.yaml" in provenance for name in NAMES)


@pytest.mark.parametrize("name", NAMES)
async def test_other_server(name: str) -> None:
    cassette = load(name)
    expected = cassette.expected
    events, error, sent = await replay(cassette)
    # Every request the client sent is the one recorded, in order: a retry lacks the refused fields.
    assert sent == [cassette.request_body(i) for i in range(len(cassette.interactions))]

    record = StreamRecord("s")
    frames = record.frames(events)
    output = record.output()
    first = output[0] if output else {"content": "", "reasoning": "", "finish_reason": None}
    if "text" in expected:
        assert first["content"] == expected["text"]
        assert first["reasoning"] == expected["reasoning"]
    if expected.get("rethink"):
        assert any(isinstance(e, Rethink) for e in events)
        assert [f["type"] for f in frames].count("chat.rethink") == 1
    if "dropped" in expected:
        assert next(f for f in frames if f["type"] == "chat.opened")["dropped"] == expected["dropped"]
        assert REFUSALS.get(cassette.base_url) == frozenset(expected["dropped"])

    if "error" in expected:
        assert error is not None
        want = expected["error"]
        for field in ("status", "code", "param"):
            if field in want:
                assert getattr(error, field) == want[field], field
        for phrase in want["phrases"]:
            assert phrase in error.message
        for phrase in want.get("absent", []):
            assert phrase not in error.message
        assert KEY not in json.dumps(error.as_dict())
        return

    assert error is None
    assert first["finish_reason"] == expected["finish"]
    assert record.usage is not None
    prompt, completion, total = expected["usage"]
    assert (
        record.usage["prompt_tokens"],
        record.usage["completion_tokens"],
        record.usage["total_tokens"],
    ) == (
        prompt,
        completion,
        total,
    )
    done = record.end("done", None)
    # A stream without [DONE] says so in the run record, and is not an error when a finish reason came.
    assert done["type"] == "chat.done" and done["saw_done_marker"] is expected["saw_done"]
    assert record.timeline[-1]["saw_done_marker"] is expected["saw_done"]
