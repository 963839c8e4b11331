"""A hostile upstream on loopback, through the real client and socket: every stream ends in an error that
keeps the text before it, nothing grows without bound, and no key it echoes reaches a frame or a record."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache

from playground.models import Run
from tests.frames import expand
from tests.proxy.conftest import API_KEY, Socket

pytestmark = pytest.mark.django_db(transaction=True)


def chunk(choices: list[dict[str, Any]] | None = None, **more: Any) -> bytes:
    body = {"id": "x", "object": "chat.completion.chunk", "choices": choices or [], **more}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def delta(index: Any = 0, **fields: Any) -> bytes:
    return chunk([{"index": index, "delta": fields, "finish_reason": None}])


HELLO = delta(content="Before ")


class HostileUpstream:
    """A loopback HTTP server answering every POST with 200, the given headers and body parts."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.headers: dict[str, str] = {}
        self.server: asyncio.Server | None = None
        self.closed = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        await reader.readexactly(length)
        headers = {"content-type": "text/event-stream", "transfer-encoding": "chunked", **self.headers}
        writer.write(
            b"HTTP/1.1 200 OK\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items()) + b"\r\n"
        )
        try:
            for part in self.parts:
                writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                await writer.drain()
                await asyncio.sleep(0.01)
            # Then keep the stream open (as a stalling server would) until the client closes it.
            while not reader.at_eof():
                writer.write(b"9\r\n: ping\n\n\n\r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed.set()
            writer.close()

    async def __aenter__(self) -> HostileUpstream:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/v1"


@pytest.fixture
async def hostile(upstream_settings: Any, close_upstream: None) -> AsyncIterator[HostileUpstream]:
    # After the sockets' own upstream settings (the emulator), so that this server is the one used.
    async with HostileUpstream() as upstream:
        upstream_settings.FIREWORKS_BASE_URL = upstream.base_url
        cache.clear()
        yield upstream


async def run_one(
    connect: Callable[..., Any], parts: list[bytes], upstream: HostileUpstream
) -> tuple[dict[str, Any], Run, list[dict[str, Any]]]:
    upstream.parts = parts
    ws: Socket = await connect()
    await ws.start("h")
    frames = expand(await asyncio.wait_for(ws.until_end("h"), 20))
    end = frames[-1]
    run = await database_sync_to_async(Run.objects.select_related("message").get)(pk=end["run"])
    await asyncio.wait_for(upstream.closed.wait(), 5)  # the upstream response was closed
    return end, run, frames


@pytest.mark.parametrize(
    ("parts", "says"),
    [
        ([HELLO, delta(index=3_000_000, content="x")], "choice index 3000000"),
        ([HELLO, delta(index=99_999_999_999, content="x")], "choice index 99999999999"),
        (
            [HELLO, delta(tool_calls=[{"index": "0", "function": {"arguments": "{}"}}])],
            "tool call with index '0'",
        ),
        (
            [HELLO, delta(tool_calls=[{"index": None, "function": {"arguments": "{}"}}])],
            "tool call with index None",
        ),
        ([HELLO, b"data: " + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"\n\n"], "nested deeper than 64"),
        ([HELLO, b"data: " + b"x" * (5 * 1024 * 1024)], "more than 4194304 bytes"),
    ],
    ids=["choice-3M", "choice-1e11", "tool-index-str", "tool-index-null", "deep-json", "endless-line"],
)
async def test_a_hostile_chunk_ends_the_stream_with_a_protocol_error_keeping_the_text(
    hostile: HostileUpstream, connect: Any, parts: list[bytes], says: str
) -> None:
    end, run, _ = await run_one(connect, parts, hostile)
    assert end["type"] == "chat.error" and end["code"] == "protocol_error", end
    assert says in end["message"]
    assert run.status == "error" and run.message is not None and run.message.content == "Before "
    assert [f["type"] for f in run.timeline][-1] == "chat.error"


async def test_a_key_the_upstream_echoes_reaches_no_frame_and_no_record(
    hostile: HostileUpstream, connect: Any
) -> None:
    hostile.headers = {"x-echo-authorization": f"Bearer {API_KEY}"}
    parts = [
        delta(content=f"Your key is {API_KEY}."),
        chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]),
        b"data: [DONE]\n\n",
    ]
    end, run, frames = await run_one(connect, parts, hostile)
    assert end["type"] == "chat.done"
    stored = json.dumps([run.timeline, run.output, run.response_headers, run.message.content])
    assert API_KEY not in stored and API_KEY not in json.dumps(frames)
    assert "Your key is [redacted]." in run.message.content
