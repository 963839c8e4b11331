"""The chat websocket against the full ASGI application (origin check, session login) and the emulator."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

from playground.asgi import application
from playground.models import Conversation, Run
from proxy.client.events import Delta, Done, Finish
from proxy.relay import StreamRecord
from tests.frames import expand

pytestmark = pytest.mark.django_db(transaction=True)

API_KEY = "fw_TESTKEY123"
MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
ORIGIN = (b"origin", b"http://127.0.0.1")
HELLO = [{"role": "user", "content": "Say hello"}]
# Slow enough that a stream is still running when the test stops it.
SLOW = {"ttft_ms": 5, "tokens_per_second": 40}


class Socket:
    """A websocket client that keeps every frame it received, to check what a user could see."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.frames: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.disconnected = False

    async def disconnect(self) -> None:
        self.disconnected = True
        await self.communicator.disconnect()

    async def send(self, frame: Any) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def receive(self, wait: float = 5) -> dict[str, Any]:
        text = await self.communicator.receive_from(wait)
        self.raw.append(text)
        frame = json.loads(text)
        self.frames.append(frame)
        return frame

    async def until_end(self, stream: str | None, wait: float = 10) -> list[dict[str, Any]]:
        """Frames until the stream's chat.done or chat.error (frames of other streams are kept too)."""
        got = []
        while True:
            frame = await self.receive(wait)
            got.append(frame)
            if frame.get("stream") == stream and frame["type"] in ("chat.done", "chat.error"):
                return got

    async def start(self, stream: str, **fields: Any) -> None:
        await self.send(
            {
                "type": "chat.start",
                "stream": stream,
                "mode": "chat",
                "model": MODEL,
                "messages": HELLO,
                "params": {},
                **fields,
            }
        )


def of(frames: list[dict[str, Any]], stream: str, kind: str) -> list[dict[str, Any]]:
    """The stream's frames of one kind, a chat.deltas frame counting as the chat.delta frames it holds."""
    return [f for f in expand(frames) if f.get("stream") == stream and f["type"] == kind]


def text_of(frames: list[dict[str, Any]], stream: str) -> str:
    return "".join(f.get("content", "") for f in of(frames, stream, "chat.delta") if f["choice"] == 0)


@pytest.fixture
def user(transactional_db: None) -> Any:
    return get_user_model().objects.create_user("alice")


@pytest.fixture
def session_cookie(user: Any) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture
def upstream_settings(settings: Any, emulator: Any) -> Any:
    settings.FIREWORKS_BASE_URL = emulator.base_url
    settings.FIREWORKS_API_KEY = API_KEY
    settings.FIREWORKS_STREAM_GAP_TIMEOUT = 5
    cache.clear()
    return settings


@pytest.fixture
async def connect(
    upstream_settings: Any, session_cookie: bytes, caplog: pytest.LogCaptureFixture, close_upstream: None
) -> AsyncIterator[Callable[..., Awaitable[Socket]]]:
    """Open signed-in sockets; afterwards check that no frame and no log line held the API key."""
    caplog.set_level(logging.DEBUG)
    sockets: list[Socket] = []

    async def open_socket(cookie: bytes | None = session_cookie) -> Socket:
        headers = [ORIGIN, (b"cookie", cookie)] if cookie else [ORIGIN]
        communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        sockets.append(Socket(communicator))
        return sockets[-1]

    yield open_socket
    for sock in sockets:
        if not sock.disconnected:
            await sock.communicator.disconnect()
    for sock in sockets:
        assert not any(API_KEY in text for text in sock.raw)
    assert not any(API_KEY in record.getMessage() for record in caplog.records)


async def saved_run(run_id: int) -> Run:
    return await database_sync_to_async(lambda: Run.objects.select_related("message").get(pk=run_id))()


async def wait_for_stream_end(emulator: Any, count: int = 1, within: float = 2) -> list[dict[str, Any]]:
    """The emulator's finished streams, once ``count`` of them have ended."""
    deadline = time.monotonic() + within
    while True:
        streams = [s for s in (await asyncio.to_thread(emulator.state))["streams"] if s.get("ended_at")]
        if len(streams) >= count or time.monotonic() > deadline:
            return streams
        await asyncio.sleep(0.02)


