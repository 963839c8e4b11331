"""The chat websocket against the full ASGI application (origin check, session login) and the emulator."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from playground.asgi import application
from playground.models import Conversation, Message, Run
from playground.selectors.conversations import conversation_page_data
from proxy.client.events import Delta, Done, Finish
from proxy.consumers import probe_client, upstream_client
from proxy.relay import StreamRecord
from tests.frames import expand
from tests.proxy.conftest import API_KEY, HELLO, MODEL, ORIGIN, SLOW, Socket  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def of(frames: list[dict[str, Any]], stream: str, kind: str) -> list[dict[str, Any]]:
    """The stream's frames of one kind, a chat.deltas frame counting as the chat.delta frames it holds."""
    return [f for f in expand(frames) if f.get("stream") == stream and f["type"] == kind]


def text_of(frames: list[dict[str, Any]], stream: str) -> str:
    return "".join(f.get("content", "") for f in of(frames, stream, "chat.delta") if f["choice"] == 0)


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
    deltas = [entry for entry in relay.saved_timeline() if entry["type"] == "chat.delta"]
    assert [entry["i"] for entry in deltas] == [0, 1, 2, 3, 4]
    assert all("logprobs" not in entry for entry in deltas)
    timings = relay.figures()
    assert timings["chunks"] == timings["tokens"] == 5
    assert timings["ttft_ms"] == deltas[0]["t"]


# --- raw_output, a tool-call round trip, predicted outputs and the Responses mode ---------------------

LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
    },
}


async def test_raw_output_arrives_as_a_chat_raw_frame_and_is_saved(connect: Any) -> None:
    sock = await connect()
    await sock.start("r1", params={"raw_output": True})
    frames = await sock.until_end("r1")
    raw = of(frames, "r1", "chat.raw")[0]["raw_output"]
    assert len(raw["prompt_fragments"]) == len(raw["prompt_token_ids"])
    assert raw["completion"] == text_of(frames, "r1")
    done = of(frames, "r1", "chat.done")[0]
    run = await saved_run(done["run"])
    assert run.output[0]["raw_output"] == raw


async def test_a_tool_call_round_trip_is_saved_and_reloads(connect: Any, user: Any) -> None:
    sock = await connect()
    ask = [{"role": "user", "content": "Please lookup the word quux"}]
    extra = {"tools": [LOOKUP], "tool_choice": "auto"}
    await sock.start("t1", messages=ask, extra=extra, params={"parallel_tool_calls": False})
    frames = await sock.until_end("t1")
    done = of(frames, "t1", "chat.done")[0]
    conversation = of(frames, "t1", "chat.started")[0]["conversation"]
    assert done["finish_reasons"] == {"0": "tool_calls"}
    fragments = [f for d in of(frames, "t1", "chat.delta") for f in d.get("tool_calls") or []]
    assert fragments[0]["function"]["name"] == "lookup" and fragments[0]["id"]
    call_id = fragments[0]["id"]
    arguments = "".join(f["function"].get("arguments") or "" for f in fragments)
    call = {"id": call_id, "type": "function", "function": {"name": "lookup", "arguments": arguments}}
    thread = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call_id, "content": "quux: a placeholder word"},
    ]
    await sock.start("t2", messages=thread, extra=extra, conversation=conversation)
    frames = await sock.until_end("t2")
    answer = text_of(frames, "t2")
    assert "quux: a placeholder word" in answer and "lookup" in answer

    def tree() -> dict[str, Any]:
        return conversation_page_data(user=user, conversation_id=conversation)

    saved = await database_sync_to_async(tree)()
    roles = [(m["role"], m["tool_call_id"]) for m in saved["messages"]]
    assert roles == [("user", ""), ("assistant", ""), ("tool", call_id), ("assistant", "")]
    assert saved["messages"][1]["tool_calls"][0]["function"] == call["function"]
    assert await database_sync_to_async(Message.objects.filter(role="tool").count)() == 1


