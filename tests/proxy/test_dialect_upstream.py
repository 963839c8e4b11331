"""Issue 13, section 1, through the chat socket: the exact bodies a strict server and the emulator got."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from proxy.client.dialect import REFUSALS
from tests.proxy.conftest import HELLO, MODEL
from tests.proxy.test_consumers import of, saved_run, text_of
from tests.strict_server import REPLY, StrictServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def forget_refusals() -> Iterator[None]:
    REFUSALS.clear()
    yield
    REFUSALS.clear()


@pytest.fixture
def strict(upstream_settings: Any, strict_server: StrictServer) -> StrictServer:
    upstream_settings.FIREWORKS_BASE_URL = strict_server.base_url
    return strict_server


BASE_BODY = {"model": MODEL, "messages": HELLO, "stream": True, "stream_options": {"include_usage": True}}


async def test_the_first_message_to_a_strict_server_succeeds(connect: Any, strict: StrictServer) -> None:
    """No Fireworks extension goes to another server unasked: one request, answered."""
    ws = await connect()
    await ws.start("s1")
    frames = await ws.until_end("s1")
    assert frames[-1]["type"] == "chat.done", frames[-1]
    assert text_of(frames, "s1") == "".join(REPLY)
    assert strict.requests == [BASE_BODY]
    assert "dropped" not in of(frames, "s1", "chat.opened")[0]


async def test_a_switched_off_option_is_not_sent_at_all(connect: Any, emulator: Any) -> None:
    """Off is absent from the body, not false (issue 13), even to the emulator that would take false."""
    ws = await connect()
    params = {"perf_metrics_in_response": False, "echo": False, "ignore_eos": False, "include_usage": False}
    await ws.start("s1", params={**params, "temperature": 0.3})
    frames = await ws.until_end("s1")
    assert frames[-1]["type"] == "chat.done", frames[-1]
    bodies = [r["body"] for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
    assert bodies == [{"model": MODEL, "messages": HELLO, "stream": True, "temperature": 0.3}]
    assert not of(frames, "s1", "chat.perf")


async def test_a_refused_field_is_dropped_once_said_and_remembered(
    connect: Any, strict: StrictServer
) -> None:
    ws = await connect()
    await ws.start("s1", params={"top_k": 40, "temperature": 0.3})
    frames = await ws.until_end("s1")
    done = frames[-1]
    assert done["type"] == "chat.done", done
    assert text_of(frames, "s1") == "".join(REPLY)
    asked = {**BASE_BODY, "top_k": 40, "temperature": 0.3}
    # The same request once more, lacking exactly the refused field.
    assert strict.requests == [asked, {k: v for k, v in asked.items() if k != "top_k"}]
    (opened,) = of(frames, "s1", "chat.opened")
    assert opened["dropped"] == ["top_k"]
    run = await saved_run(done["run"])
    assert run.request == strict.requests[-1]  # the body the server answered
    assert run.timeline[0]["dropped"] == ["top_k"]  # the run record says what was dropped

    # The next request does not pay the retry, and still says what it went without.
    await ws.start("s2", params={"top_k": 40}, conversation=done.get("conversation") or run.conversation_id)
    frames = await ws.until_end("s2")
    assert frames[-1]["type"] == "chat.done", frames[-1]
    assert len(strict.requests) == 3
    assert "top_k" not in strict.requests[2]
    started = of(frames, "s2", "chat.started")[0]
    assert started["request"] == strict.requests[2]
    assert of(frames, "s2", "chat.opened")[0]["dropped"] == ["top_k"]


async def test_a_bad_value_is_not_retried(connect: Any, strict: StrictServer) -> None:
    ws = await connect()
    await ws.start("s1", params={"temperature": 1.8})
    frames = await ws.until_end("s1")
    error = frames[-1]
    assert error["type"] == "chat.error" and error["status"] == 400 and error["param"] == "temperature"
    assert "temperature must be at most 1.5" in error["message"]
    assert strict.requests == [{**BASE_BODY, "temperature": 1.8}]


async def test_code_export_follows_the_remembered_refusals(connect: Any, strict: StrictServer) -> None:
    ws = await connect()
    await ws.start("s1", params={"top_k": 40})
    await ws.until_end("s1")
    await ws.send(
        {"type": "code.render", "stream": "c1", "model": MODEL, "messages": HELLO, "params": {"top_k": 40}}
    )
    rendered = await ws.receive()
    assert rendered["type"] == "code.rendered"
    assert rendered["request"] == strict.requests[-1]
    assert "top_k" not in rendered["snippets"]["curl"] and strict.base_url in rendered["snippets"]["curl"]


async def test_the_emulator_still_gets_the_fireworks_fields(connect: Any, emulator: Any) -> None:
    ws = await connect()
    await ws.start("s1", params={"top_k": 40})
    frames = await ws.until_end("s1")
    assert frames[-1]["type"] == "chat.done", frames[-1]
    bodies = [r["body"] for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
    assert bodies == [{**BASE_BODY, "top_k": 40, "perf_metrics_in_response": True}]
    assert of(frames, "s1", "chat.perf")  # asked for, and answered


async def test_filled_in_variables_reach_a_strict_server_as_plain_messages(
    connect: Any, strict: StrictServer
) -> None:
    """chat.start's ``variables`` are the playground's, never the upstream's: the strict server gets only
    standard fields, the prompt already filled in."""
    ws = await connect()
    await ws.start(
        "v1",
        system="You are {{role}}.",
        messages=[{"role": "user", "content": "Say {{word}}"}],
        variables={"role": "terse", "word": "hello"},
    )
    frames = await ws.until_end("v1")
    assert frames[-1]["type"] == "chat.done", frames[-1]
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello"}]
    assert strict.requests == [{**BASE_BODY, "messages": messages}]


async def test_a_readiness_probe_to_a_strict_server_drops_what_it_refuses_and_says_so(
    connect: Any, strict: StrictServer
) -> None:
    """A serving path's fields (``service_tier``, ``prompt_cache_key``) go to a server that refuses them
    once, then the probe is sent again without them and is green, naming what was dropped."""
    ws = await connect()
    config = {
        "model": MODEL,
        "messages": HELLO,
        "label": "Priority",
        "extra": {"service_tier": "priority", "prompt_cache_key": "demo"},
    }
    await ws.send({"type": "probe.start", "probe": "p1", "configs": [config], "max_tokens": 4})
    frames = []
    while not frames or frames[-1]["type"] != "probe.done":
        frames.append(await ws.receive())
    [result] = [f for f in frames if f["type"] == "probe.result"]
    assert result["status"] == "ready", result
    tiny = {"model": MODEL, "messages": HELLO, "stream": True, "max_tokens": 4}
    refused, answered = strict.requests[0], strict.requests[-1]
    assert refused["service_tier"] == "priority" and refused["prompt_cache_key"] == "demo"
    assert {k: v for k, v in answered.items() if k != "stream_options"} == tiny
    assert sorted(result.get("dropped") or []) == ["prompt_cache_key", "service_tier"], result