# --- the happy path ------------------------------------------------------------------------------


async def test_stream_relays_every_event_and_saves_the_run(connect: Any, emulator: Any) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=2000)
    ws = await connect()
    await ws.start("s1", params={"temperature": 0.5, "max_tokens": 30}, system="Be brief.")
    frames = await ws.until_end("s1")
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "chat.started"
    assert kinds[1] == "chat.opened"
    assert kinds[-1] == "chat.done"
    assert "chat.usage" in kinds and "chat.perf" in kinds and "chat.finish" in kinds

    started, opened, done = frames[0], frames[1], frames[-1]
    assert started["request"]["temperature"] == 0.5
    assert started["request"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert started["request"]["stream"] is True
    assert opened["sampling_options"]["temperature"] == 0.5
    assert opened["requested"] == {"temperature": 0.5, "max_tokens": 30}
    assert opened["request_id"]
    deltas = of(frames, "s1", "chat.delta")
    assert [d["i"] for d in deltas] == list(range(len(deltas)))
    assert all(a["t"] <= b["t"] for a, b in itertools.pairwise(deltas))
    text = text_of(frames, "s1")
    assert text
    assert done["status"] == "done"
    assert done["saw_done_marker"] is True
    assert done["timings"]["chunks"] == len(deltas)
    assert done["timings"]["ttft_ms"] == deltas[0]["t"]

    run = await saved_run(done["run"])
    assert run.status == "done"
    assert run.message.content == text
    assert run.message_id == done["message_id"] == done["message_ids"][-1]
    assert run.request == started["request"]
    assert run.usage["completion_tokens"] == of(frames, "s1", "chat.usage")[0]["completion_tokens"]
    # The saved timeline is the frames the page was sent, in order, ending with the chat.done it got.
    sent = [f for f in expand(frames) if f.get("stream") == "s1" and f["type"] != "chat.started"]
    assert [e["type"] for e in run.timeline] == [f["type"] for f in sent]
    assert [e.get("i") for e in run.timeline if e["type"] == "chat.delta"] == [d["i"] for d in deltas]
    assert "".join(e.get("content") or "" for e in run.timeline if e["type"] == "chat.delta") == text
    assert run.timeline[-1]["timings"] == done["timings"] == run.timings
    assert run.request_id == opened["request_id"]
    # What the emulator received is exactly the body shown to the user, sent with the key.
    [received] = (await asyncio.to_thread(emulator.state))["requests"]
    assert received["body"] == started["request"]


async def test_continuing_a_conversation_and_someone_elses(connect: Any, emulator: Any) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=2000)
    ws = await connect()
    await ws.start("a")
    done = (await ws.until_end("a"))[-1]
    run = await saved_run(done["run"])
    history = [
        *HELLO,
        {"role": "assistant", "content": run.message.content},
        {"role": "user", "content": "More"},
    ]
    await ws.start("b", messages=history, conversation=run.conversation_id)
    again = (await ws.until_end("b"))[-1]
    assert again["type"] == "chat.done"
    assert again["message_ids"][:2] == done["message_ids"]
    assert len(again["message_ids"]) == 4

    other = await database_sync_to_async(get_user_model().objects.create_user)(
        "mallory", password="pw-mal-123"
    )
    theirs = await database_sync_to_async(Conversation.objects.create)(owner=other, model=MODEL)
    await ws.start("c", conversation=theirs.pk)
    [error] = await ws.until_end("c")
    assert (error["type"], error["code"], error["param"]) == ("chat.error", "not_found", "conversation")


# --- stopping ------------------------------------------------------------------------------------


async def test_stop_closes_the_upstream_at_once_and_keeps_the_partial_text(
    connect: Any, emulator: Any
) -> None:
    emulator.configure(**SLOW)
    ws = await connect()
    await ws.start("s", params={"max_tokens": 500})
    frames = []
    while len(of(frames, "s", "chat.delta")) < 3:
        frames.append(await ws.receive())
    stopped_at = time.time()
    await ws.send({"type": "chat.stop", "stream": "s"})
    frames += await ws.until_end("s")
    done = frames[-1]
    assert done["type"] == "chat.done"
    assert done["status"] == "stopped"

    [ended] = await wait_for_stream_end(emulator)
    assert ended["end"] == "client_disconnected"
    assert ended["ended_at"] - stopped_at < 0.1
    run = await saved_run(done["run"])
    assert run.status == "stopped"
    assert run.message.content == text_of(frames, "s")
    assert len(run.message.content) > 0


