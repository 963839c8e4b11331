"""The benchmark's fan-out mode: one stream watched live by N viewers (``manage.py bench --fanout``).

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

from websockets.asyncio.client import ClientConnection

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


def main() -> None:
    """Read a job from stdin, run it, print the result as JSON."""
    job = json.load(sys.stdin)
    json.dump(asyncio.run(run_fanout(job)), sys.stdout)


if __name__ == "__main__":
    main()
