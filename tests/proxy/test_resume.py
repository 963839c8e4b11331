"""Streams that survive their socket (proxy/resume.py): detach on a drop, re-attach with chat.attach, the
grace period, and chat.stop from another socket of the same user, against the full application and the
emulator."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.test import Client

from tests.frames import expand
from tests.proxy.conftest import SLOW, Socket
from tests.proxy.test_consumers import of, saved_run, text_of, wait_for_stream_end

pytestmark = pytest.mark.django_db(transaction=True)


def deltas_of(frames: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    """The stream's deltas as a page folds them: an attach snapshot's frames count as received."""
    out: list[dict[str, Any]] = []
    for frame in frames:
        if frame["type"] == "chat.attached" and frame["stream"] == stream:
            out += [f for f in expand(frame["frames"]) if f["type"] == "chat.delta"]
        elif frame.get("stream") == stream and not frame.get("watching"):
            out += [f for f in expand([frame]) if f["type"] == "chat.delta"]
    return out


async def deltas_until(ws: Socket, stream: str, count: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while len(of(frames, stream, "chat.delta")) < count:
        frames.append(await ws.receive())
    return frames


async def other_users_cookie() -> bytes:
    def make() -> bytes:
        client = Client()
        client.force_login(get_user_model().objects.create_user("mallory"))
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    return await database_sync_to_async(make)()


async def test_a_dropped_socket_detaches_and_a_new_one_gets_every_chunk_once_in_order(
    connect: Any, emulator: Any, settings: Any
) -> None:
    settings.PLAYGROUND_RESUME_GRACE_SECONDS = 10
    emulator.configure(ttft_ms=5, tokens_per_second=60)
    first = await connect()
    await first.start("s", params={"max_tokens": 40})
    before = await deltas_until(first, "s", 3)
    await first.disconnect()
    await asyncio.sleep(0.3)  # chunks go on arriving upstream while no socket is attached
    [stream] = (await asyncio.to_thread(emulator.state))["streams"]
    assert stream["end"] is None  # still running: not closed with the socket

    second = await connect()
    await second.send({"type": "chat.attach", "stream": "s"})
    after = await second.until_end("s")
    attached = after[0]
    assert attached["type"] == "chat.attached"
    assert attached["run"] == before[0]["run"]
    assert attached["frames"][0]["type"] == "chat.started"
    assert attached["frames"][0]["request"]["messages"] == [{"role": "user", "content": "Say hello"}]
    # The snapshot holds more than the first socket got (chunks came while nobody was attached).
    snapshot = deltas_of([attached], "s")
    assert len(snapshot) > len(of(before, "s", "chat.delta"))
    assert attached["i"] == snapshot[-1]["i"]

    indexes = [d["i"] for d in deltas_of(after, "s")]
    assert indexes == list(range(len(indexes)))  # each chunk exactly once, in order
    done = after[-1]
    assert (done["type"], done["status"]) == ("chat.done", "done")
    assert done["finish_reasons"] == {"0": "length"}
    run = await saved_run(done["run"])
    assert run.status == "done"
    assert run.message.content == "".join(d.get("content", "") for d in deltas_of(after, "s"))
    assert run.usage["completion_tokens"] == 40
    [ended] = await wait_for_stream_end(emulator)
    assert ended["end"] == "completed"


async def test_with_nobody_attached_when_the_grace_ends_the_stream_is_stopped_and_saved(
    connect: Any, emulator: Any, settings: Any
) -> None:
    settings.PLAYGROUND_RESUME_GRACE_SECONDS = 0.4
    emulator.configure(**SLOW)
    ws = await connect()
    await ws.start("s", params={"max_tokens": 500})
    frames = await deltas_until(ws, "s", 2)
    await ws.disconnect()
    await asyncio.sleep(0.15)
    assert not (await wait_for_stream_end(emulator, within=0))  # not yet: within the grace period
    [ended] = await wait_for_stream_end(emulator, within=3)
    assert ended["end"] == "client_disconnected"
    for _ in range(100):
        run = await saved_run(frames[0]["run"])
        if run.status != "streaming":
            break
        await asyncio.sleep(0.02)
    assert run.status == "stopped"
    assert run.message.content.startswith(text_of(frames, "s"))
    assert len(run.message.content) > len(text_of(frames, "s"))  # what came during the grace is saved too

    late = await connect()
    await late.send({"type": "chat.attach", "stream": "s"})
    refused = await late.receive()
    assert (refused["type"], refused["code"], refused["param"]) == ("chat.error", "not_found", "stream")


async def test_a_second_socket_of_the_same_user_stops_the_stream_at_once(connect: Any, emulator: Any) -> None:
    emulator.configure(**SLOW)
    owner, other_tab = await connect(), await connect()
    await owner.start("s", params={"max_tokens": 500})
    frames = await deltas_until(owner, "s", 2)
    await other_tab.send({"type": "chat.stop", "stream": "s"})
    frames += await owner.until_end("s")
    assert (frames[-1]["type"], frames[-1]["status"]) == ("chat.done", "stopped")
    [ended] = await wait_for_stream_end(emulator)
    assert ended["end"] == "client_disconnected"
    assert (await saved_run(frames[-1]["run"])).status == "stopped"


async def test_two_attached_sockets_get_the_same_frames_and_no_watched_copy(
    connect: Any, emulator: Any
) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=80)
    owner, other_tab = await connect(), await connect()
    await owner.start("s", params={"max_tokens": 30})
    first = await deltas_until(owner, "s", 2)
    conversation = first[0]["conversation"]
    await other_tab.send({"type": "watch", "conversation": conversation})
    await other_tab.send({"type": "chat.attach", "stream": "s"})
    theirs = await other_tab.until_end("s")
    mine = first + await owner.until_end("s")
    assert [d["i"] for d in deltas_of(theirs, "s")] == list(range(30))
    assert [d["i"] for d in deltas_of(mine, "s")] == list(range(30))
    # Once attached, the second socket gets the stream's frames directly: a watched copy may still come of
    # what was already on its way (the snapshot has it), never of a frame sent after the attach.
    attached_at = next(n for n, f in enumerate(theirs) if f["type"] == "chat.attached")
    late = [f for f in expand(theirs[attached_at:]) if f.get("watching")]
    assert all(f["type"] == "chat.delta" and f["i"] <= theirs[attached_at]["i"] for f in late), late
    assert theirs[-1]["message_id"] == mine[-1]["message_id"]


async def test_another_user_can_neither_attach_nor_stop(connect: Any, emulator: Any) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=200)
    owner = await connect()
    stranger = await connect(await other_users_cookie())
    await owner.start("s", params={"max_tokens": 40})
    await deltas_until(owner, "s", 1)
    await stranger.send({"type": "chat.attach", "stream": "s"})
    refused = await stranger.receive()
    assert (refused["type"], refused["code"], refused["param"]) == ("chat.error", "not_found", "stream")
    await stranger.send({"type": "chat.stop", "stream": "s"})
    done = (await owner.until_end("s"))[-1]
    assert (done["type"], done["status"]) == ("chat.done", "done")


async def test_a_finished_stream_is_freed_without_waiting_for_the_garbage_collector(connect: Any) -> None:
    # A stream and its session referred to each other, and httpx's response and its body did too: every
    # finished stream, its record and its frames waited for a full collection, a pause for every stream.
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        sock = await connect()
        await sock.start("s", params={"max_tokens": 20})
        assert (await sock.until_end("s"))[-1]["type"] == "chat.done"
        await asyncio.sleep(0.2)  # the stream's task lets its live watchers go after its last frame
        gc.collect()
        left = {type(o).__name__ for o in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not left & {"StreamRun", "StreamSession", "StreamRecord", "Response", "BoundAsyncStream"}