async def test_disconnect_closes_the_upstream_and_saves_the_run_stopped(connect: Any, emulator: Any) -> None:
    emulator.configure(**SLOW)
    ws = await connect()
    await ws.start("s", params={"max_tokens": 500})
    frames = []
    while len(of(frames, "s", "chat.delta")) < 2:
        frames.append(await ws.receive())
    run_id = frames[0]["run"]
    await ws.disconnect()

    [ended] = await wait_for_stream_end(emulator)
    assert ended["end"] == "client_disconnected"
    run = await saved_run(run_id)
    assert run.status == "stopped"
    assert run.message.content.startswith(text_of(frames, "s"))


async def test_two_streams_on_one_socket_one_stopped(connect: Any, emulator: Any) -> None:
    emulator.configure(**SLOW)
    ws = await connect()
    await ws.start("long", params={"max_tokens": 500})
    await ws.start("short", params={"max_tokens": 6})
    frames: list[dict[str, Any]] = []
    while len(of(frames, "long", "chat.delta")) < 2:
        frames.append(await ws.receive())
    await ws.send({"type": "chat.stop", "stream": "long"})
    ends = {}
    while len(ends) < 2:
        frame = await ws.receive()
        frames.append(frame)
        if frame["type"] in ("chat.done", "chat.error"):
            ends[frame["stream"]] = frame
    assert ends["long"]["status"] == "stopped"
    assert ends["short"]["status"] == "done"
    assert ends["short"]["finish_reasons"] == {"0": "length"}
    assert ends["long"]["run"] != ends["short"]["run"]
    assert (await saved_run(ends["short"]["run"])).message.content == text_of(frames, "short")


async def test_a_running_stream_id_cannot_be_reused(connect: Any, emulator: Any) -> None:
    emulator.configure(**SLOW)
    ws = await connect()
    await ws.start("s", params={"max_tokens": 500})
    await ws.start("s")
    frames = []
    while not of(frames, "s", "chat.error") or not of(frames, "s", "chat.delta"):
        frames.append(await ws.receive())
    assert of(frames, "s", "chat.error")[0]["code"] == "duplicate_stream"
    await ws.send({"type": "chat.stop", "stream": "s"})
    assert (await ws.until_end("s"))[-1]["status"] == "stopped"
    assert len((await asyncio.to_thread(emulator.state))["requests"]) == 1


# --- refusals before anything is sent ------------------------------------------------------------


async def test_out_of_range_param_is_refused_before_anything_is_sent(connect: Any, emulator: Any) -> None:
    ws = await connect()
    await ws.start("s", params={"temperature": 5})
    [error] = await ws.until_end("s")
    assert error["type"] == "chat.error"
    assert error["code"] == "invalid_param"
    assert error["param"] == "temperature"
    assert "between 0 and 2" in error["message"]
    assert (await asyncio.to_thread(emulator.state))["requests"] == []
    assert not await database_sync_to_async(Run.objects.exists)()


