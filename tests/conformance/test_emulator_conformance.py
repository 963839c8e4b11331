"""Replay each recorded Fireworks request against the emulator and compare the shapes of the answers.

Values differ (the emulator's text is synthetic), shapes must not: chunk order, JSON keys, header names,
the applied sampling options and the error bodies.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests import recorded
from tests.emulator_fixture import EmulatorServer

SUCCESSES = [n for n in recorded.names() if recorded.load(n).status == 200]
STREAMS = [n for n in SUCCESSES if recorded.load(n).is_stream]
BODIES = [n for n in SUCCESSES if not recorded.load(n).is_stream]
# Headers the emulator may send beyond a recording: the cached-prompt count (Fireworks sends it when
# caching applies) and rate limits (present in some recordings only).
OPTIONAL_HEADERS = re.compile(r"^(fireworks-cached-prompt-tokens|x-ratelimit-.*)$")


def fireworks_header_names(headers: Any) -> set[str]:
    """The Fireworks-specific header names: fireworks-*, x-request-id, x-ratelimit-*."""
    return {n.lower() for n in headers if re.match(r"^(fireworks-|x-ratelimit-|x-request-id$)", n.lower())}


def replay(emulator: EmulatorServer, name: str, **changes: Any) -> tuple[recorded.Recorded, httpx.Response]:
    """Send a recording's request (with ``changes`` to its body) to the emulator."""
    rec = recorded.load(name)
    response = emulator.client.post(emulator.base_url + rec.path, json={**rec.request_body, **changes})
    return rec, response


def chunk_kind(chunk: Any) -> str:
    """Classify a stream chunk: role, content, final (finish reason with usage), done or other."""
    if chunk == "[DONE]":
        return "done"
    choice = chunk["choices"][0]
    delta = choice.get("delta")
    if delta == {"role": "assistant"} and chunk["usage"] is None:
        return "role"
    if (
        choice["finish_reason"] is None
        and chunk["usage"] is None
        and (delta or {}).get("content", choice.get("text"))
    ):
        return "content"
    if choice["finish_reason"] and chunk["usage"] and delta in ({}, None) and choice.get("text", "") == "":
        return "final"
    return "other"


def pattern(data: list[str]) -> str:
    """A stream's chunk kinds with runs of content collapsed, e.g. ``role content+ final done``."""
    kinds = [chunk_kind(json.loads(d) if d != "[DONE]" else d) for d in data]
    return re.sub(r"(content )+", "content+ ", " ".join(kinds) + " ").strip()


@pytest.fixture
def emu(emulator: EmulatorServer) -> EmulatorServer:
    """The emulator at a pace that keeps the replays quick."""
    emulator.configure(ttft_ms=5, tokens_per_second=2000)
    return emulator


@pytest.mark.parametrize("name", SUCCESSES)
def test_headers_and_sampling_options_match(emu: EmulatorServer, name: str) -> None:
    rec, response = replay(emu, name)
    assert response.status_code == rec.status
    ours, theirs = fireworks_header_names(response.headers), fireworks_header_names(rec.headers)
    assert theirs <= ours
    assert all(OPTIONAL_HEADERS.match(extra) for extra in ours - theirs), ours - theirs
    assert json.loads(response.headers["fireworks-sampling-options"]) == json.loads(
        rec.headers["fireworks-sampling-options"]
    )
    assert response.headers["content-type"] == rec.headers["content-type"]
    if rec.request_body["model"] == "accounts/fireworks/models/llama-v3p1-8b-instruct":
        # The emulator counts prompt tokens like this model's chat template does.
        assert response.headers["fireworks-prompt-tokens"] == rec.headers["fireworks-prompt-tokens"]


@pytest.mark.parametrize("name", STREAMS)
def test_streams_have_the_recorded_chunk_order_and_keys(emu: EmulatorServer, name: str) -> None:
    rec, response = replay(emu, name)
    ours = [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]
    assert pattern(ours) == pattern(rec.sse_data())
    expected = "role content+ final done" if rec.path == "/chat/completions" else "content+ final done"
    assert pattern(ours) == expected
    # Every chunk has the keys of the recorded chunk of its kind.
    by_kind: dict[str, dict[str, Any]] = {}
    for data in rec.sse_data()[:-1]:
        chunk = json.loads(data)
        by_kind.setdefault(chunk_kind(chunk), chunk)
    for data in ours[:-1]:
        chunk = json.loads(data)
        model = by_kind[chunk_kind(chunk)]
        assert set(chunk) == set(model)
        assert set(chunk["choices"][0]) == set(model["choices"][0])
        assert chunk["object"] == model["object"] and chunk["id"] == response.headers["x-request-id"]
        if chunk["usage"] is not None:
            assert set(chunk["usage"]) == set(model["usage"])


