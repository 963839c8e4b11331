"""The benchmark's client process: drives streams and records when each chunk arrived (``manage.py bench``).

Run as ``python -m proxy.bench.client`` with one JSON job on stdin; it prints one JSON result. Jobs:
``direct`` (httpx straight to the emulator, on the proxy's own transport), ``proxy`` (one websocket
per stream through the playground), ``idle`` (many open sockets doing nothing) and ``stop`` (streams
stopped after a few chunks). Times are
wall-clock (``time.time()``), the clock the emulator stamps its schedule with. It also reads the
server's CPU time and memory from ``/proc``, so that the figures cover the streaming only.
It imports neither Django nor Channels.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from proxy.client.client import prepare_body
from proxy.client.transport import UpstreamTransport

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def server_cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of the server's processes, from ``/proc/<pid>/stat``."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / CLOCK_TICKS


def server_rss_kb(pids: list[int]) -> int:
    """Resident memory of the server's processes in KiB, from ``/proc/<pid>/status``."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
    return total


def chat_body(job: dict[str, Any], k: int) -> dict[str, Any]:
    """The request of stream ``k``: its own prompt, so that a chunk relayed to the wrong stream shows."""
    return {
        "model": job["model"],
        "messages": [{"role": "user", "content": f"benchmark stream {k}"}],
        "max_tokens": job["max_tokens"],
    }


def start_delays(job: dict[str, Any]) -> list[float]:
    """When each stream starts, in seconds from the start of the run: spread evenly over the ramp."""
    n, ramp = job["streams"], job["ramp_ms"] / 1000
    return [ramp * k / n for k in range(n)]


# --- direct: httpx to the emulator -----------------------------------------------------------------


async def direct_stream(
    client: httpx.AsyncClient, job: dict[str, Any], k: int, delay: float
) -> dict[str, Any]:
    """One stream straight from the emulator; each content chunk with its arrival time and line index."""
    await asyncio.sleep(delay)
    record: dict[str, Any] = {"k": k, "sent": time.time(), "chunks": [], "error": None}
    try:
        body = prepare_body(chat_body(job, k))  # exactly what the proxy would send
        async with client.stream("POST", job["base_url"] + "/chat/completions", json=body) as r:
            record["request_id"] = r.headers.get("x-request-id")
            line_index = 0
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    break
                now = time.time()
                obj = json.loads(data)
                for choice in obj.get("choices") or []:
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        record["chunks"].append([now, len(record["chunks"]), content, line_index])
                line_index += 1
        if not record["chunks"]:
            record["error"] = f"no content chunks (status {r.status_code})"
    except Exception as exc:  # reported, never hidden: the run counts it as lost chunks
        record["error"] = repr(exc)
    return record


async def run_direct(job: dict[str, Any]) -> dict[str, Any]:
    """All streams of a level, straight to the emulator, over one pool sized for them."""
    limits = httpx.Limits(max_connections=job["streams"] + 10, max_keepalive_connections=job["streams"] + 10)
    # The transport the proxy itself uses upstream: the difference between the paths is the proxy's hop.
    transport = UpstreamTransport(limits=limits)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(30.0)) as client:
        async with asyncio.timeout(job["timeout"]):
            # Open the pool's connections first, as the websockets are opened before their streams.
            models = job["base_url"] + "/models"
            await asyncio.gather(*(client.get(models) for _ in range(job["streams"])))
            tasks = [direct_stream(client, job, k, d) for k, d in enumerate(start_delays(job))]
            records = await asyncio.gather(*tasks)
    return {"streams": records}


# --- proxy: websockets through the playground --------------------------------------------------------


async def open_sockets(job: dict[str, Any], count: int, spread: bool = False) -> list[ClientConnection]:
    """``count`` signed-in websockets, opened at most 50 at a time: all one user's, or with ``spread``
    the users' in turn (a user may run 32 streams at once)."""
    gate = asyncio.Semaphore(50)
    sessions = (job.get("sessions") or [job["session"]]) if spread else [job["session"]]

    async def one(k: int) -> ClientConnection:
        headers = {"Cookie": f"sessionid={sessions[k % len(sessions)]}", "Origin": job["origin"]}
        async with gate:
            return await connect(
                job["ws_url"], additional_headers=headers, compression=None, max_size=2**24, open_timeout=30
            )

    async with asyncio.timeout(job["timeout"]):
        return list(await asyncio.gather(*(one(k) for k in range(count))))