BAD_FRAMES: list[tuple[str, Any, str]] = [
    ("not json", "{nope", "invalid_json"),
    ("not an object", [1, 2], "invalid_frame"),
    ("no type", {"stream": "x"}, "unknown_type"),
    ("unknown type", {"type": "chat.dance", "stream": "x"}, "unknown_type"),
    ("no stream id", {"type": "chat.start", "messages": HELLO}, "invalid_frame"),
    ("stream id not a string", {"type": "chat.start", "stream": 7, "messages": HELLO}, "invalid_frame"),
    ("stop without stream", {"type": "chat.stop"}, "invalid_frame"),
    ("messages not a list", {"type": "chat.start", "stream": "x", "messages": "hi"}, "invalid_frame"),
    (
        "bad role",
        {"type": "chat.start", "stream": "x", "messages": [{"role": "god", "content": "hi"}]},
        "invalid_frame",
    ),
    (
        "content wrong type",
        {"type": "chat.start", "stream": "x", "messages": [{"role": "user", "content": 5}]},
        "invalid_frame",
    ),
    (
        "bad part",
        {"type": "chat.start", "stream": "x", "messages": [{"role": "user", "content": [{"type": "x"}]}]},
        "invalid_frame",
    ),
    (
        "params not an object",
        {"type": "chat.start", "stream": "x", "messages": HELLO, "params": [1]},
        "invalid_frame",
    ),
    (
        "unknown param",
        {"type": "chat.start", "stream": "x", "messages": HELLO, "params": {"tempo": 1}},
        "invalid_param",
    ),
    ("bad mode", {"type": "chat.start", "stream": "x", "mode": "poem", "messages": HELLO}, "invalid_frame"),
    ("prompt missing", {"type": "chat.start", "stream": "x", "mode": "completions"}, "invalid_frame"),
    (
        "conversation not an id",
        {"type": "chat.start", "stream": "x", "messages": HELLO, "conversation": "1"},
        "invalid_frame",
    ),
    ("refresh not a bool", {"type": "models.list", "refresh": "yes"}, "invalid_frame"),
]


@pytest.mark.parametrize(
    ("frame", "code"), [(f, c) for _, f, c in BAD_FRAMES], ids=[n for n, _, _ in BAD_FRAMES]
)
async def test_bad_frames_get_an_error_and_the_socket_stays_usable(
    connect: Any, emulator: Any, frame: Any, code: str
) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=2000)
    ws = await connect()
    if isinstance(frame, str):
        await ws.communicator.send_to(text_data=frame)
    else:
        await ws.send(frame)
    error = await ws.receive()
    assert error["type"] == "chat.error"
    assert error["code"] == code
    assert error["message"]
    expected_stream = (
        frame.get("stream") if isinstance(frame, dict) and isinstance(frame.get("stream"), str) else None
    )
    assert error["stream"] == expected_stream
    assert (await asyncio.to_thread(emulator.state))["requests"] == []
    await ws.start("ok", params={"max_tokens": 5})
    assert (await ws.until_end("ok"))[-1]["type"] == "chat.done"


async def test_binary_frame_gets_an_error(connect: Any) -> None:
    ws = await connect()
    await ws.communicator.send_to(bytes_data=b"\x00\x01")
    error = await ws.receive()
    assert (error["type"], error["code"], error["stream"]) == ("chat.error", "invalid_frame", None)


async def test_anonymous_users_are_refused(upstream_settings: Any) -> None:
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN])
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4401


async def test_a_foreign_origin_is_refused(upstream_settings: Any, session_cookie: bytes) -> None:
    headers = [(b"origin", b"http://evil.example"), (b"cookie", session_cookie)]
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected


# --- upstream failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        ({"kind": "status", "status": 503, "shape": "object"}, "overloaded", 503),
        ({"kind": "status", "status": 400, "shape": "coded"}, "bad_request", 400),
        ({"kind": "status", "status": 502, "shape": "empty"}, "bad_gateway", 502),
    ],
)
async def test_upstream_status_errors(
    connect: Any, emulator: Any, fault: dict[str, Any], code: str, status: int
) -> None:
    emulator.inject(fault)
    ws = await connect()
    await ws.start("s")
    frames = await ws.until_end("s")
    error = frames[-1]
    assert (error["type"], error["code"], error["status"]) == ("chat.error", code, status)
    assert error["retryable"] is (status in (502, 503))
    run = await saved_run(error["run"])
    assert run.status == "error"
    assert run.error["status"] == status
    assert run.message is None  # nothing was shown, so no empty reply is added to the conversation