@pytest.mark.parametrize("name", BODIES)
def test_bodies_have_the_recorded_keys(emu: EmulatorServer, name: str) -> None:
    rec, response = replay(emu, name)
    ours, theirs = response.json(), json.loads(rec.body)
    assert list(ours) == list(theirs)  # id, object, created, model, choices, usage (in that order)
    assert ours["id"] == response.headers["x-request-id"]
    assert ours["object"] == theirs["object"] and ours["model"] == theirs["model"]
    assert len(ours["choices"]) == len(theirs["choices"])
    for mine, recorded_choice in zip(ours["choices"], theirs["choices"], strict=True):
        assert set(mine) == set(recorded_choice)
        assert {"role", "content"} <= set(mine["message"])
    assert list(ours["usage"]) == list(theirs["usage"])


def test_400_as_recorded(emu: EmulatorServer) -> None:
    rec, response = replay(emu, "error-400-invalid-request")
    assert response.status_code == 400
    assert response.json() == json.loads(rec.body)  # the same message, word for word
    assert fireworks_header_names(response.headers) == fireworks_header_names(rec.headers)


def test_400_shape_for_a_parameter_error(emu: EmulatorServer) -> None:
    rec = recorded.load("error-400-invalid-request")
    _, response = replay(emu, "chat-stream", temperature=9)
    assert response.status_code == 400
    body, theirs = response.json(), json.loads(rec.body)
    assert set(body) == set(theirs) and set(body["error"]) == set(theirs["error"])
    assert body["error"]["type"] == theirs["error"]["type"] and "temperature" in body["error"]["message"]


def test_404_as_recorded(emu: EmulatorServer) -> None:
    # The recorded model has since come back in the catalogue; an unknown one gives the same 404.
    rec, response = replay(emu, "error-404-bare-string", model="accounts/fireworks/models/retired-model")
    assert response.status_code == 404
    assert response.text == rec.body
    assert response.headers["content-type"] == rec.headers["content-type"]
    assert fireworks_header_names(response.headers) == fireworks_header_names(rec.headers)


def test_502_as_recorded(emu: EmulatorServer) -> None:
    emu.inject({"kind": "status", "status": 502, "shape": "empty"})
    rec, response = replay(emu, "error-502-empty-body")
    assert response.status_code == 502
    assert response.content == rec.body.encode() == b""
    assert response.headers["content-length"] == "0" and "content-type" not in response.headers
    assert fireworks_header_names(response.headers) == fireworks_header_names(rec.headers)


# The perf_metrics keys Fireworks documents (../shared/fireworks-api.md): on every answer, with predicted
# outputs, and on dedicated deployments.
DOCUMENTED_PERF_KEYS = {
    "prompt-tokens",
    "cached-prompt-tokens",
    "server-time-to-first-token",
    "server-processing-time",
    "speculation-prompt-tokens",
    "speculation-prompt-matched-tokens",
    "speculation-generated-tokens",
    "speculation-acceptance",
    "backend-host",
    "num-concurrent-requests",
    "deployment",
    "tokenizer-queue-duration",
    "tokenizer-duration",
    "prefill-queue-duration",
    "prefill-duration",
    "generation-queue-duration",
    "generation-duration",
}


@pytest.mark.parametrize(
    "model",
    [
        "accounts/fireworks/models/llama-v3p1-8b-instruct",
        "accounts/fireworks/models/llama-v3p1-8b-instruct#demo-dedicated",
        "accounts/acme/deployments/llama-v3p1-8b-instruct-d1",
        "accounts/acme/models/llama-v3p1-8b-instruct-lora-support",
    ],
)
def test_serving_paths_send_only_documented_perf_metrics(emu: EmulatorServer, model: str) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}
    body |= {"perf_metrics_in_response": True, "service_tier": "priority", "prompt_cache_key": "k"}
    response = emu.client.post(emu.base_url + "/chat/completions", json=body)
    assert response.status_code == 200, response.text
    perf = response.json()["perf_metrics"]
    assert set(perf) <= DOCUMENTED_PERF_KEYS
    dedicated = "#" in model or "/deployments/" in model
    assert ("prefill-queue-duration" in perf) is dedicated
    # On deployments the keys known before the body come as fireworks-* headers too (as documented).
    headers = fireworks_header_names(response.headers)
    assert ({"fireworks-prefill-queue-duration", "fireworks-prefill-duration"} <= headers) is dedicated
