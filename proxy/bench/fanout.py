"""The benchmark's fan-out mode: one stream watched live by N viewers (``manage.py bench --fanout``), and
its arena mode (``manage.py bench --arena``): one arena round, two configurations streaming at once, watched
by N audience phones on ``/ws/arena/`` (signed out, through the link) and by the stage (the presenter's
socket, which sends the round). Each delta's arrival at a phone is compared with its arrival at the stage.

Run as ``python -m proxy.bench.fanout`` with one JSON job on stdin (the same job fields as
``proxy.bench.client``, plus ``viewers``); it prints one JSON result. One socket owns the stream; N more
sockets of the same user ``watch`` its conversation. Every socket lives in this one client process, so
each chunk's arrival at a viewer is compared with its arrival at the owner on the same clock: the
difference is the latency live watching adds (the channel layer's group send, the watcher's consumer, its
websocket write, and this process reading N+1 sockets). It imports neither Django nor Channels;
``proxy.bench.report.summarise_fanout`` does the arithmetic.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from proxy.bench.client import chat_body, delta_items, open_sockets, server_cpu_seconds


async def owner_stream(ws: ClientConnection, job: dict[str, Any], conversation: int | None) -> dict[str, Any]:
    """Run one stream (on the conversation, if any); each delta's arrival time by index."""
    body = chat_body(job, 0)
    frame: dict[str, Any] = {
        "type": "chat.start",
        "stream": "fan",
        "mode": "chat",
        "model": body["model"],
        "messages": body["messages"],
        "params": {"max_tokens": job["max_tokens"] if conversation else 2},
    }
    if conversation is not None:
        frame["conversation"] = conversation
    await ws.send(json.dumps(frame))
    record: dict[str, Any] = {"arrivals": {}, "conversation": None, "end": None}
    async for message in ws:
        now = time.time()
        got = json.loads(message)
        if got.get("watching"):
            continue
        if got["type"] == "chat.started":
            record["conversation"] = got["conversation"]
        for item in delta_items(got):
            record["arrivals"][item["i"]] = now
        if got["type"] in ("chat.done", "chat.error"):
            record["end"] = got["type"]
            return record
    return record


async def viewer(ws: ClientConnection, conversation: int, ready: asyncio.Event) -> dict[str, Any]:
    """Watch the conversation until the stream ends; each delta's arrival time and index, in order."""
    await ws.send(json.dumps({"type": "watch", "conversation": conversation}))
    record: dict[str, Any] = {"ok": False, "chunks": [], "end": None}
    async for message in ws:
        now = time.time()
        got = json.loads(message)
        if got["type"] in ("watch.ok", "chat.error") and not ready.is_set():
            record["ok"] = got["type"] == "watch.ok"
            ready.set()
            if not record["ok"]:
                return record
        if not got.get("watching"):
            continue
        for item in delta_items(got):
            record["chunks"].append([now, item["i"]])
        if got["type"] in ("chat.done", "chat.error"):
            record["end"] = got["type"]
            return record
    return record


async def run_fanout(job: dict[str, Any]) -> dict[str, Any]:
    """One stream on a conversation, watched by ``viewers`` other sockets; arrival times on both sides."""
    pid = job["server_pids"]
    sockets = await open_sockets(job, job["viewers"] + 1)
    owner, watchers = sockets[0], sockets[1:]
    try:
        async with asyncio.timeout(job["timeout"]):
            setup = await owner_stream(owner, job, None)  # a short first stream makes the conversation
            conversation = setup["conversation"]
            ready = [asyncio.Event() for _ in watchers]
            pairs = zip(watchers, ready, strict=True)
            watching = [asyncio.create_task(viewer(ws, conversation, ev)) for ws, ev in pairs]
            await asyncio.gather(*(r.wait() for r in ready))  # every viewer has joined before the stream
            await asyncio.sleep(0.3)
            cpu_before = server_cpu_seconds(pid)
            record = await owner_stream(owner, job, conversation)
            views = await asyncio.gather(*watching)
            cpu_after = server_cpu_seconds(pid)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {"owner": record, "viewers": views, "server_cpu_s": cpu_after - cpu_before}