async def test_unknown_model_is_a_not_found_error(connect: Any) -> None:
    ws = await connect()
    await ws.start("s", model="accounts/fireworks/models/no-such-model")
    error = (await ws.until_end("s"))[-1]
    assert (error["code"], error["status"], error["param"]) == ("not_found", 404, "model")


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"kind": "stall", "after_chunks": 3, "seconds": 2}, "gap_timeout"),
        ({"kind": "cut", "after_chunks": 3}, "stream_cut"),
        ({"kind": "stream_error", "after_chunks": 3}, "stream_error"),
    ],
)
async def test_mid_stream_failures_keep_the_partial_text(
    connect: Any, emulator: Any, upstream_settings: Any, fault: dict[str, Any], code: str
) -> None:
    upstream_settings.FIREWORKS_STREAM_GAP_TIMEOUT = 0.3
    emulator.inject(fault)
    ws = await connect()
    await ws.start("s", params={"max_tokens": 50})
    frames = await ws.until_end("s")
    error = frames[-1]
    assert error["type"] == "chat.error"
    assert error["code"] == code
    partial = text_of(frames, "s")
    assert partial
    run = await saved_run(error["run"])
    assert run.status == "error"
    assert run.error["code"] == code
    assert run.message.content == partial


# --- models --------------------------------------------------------------------------------------


async def test_models_list_is_cached_and_refreshable(connect: Any, emulator: Any) -> None:
    ws = await connect()
    await ws.send({"type": "models.list"})
    first = await ws.receive()
    assert first["type"] == "models.list"
    assert first["cached"] is False
    assert MODEL in [m["id"] for m in first["models"]]
    await ws.send({"type": "models.list"})
    second = await ws.receive()
    assert second["cached"] is True
    assert second["models"] == first["models"]
    await ws.send({"type": "models.list", "refresh": True})
    assert (await ws.receive())["cached"] is False


async def test_models_list_upstream_failure_falls_back_to_the_default_model(
    connect: Any, upstream_settings: Any
) -> None:
    upstream_settings.FIREWORKS_BASE_URL = "http://127.0.0.1:9/inference/v1"
    ws = await connect()
    await ws.send({"type": "models.list"})
    frame = await ws.receive()
    assert frame["models"] == [{"id": upstream_settings.PLAYGROUND_DEFAULT_MODEL}]
    assert frame["error"]["code"] == "connection_error"
    assert frame["cached"] is False


async def test_completions_mode_streams_the_prompt_continuation(connect: Any, emulator: Any) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=2000)
    ws = await connect()
    await ws.send(
        {
            "type": "chat.start",
            "stream": "c",
            "mode": "completions",
            "model": MODEL,
            "prompt": "Once upon a time",
            "params": {"max_tokens": 8},
        }
    )
    frames = await ws.until_end("c")
    done = frames[-1]
    assert done["type"] == "chat.done"
    assert frames[0]["request"]["prompt"] == "Once upon a time"
    assert "messages" not in frames[0]["request"]
    run = await saved_run(done["run"])
    assert run.endpoint == "completions"
    assert run.message.content == text_of(frames, "c") != ""


# --- the in-memory accumulation (pure) ------------------------------------------------------------


def test_relay_assembles_tool_calls_logprobs_and_timings() -> None:
    relay = StreamRecord("s", choices=2)
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    relay.frame(Delta(choice=0, tool_calls=[call]))
    relay.frame(Delta(choice=0, tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]))
    relay.frame(Delta(choice=0, tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]))
    relay.frame(Delta(choice=1, content="Hi", logprobs={"content": [{"token": "Hi", "logprob": -0.1}]}))
    relay.frame(Delta(choice=1, content="!", logprobs={"content": [{"token": "!", "logprob": -0.2}]}))
    relay.frame(Finish(choice=0, reason="tool_calls"))
    relay.frame(Done(finish_reasons={0: "tool_calls", 1: "stop"}, saw_done_marker=True))
    first, second = relay.output()
    assert first["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert first["finish_reason"] == "tool_calls"
    assert (second["content"], second["finish_reason"]) == ("Hi!", "stop")
    assert [t["token"] for t in second["logprobs"]["content"]] == ["Hi", "!"]
    deltas = [entry for entry in relay.timeline if entry["type"] == "chat.delta"]
    assert [entry["i"] for entry in deltas] == [0, 1, 2, 3, 4]
    assert all("logprobs" not in entry for entry in deltas)
    timings = relay.figures()
    assert timings["chunks"] == timings["tokens"] == 5
    assert timings["ttft_ms"] == deltas[0]["t"]
