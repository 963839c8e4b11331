"""The upstream transport (aiohttp under httpx) against real sockets: each way a server can fail reaches
the client as the error it means, and nothing one reply sets is sent again."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from proxy.client.client import UpstreamClient
from proxy.client.errors import UpstreamConnectionError, UpstreamProtocolError, UpstreamTimeout
from proxy.client.events import Delta
from proxy.client.transport import REQUEST_SENT

BODY: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def server(reply: Reply) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A loopback server answering each connection with ``reply``; yields its URL and the requests it read
    (each head with its body)."""
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length")
                    ),
                    0,
                )
                heads[-1] += await reader.readexactly(length)
                await reply(reader, writer)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", heads
    finally:
        srv.close()


def sse_reply(*lines: bytes, cookie: bool = False, cut: bool = False) -> Reply:
    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n"
        if cookie:
            head += b"set-cookie: session=abc123; Path=/\r\n"
        writer.write(head + b"\r\n")
        for line in lines:
            writer.write(b"%x\r\n%s\r\n" % (len(line), line))
            await writer.drain()
        if cut:
            writer.close()
            return
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    return reply


HELLO = b'data: {"choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}\n\n'
END = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


async def run(client: UpstreamClient) -> list[Any]:
    events = []
    try:
        async for event in client.stream_chat(BODY):
            events.append(event)
    finally:
        await client.aclose()
    return events


async def test_a_refused_connection_is_a_connection_error_not_a_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UpstreamConnectionError) as info:
        await run(UpstreamClient(base_url=f"http://127.0.0.1:{port}/v1"))
    assert info.value.code == "connection_error" and "Could not connect" in info.value.message
    assert info.value.message.endswith(": Connection refused")


async def test_a_server_that_hangs_up_before_answering() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with server(hang_up) as (url, _):
        with pytest.raises(UpstreamConnectionError) as info:
            await run(UpstreamClient(base_url=url))
    assert "closed the connection before answering" in info.value.message
    assert "Server" not in info.value.message.split(":", 1)[1]  # aiohttp's own class names stay out


async def test_a_reply_that_is_not_http() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        writer.close()

    async with server(garbage) as (url, _):
        with pytest.raises((UpstreamConnectionError, UpstreamProtocolError)) as info:
            await run(UpstreamClient(base_url=url))
    assert "127.0.0.1" in info.value.message
    assert "not valid HTTP" in info.value.message
    # It did answer: the message must not say it closed the connection first, nor offer a retry.
    assert "closed the connection" not in info.value.message and not info.value.retryable


async def test_a_cut_in_the_middle_keeps_what_came_before() -> None:
    async with server(sse_reply(HELLO, cut=True)) as (url, _):
        client = UpstreamClient(base_url=url)
        seen: list[Any] = []
        with pytest.raises(UpstreamConnectionError) as info:
            async for event in client.stream_chat(BODY):
                seen.append(event)
        await client.aclose()
    assert info.value.code == "stream_cut"
    assert [e.content for e in seen if isinstance(e, Delta)] == ["Hello"]
    assert info.value.message.endswith("before the body was complete")  # no parser internals
    assert "TransferEncodingError" not in info.value.message


async def test_a_cut_keeps_what_came_before_even_when_the_reader_is_behind() -> None:
    # The text and the cut arrive while the relay is busy (another stream, a database write): aiohttp
    # raises the cut before the bytes it had buffered, and the text the server sent was lost.
    async with server(sse_reply(HELLO, HELLO, cut=True)) as (url, _):
        client = UpstreamClient(base_url=url)
        batches = client.stream_batches(BODY)
        opened = await anext(batches)
        await asyncio.sleep(0.3)  # everything, the cut included, has arrived
        seen: list[Any] = []
        with pytest.raises(UpstreamConnectionError) as info:
            async for batch in batches:
                seen += batch
        await client.aclose()
    assert opened[0].status == 200 and info.value.code == "stream_cut"
    assert [e.content for e in seen if isinstance(e, Delta)] == ["Hello", "Hello"]


async def test_a_connect_timeout_is_a_timeout() -> None:
    # A listening socket whose accept queue is full never completes the handshake in time.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(0)
        port = sock.getsockname()[1]
        fillers = []
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        try:
            client = UpstreamClient(base_url=f"http://127.0.0.1:{port}/v1", connect_timeout=0.3)
            with pytest.raises(UpstreamTimeout) as info:
                await run(client)
        finally:
            for filler in fillers:
                filler.close()
    assert info.value.code == "connect_timeout" and "0.3 s" in info.value.message


async def test_a_cookie_one_reply_sets_is_not_sent_with_the_next_request() -> None:
    async with server(sse_reply(HELLO, END, cookie=True)) as (url, heads):
        client = UpstreamClient(base_url=url)
        for _ in range(2):
            async for _event in client.stream_chat(BODY):
                pass
        await client.aclose()
    assert len(heads) == 2
    assert b"cookie" not in heads[1].lower().replace(b"set-cookie", b"")