def delta_items(frame: dict[str, Any]) -> list[dict[str, Any]]:
    """The deltas of a ``chat.delta`` or ``chat.deltas`` frame, in order."""
    if frame["type"] == "chat.delta":
        return [frame]
    if frame["type"] == "chat.deltas":
        return list(frame["items"])
    return []


async def proxy_stream(
    ws: ClientConnection, job: dict[str, Any], k: int, delay: float, stop_after: int | None = None
) -> dict[str, Any]:
    """One stream through the playground: deltas (arrival, i, content), ids, and how it ended."""
    await asyncio.sleep(delay)
    sid = f"b{k}"
    body = chat_body(job, k)
    frame = {
        "type": "chat.start",
        "stream": sid,
        "mode": "chat",
        "model": body["model"],
        "messages": body["messages"],
        "params": {"max_tokens": job["max_tokens"]},
    }
    record: dict[str, Any] = {"k": k, "chunks": [], "error": None, "status": None, "frames": 0}
    record["sent"] = time.time()
    await ws.send(json.dumps(frame))
    async for message in ws:
        now = time.time()
        got = json.loads(message)
        record["frames"] += 1
        kind = got.get("type")
        if kind == "chat.opened":
            record["request_id"] = got.get("request_id")
        for item in delta_items(got):
            record["chunks"].append([now, item["i"], item.get("content") or "", item["t"]])
        if stop_after is not None and len(record["chunks"]) >= stop_after and "stop_sent" not in record:
            record["stop_sent"] = time.time()
            await ws.send(json.dumps({"type": "chat.stop", "stream": sid}))
        if kind == "chat.done":
            record["status"] = got.get("status")
            break
        if kind == "chat.error":
            record["error"] = f"{got.get('code')}: {got.get('message')}"
            break
    return record


async def sample_rss(pid: list[int], into: list[int], stop: asyncio.Event) -> None:
    """Sample the server's RSS every 100 ms until told to stop."""
    while not stop.is_set():
        into.append(server_rss_kb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def run_proxy(job: dict[str, Any], stop_after: int | None = None) -> dict[str, Any]:
    """All streams of a level through the playground, one socket each; server CPU and RSS around them."""
    pid = job["server_pids"]
    sockets = await open_sockets(job, job["streams"], spread=True)
    try:
        await asyncio.sleep(0.2)  # let the server settle after the handshakes
        rss_before, cpu_before = server_rss_kb(pid), server_cpu_seconds(pid)
        samples: list[int] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_rss(pid, samples, stop))
        async with asyncio.timeout(job["timeout"]):
            tasks = [
                proxy_stream(ws, job, k, d, stop_after)
                for k, (ws, d) in enumerate(zip(sockets, start_delays(job), strict=True))
            ]
            records = await asyncio.gather(*tasks)
        cpu_after = server_cpu_seconds(pid)
        stop.set()
        await sampler
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {
        "streams": records,
        "server_cpu_s": cpu_after - cpu_before,
        "server_rss_before_kb": rss_before,
        "server_rss_peak_kb": max(samples, default=rss_before),
    }


async def run_idle(job: dict[str, Any]) -> dict[str, Any]:
    """Server RSS with no extra sockets, then with ``sockets`` idle ones open."""
    pid = job["server_pids"]
    await asyncio.sleep(0.5)
    before = server_rss_kb(pid)
    sockets = await open_sockets(job, job["sockets"], spread=True)
    try:
        await asyncio.sleep(1.0)
        after = server_rss_kb(pid)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return {"sockets": job["sockets"], "rss_before_kb": before, "rss_after_kb": after}


def main() -> None:
    """Read a job from stdin, run it, print the result as JSON."""
    job = json.load(sys.stdin)
    runners: dict[str, Callable[[dict[str, Any]], Coroutine[Any, Any, dict[str, Any]]]] = {
        "direct": run_direct,
        "proxy": run_proxy,
        "idle": run_idle,
        "stop": lambda j: run_proxy(j, stop_after=j["stop_after"]),
    }
    result = asyncio.run(runners[job["kind"]](job))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