async def test_prediction_and_its_comparison_run_on_one_socket(connect: Any, emulator: Any) -> None:
    emulator.configure(ttft_ms=1, tokens_per_second=1500)
    code = "def f(x):\n    return x * 2\n\nprint(f(21))\n"
    ask = [{"role": "user", "content": f"Rename f to double:\n```python\n{code}```"}]
    sock = await connect()
    await sock.start("p-with", messages=ask, extra={"prediction": {"type": "content", "content": code}})
    await sock.start("p-without", messages=ask)
    frames = await sock.until_end("p-with")
    if not of(frames, "p-without", "chat.done"):
        frames += await sock.until_end("p-without")
    metrics = of(frames, "p-with", "chat.perf")[0]["metrics"]
    assert 0 < metrics["speculation-prompt-matched-tokens"] <= metrics["speculation-prompt-tokens"]
    assert "speculation-prompt-tokens" not in of(frames, "p-without", "chat.perf")[0]["metrics"]
    assert text_of(frames, "p-with") == text_of(frames, "p-without")


async def test_responses_mode_chains_and_an_unknown_id_is_a_chat_error(connect: Any) -> None:
    sock = await connect()
    first = [{"role": "user", "content": "Hello responses"}]
    await sock.send(
        {
            "type": "chat.start",
            "stream": "a",
            "mode": "responses",
            "model": MODEL,
            "messages": first,
            "params": {"store": True},
        }
    )
    frames = await sock.until_end("a")
    done = of(frames, "a", "chat.done")[0]
    assert done["response_id"].startswith("resp_") and done["finish_reasons"] == {"0": "stop"}
    started = of(frames, "a", "chat.started")[0]
    assert started["request"]["input"] == first and started["request"]["store"] is True
    assert of(frames, "a", "chat.usage")[0]["completion_tokens"] > 0
    reply = text_of(frames, "a")
    assert reply.startswith("[offline emulator]")
    thread = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "More"}]
    await sock.send(
        {
            "type": "chat.start",
            "stream": "b",
            "mode": "responses",
            "model": MODEL,
            "messages": thread,
            "previous_response_id": done["response_id"],
            "conversation": started["conversation"],
        }
    )
    frames = await sock.until_end("b")
    started = of(frames, "b", "chat.started")[0]
    assert started["request"]["input"] == [{"role": "user", "content": "More"}]
    assert of(frames, "b", "chat.done")[0]["message_ids"][:2] == done["message_ids"]
    await sock.send(
        {
            "type": "chat.start",
            "stream": "c",
            "mode": "responses",
            "model": MODEL,
            "messages": first,
            "previous_response_id": "resp_missing",
        }
    )
    frames = await sock.until_end("c")
    error = of(frames, "c", "chat.error")[0]
    assert error["status"] == 400 and error["param"] == "previous_response_id"
    assert json.dumps(error).count("not found") >= 1