# --- arena mode -----------------------------------------------------------------------------------


async def arena_sockets(job: dict[str, Any], count: int) -> list[ClientConnection]:
    """``count`` signed-out sockets on ``/ws/arena/`` (the audience's phones), at most 50 opening at once."""
    gate = asyncio.Semaphore(50)

    async def one() -> ClientConnection:
        async with gate:
            return await connect(
                job["arena_ws_url"],
                additional_headers={"Origin": job["origin"]},
                compression=None,
                max_size=2**24,
                open_timeout=30,
            )

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def arena_viewer(ws: ClientConnection, join: dict[str, Any], ready: asyncio.Event) -> dict[str, Any]:
    """Join the arena; record each delta's arrival (time, "<stream>/<i>") until the round opens for votes."""
    await ws.send(json.dumps(join))
    record: dict[str, Any] = {"ok": False, "chunks": [], "end": None, "slots": 0}
    async for message in ws:
        now = time.time()
        got = json.loads(message)
        if got["type"] in ("arena.state", "chat.error") and not ready.is_set():
            record["ok"] = got["type"] == "arena.state"
            ready.set()
            if not record["ok"]:
                record["end"] = got.get("message")
                return record
            continue
        for item in delta_items(got):
            # Arrival here, and ``t``: when the server's relay made the frame (ms since its upstream request).
            record["chunks"].append([now, f"{got['stream']}/{item['i']}", item["t"]])
        if got["type"] == "arena.slot":
            record["slots"] += 1
        if got["type"] == "arena.prompt" and got["status"] == "voting":
            record["end"] = "voting"
            return record
        if got["type"] == "chat.error":
            record["end"] = got.get("message")
            return record
    return record


async def run_arena(job: dict[str, Any]) -> dict[str, Any]:
    """One arena round sent by the stage, watched by ``viewers`` phones: arrival times on every socket."""
    pid = job["server_pids"]
    stage_job = {**job, "ws_url": job["arena_ws_url"]}
    (stage,) = await open_sockets(stage_job, 1)
    phones = await arena_sockets(job, job["viewers"]) if job["viewers"] else []
    try:
        async with asyncio.timeout(job["timeout"]):
            ready = [asyncio.Event() for _ in range(len(phones) + 1)]
            # The stage joins first: its process hands it each frame before the phones (as on stage).
            stage_view = asyncio.create_task(
                arena_viewer(stage, {"type": "arena.join", "arena": job["arena_id"]}, ready[0])
            )
            await ready[0].wait()
            watching = [
                asyncio.create_task(arena_viewer(ws, {"type": "arena.join", "token": job["arena_token"]}, ev))
                for ws, ev in zip(phones, ready[1:], strict=True)
            ]
            await asyncio.gather(*(r.wait() for r in ready))  # every phone has joined before the round
            await asyncio.sleep(0.3)
            cpu_before = server_cpu_seconds(pid)
            sent = time.time()
            await stage.send(json.dumps({"type": "arena.send", "prompt": 0}))
            record = await stage_view
            views = await asyncio.gather(*watching)
            cpu_after = server_cpu_seconds(pid)
    finally:
        await asyncio.gather(stage.close(), *(ws.close() for ws in phones), return_exceptions=True)
    return {"stage": record, "sent": sent, "viewers": views, "server_cpu_s": cpu_after - cpu_before}


def main() -> None:
    """Read a job from stdin, run it, print the result as JSON."""
    job = json.load(sys.stdin)
    run = run_arena if job.get("kind") == "arena" else run_fanout
    json.dump(asyncio.run(run(job)), sys.stdout)


if __name__ == "__main__":
    main()