def self_signed(tmp_path: Any) -> tuple[str, str]:
    """A certificate for 127.0.0.1 that no authority signed, and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


async def test_a_certificate_nobody_vouches_for_is_refused(tmp_path: Any) -> None:
    """TLS is verified: an upstream whose certificate no authority signed gets no request (and no key)."""
    import ssl

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = srv.sockets[0].getsockname()[1]
    try:
        with pytest.raises(UpstreamConnectionError) as info:
            await run(UpstreamClient(base_url=f"https://127.0.0.1:{port}/v1", api_key="fw_SECRET_KEY_123"))
    finally:
        srv.close()
    assert info.value.code == "connection_error" and "Could not connect" in info.value.message
    assert info.value.message.endswith("its TLS certificate was not accepted (self-signed certificate)")
    assert "fw_SECRET_KEY_123" not in info.value.message
    assert heads == []


async def test_a_request_tells_its_caller_when_its_body_has_left() -> None:
    # StreamRun waits for this before it opens the run on a thread (proxy/stream.py): a thread started
    # earlier held the interpreter and the request left only after the thread's work.
    sent = asyncio.Event()
    when_the_server_read_it: list[bool] = []
    answer = sse_reply(HELLO, END)

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        when_the_server_read_it.append(sent.is_set())
        await answer(reader, writer)

    async with server(reply) as (url, heads):
        client = UpstreamClient(base_url=url)
        events = client.stream_batches(BODY)
        told = REQUEST_SENT.set(sent)
        try:
            first = asyncio.ensure_future(anext(events))  # the task sees the event; this code no longer does
        finally:
            REQUEST_SENT.reset(told)
        await asyncio.wait_for(sent.wait(), 5)
        assert REQUEST_SENT.get() is None
        await first
        rest = [event async for batch in events for event in batch]
        await client.aclose()
    assert when_the_server_read_it == [True] and len(heads) == 1
    assert [event.content for event in rest if isinstance(event, Delta)] == ["Hello"]


async def test_a_request_without_a_caller_waiting_sends_as_before() -> None:
    async with server(sse_reply(HELLO, END)) as (url, _):
        events = await run(UpstreamClient(base_url=url))
    assert [event.content for event in events if isinstance(event, Delta)] == ["Hello"]


@pytest.mark.parametrize(("keepalive", "connections"), [(0.1, 2), (30.0, 1)])
async def test_an_idle_connection_is_kept_for_the_next_request(keepalive: float, connections: int) -> None:
    # A user reads a reply, then sends the next prompt: kept (FIREWORKS_KEEPALIVE_SECONDS, 30 s by
    # default), the connection is reused rather than opened again (with a TLS handshake, upstream).
    opened: list[int] = []
    answer = sse_reply(HELLO, END)

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[1]
        if peer not in opened:
            opened.append(peer)
        await answer(reader, writer)

    async with server(reply) as (url, heads):
        client = UpstreamClient(base_url=url, keepalive=keepalive)
        for _ in range(2):
            assert [e.content async for e in client.stream_chat(BODY) if isinstance(e, Delta)] == ["Hello"]
            await asyncio.sleep(0.6)
        await client.aclose()
    assert len(heads) == 2 and len(opened) == connections


async def test_a_kept_connection_the_server_closed_as_the_request_left_is_tried_once_more() -> None:
    # The race of keeping connections: the server times an idle connection out just as the next prompt
    # is sent on it, and closes it without reading the request. The request goes again, once, on a new
    # connection, and the user gets the reply instead of "closed the connection before answering".
    answered: dict[int, int] = {}
    answer = sse_reply(HELLO, END)

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[1]
        answered[peer] = answered.get(peer, 0) + 1
        if answered[peer] == 2:
            writer.close()  # the second request on the first connection: closed, not answered
            return
        await answer(reader, writer)

    async with server(reply) as (url, heads):
        client = UpstreamClient(base_url=url, keepalive=30.0)
        try:
            for _ in range(2):
                events = [e async for e in client.stream_chat(BODY)]
                assert [e.content for e in events if isinstance(e, Delta)] == ["Hello"]
        finally:
            await client.aclose()
    # The first request, the second on the kept connection, and the second again on a new one.
    assert len(heads) == 3 and len(answered) == 2
    assert heads[1] == heads[2] and json.loads(heads[2].split(b"\r\n\r\n", 1)[1]) == BODY


async def test_a_request_on_a_new_connection_is_not_sent_twice() -> None:
    # A server that hangs up on a connection opened for this request may have acted on it: no retry.
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async with server(hang_up) as (url, heads):
        with pytest.raises(UpstreamConnectionError):
            await run(UpstreamClient(base_url=url))
    assert len(heads) == 1