async def test_responses_mode_sends_the_system_prompt_as_instructions(connect: Any, emulator: Any) -> None:
    """Issue 13: the page sends the system prompt as the first message; /responses got no instructions."""
    sock = await connect()
    thread = [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hello"}]
    await sock.send(
        {"type": "chat.start", "stream": "r", "mode": "responses", "model": MODEL, "messages": thread}
    )
    frames = await sock.until_end("r")
    assert frames[-1]["type"] == "chat.done", frames[-1]
    (sent,) = [r["body"] for r in emulator.state()["requests"] if r["path"].endswith("/responses")]
    assert sent == {
        "model": MODEL,
        "input": [{"role": "user", "content": "Hello"}],
        "instructions": "Answer in French.",
        "stream": True,
    }


# --- compare mode: several columns on one socket ---------------------------------------------------
# Compare mode on the websocket: several columns streaming at once on one socket, one stopped early.
# The others must complete with their full text, the stopped one must be saved stopped with what it
# showed, and every column's run is its own conversation (what a saved comparison groups).

COLUMNS = {
    "col-a": {"max_tokens": 400, "temperature": 0.2},
    "col-b": {"max_tokens": 10, "temperature": 0.7, "seed": 2},
    "col-c": {"max_tokens": 14, "temperature": 1.2, "seed": 3},
    "col-d": {"max_tokens": 8, "top_p": 0.5},
}


async def test_four_columns_on_one_socket_one_stopped_early(
    connect: Any,
    emulator: Any,
) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=40)
    ws = await connect()
    for stream, params in COLUMNS.items():
        await ws.start(stream, params=params, system="Be brief.")
    frames: list[dict[str, Any]] = []

    # Every column starts, and the first one streams, before it is stopped.
    def ready() -> bool:
        started = all(of(frames, s, "chat.started") for s in COLUMNS)
        return started and len(of(frames, "col-a", "chat.delta")) >= 3

    while not ready():
        frames.append(await ws.receive())
    assert not of(frames, "col-a", "chat.done")
    await ws.send({"type": "chat.stop", "stream": "col-a"})
    ends: dict[str, dict[str, Any]] = {}
    while len(ends) < len(COLUMNS):
        frame = await ws.receive()
        frames.append(frame)
        if frame["type"] in ("chat.done", "chat.error"):
            ends[frame["stream"]] = frame
    assert {s: e["status"] for s, e in ends.items()} == {
        "col-a": "stopped",
        "col-b": "done",
        "col-c": "done",
        "col-d": "done",
    }
    runs = {s: await saved_run(e["run"]) for s, e in ends.items()}
    assert len({r.conversation_id for r in runs.values()}) == len(COLUMNS)
    for stream, params in COLUMNS.items():
        run = runs[stream]
        assert run.message.content == text_of(frames, stream)
        assert run.request["temperature" if "temperature" in params else "top_p"] == params.get(
            "temperature", params.get("top_p")
        )
        assert [e.get("content") for e in run.timeline if e["type"] == "chat.delta" and e["choice"] == 0] == [
            f.get("content") for f in of(frames, stream, "chat.delta")
        ]
        if stream != "col-a":
            assert ends[stream]["finish_reasons"] == {"0": "length"}
            assert run.usage["completion_tokens"] == params["max_tokens"]
            assert run.sampling_options["max_tokens"] == params["max_tokens"]
    assert runs["col-a"].status == Run.Status.STOPPED
    assert len(runs["col-a"].message.content) > 0
    # The stopped column's upstream request was closed; the rest ended on their own.
    ended = await wait_for_stream_end(emulator, count=4)
    assert sorted(s["end"] for s in ended).count("client_disconnected") == 1


async def test_streams_are_capped_per_socket_and_per_user_with_a_clear_error(
    connect: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proxy import consumers

    monkeypatch.setattr(consumers, "MAX_STREAMS_PER_SOCKET", 2)
    monkeypatch.setattr(consumers, "MAX_STREAMS_PER_USER", 3)
    emulator.configure(**SLOW)
    first, second = await connect(), await connect()
    for name in ("a", "b", "c"):
        await first.start(name, params={"max_tokens": 400})
    refused = await first.receive()
    while refused["type"] != "chat.error":
        refused = await first.receive()
    assert (refused["stream"], refused["code"]) == ("c", "too_many_streams")
    assert "at once on one connection" in refused["message"]
    await second.start("d", params={"max_tokens": 400})
    await second.start("e", params={"max_tokens": 400})
    refused = await second.receive()
    while refused["type"] != "chat.error":
        refused = await second.receive()
    assert (refused["stream"], refused["code"]) == ("e", "too_many_streams")
    assert "in all your tabs" in refused["message"]
    # The streams that started are not disturbed; stopping one frees a place.
    await first.send({"type": "chat.stop", "stream": "a"})
    ended = [f for f in await first.until_end("a") if f["type"] in ("chat.done", "chat.error")]
    assert ended[-1]["status"] == "stopped"
    await second.start("f", params={"max_tokens": 3})
    assert (await second.until_end("f"))[-1]["type"] == "chat.done"


async def test_the_upstream_client_keeps_idle_connections_as_configured(settings: Any) -> None:
    settings.FIREWORKS_KEEPALIVE_SECONDS = 42.0
    assert upstream_client("k-for-tests").keepalive == 42.0
    assert probe_client("k-for-tests", 5.0).keepalive == 42.0
