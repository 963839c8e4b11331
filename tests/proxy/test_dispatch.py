"""proxy/dispatch.py under hostile frames: property-based fuzzing of a real socket (bounded, fixed seed).

Every frame, however malformed, gets an answer and leaves the socket open; no traceback is logged; a
valid stream still runs afterwards; running streams survive their socket's bad frames.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground.asgi import application
from proxy.client.client import close_shared_clients
from proxy.protocol import MAX_FRAME_BYTES
from tests.proxy.conftest import ORIGIN, Socket

pytestmark = pytest.mark.django_db(transaction=True)

TYPES = ["chat.start", "chat.stop", "models.list", "code.render", "watch", "unwatch", "nope", ""]
SENTINEL = 987_654_321

scalars = st.one_of(
    st.none(),
    st.booleans(),
    # Mostly small numbers; huge ones (past float's range) too, without drawing 400 random digits each.
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([10**400, -(10**400), 2**64, 10**19]),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=8,
)
# Texts with {{ variables }} (chat.start's ``variables`` fills them), valid and not.
templates = st.sampled_from(["{{a}}", "x {{ b }} {{a}}", "{{_c}}{{a}}", "{{ 1x }}", "{{a", "{{{a}}}"])
# Frames close to real ones (a known type, known field names with any values), and anything at all.
known_fields = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | json_values},
    optional={
        "stream": json_values,
        "mode": st.sampled_from(["chat", "completions", "responses"]) | json_values,
        "model": json_values,
        "messages": json_values
        | st.lists(
            st.fixed_dictionaries({"role": json_values, "content": json_values | templates}), max_size=3
        ),
        "prompt": json_values,
        "system": json_values,
        "params": st.dictionaries(
            st.sampled_from(["temperature", "max_tokens", "top_p", "n", "seed", "stop"]), json_values
        ),
        "extra": json_values,
        "conversation": json_values,
        "share": json_values,
        "refresh": json_values,
        "previous_response_id": json_values,
        "variables": json_values
        | st.dictionaries(st.sampled_from(["a", "b", "_c"]), json_values, max_size=3),
    },
)
frames = st.one_of(known_fields, json_values)
# Hand-made hostile frames that the strategies above rarely reach.
DEEP = "[" * 5000 + "]" * 5000
HOSTILE = [
    '{"type": []}',
    '{"type": {}}',
    '{"type": ["chat.start"], "stream": "x"}',
    DEEP,
    '{"type": "chat.start", "stream": "d", "extra": ' + "[" * 1000 + "]" * 1000 + "}",
    '{"type": "code.render", "stream": "d", "messages": [{"role": "user", "content": "x"}], "extra": '
    + '{"a":' * 500
    + "1"
    + "}" * 500
    + "}",
    '{"type": "chat.start", "stream": "n", "messages": [{"role": "user", "content": "x"}], '
    '"params": {"max_tokens": ' + "9" * 400 + "}}",
    '{"type": "chat.start", "stream": "f", "messages": [{"role": "user", "content": "x"}], '
    '"params": {"temperature": 1e999}}',
    # One value used many times: a small frame that would fill to megabytes (refused, not built).
    '{"type": "code.render", "stream": "v", "messages": [{"role": "user", "content": "'
    + "{{a}}" * 20_000
    + '"}], "variables": {"a": "'
    + "y" * 5_000
    + '"}}',
    "x" * (MAX_FRAME_BYTES + 10),
    "not json",
    " ",
]


async def exchange(cookie: bytes, texts: list[str]) -> tuple[list[dict[str, Any]], bool]:
    """Send the texts, then a sentinel; the frames received before its answer, and whether it came."""
    communicator = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN, (b"cookie", cookie)])
    connected, _ = await communicator.connect()
    assert connected
    for text in texts:
        await communicator.send_to(text_data=text)
    await communicator.send_to(text_data=json.dumps({"type": "unwatch", "conversation": SENTINEL}))
    got: list[dict[str, Any]] = []
    try:
        while True:
            message = await communicator.receive_output(10)
            if message["type"] == "websocket.close":
                return got, False
            frame = json.loads(message["text"])
            if frame == {"type": "unwatch.ok", "conversation": SENTINEL}:
                return got, True
            got.append(frame)
    finally:
        await communicator.disconnect()
        await close_shared_clients()  # this loop's upstream clients, before async_to_sync ends it


@pytest.fixture
def closed_upstream(upstream_settings: Any) -> Any:
    # Valid streams among the fuzz fail fast (nothing listens there) rather than reach a server.
    upstream_settings.FIREWORKS_BASE_URL = "http://127.0.0.1:9/v1"
    return upstream_settings


def test_hand_made_hostile_frames_each_get_an_error_and_the_socket_stays(
    closed_upstream: Any,
    session_cookie: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    got, open_ = async_to_sync(exchange)(session_cookie, HOSTILE)
    assert open_, "a hostile frame closed the socket"
    errors = [f for f in got if f["type"] == "chat.error"]
    assert len(errors) >= len(HOSTILE)
    codes = {f["code"] for f in errors}
    assert {"invalid_frame", "invalid_json", "frame_too_large", "unknown_type", "invalid_param"} <= codes
    assert "internal_error" not in codes
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records
    ]


@settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(batch=st.lists(frames, min_size=10, max_size=25))
def test_fuzzed_frames_never_crash_the_socket(
    closed_upstream: Any,
    session_cookie: bytes,
    caplog: pytest.LogCaptureFixture,
    batch: list[Any],
) -> None:
    caplog.clear()
    texts = [json.dumps(frame) for frame in batch]
    got, open_ = async_to_sync(exchange)(session_cookie, texts)
    assert open_, "a fuzzed frame closed the socket"
    tracebacks = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not tracebacks, tracebacks[0].getMessage()
    # Every answer is a declared frame (the suite's protocol check runs on each, too).
    assert all(isinstance(f.get("type"), str) for f in got)


async def test_a_stream_survives_its_sockets_bad_frames(connect: Any, emulator: Any) -> None:
    sock: Socket = await connect()
    emulator.configure(tokens_per_second=100)
    await sock.start("good")
    for text in HOSTILE[:4]:
        await sock.communicator.send_to(text_data=text)
    frames = await sock.until_end("good")
    done = frames[-1]
    assert done["type"] == "chat.done" and done["status"] == "done"
    refused = [f for f in frames if f["type"] == "chat.error"]
    assert len(refused) == 4 and all(f["stream"] != "good" for f in refused)


async def test_a_frame_is_answered_while_the_database_thread_is_busy(connect: Any) -> None:
    # Channels closes stale database connections before every handler, on its one database thread: a
    # frame then waited for whatever ran there (another stream's write); at 50 streams, chat.start
    # waited for the other streams' writes before its request could leave. Every database call here
    # goes through database_sync_to_async, which does that itself.
    sock: Socket = await connect()
    busy, release = threading.Event(), threading.Event()

    def hold_the_thread() -> None:
        busy.set()
        release.wait(10)

    holding = asyncio.ensure_future(database_sync_to_async(hold_the_thread)())
    try:
        await asyncio.get_running_loop().run_in_executor(None, busy.wait, 5)
        await sock.send({"type": "nope", "stream": "s"})
        answer = await sock.receive(wait=2)
        assert answer["type"] == "chat.error" and answer["code"] == "unknown_type"
    finally:
        release.set()
        await holding
