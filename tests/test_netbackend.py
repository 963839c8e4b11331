"""proxy.netbackend: the upstream client's connections on plain asyncio (plain TCP and TLS).

The emulator tests in test_upstream.py go through it too (streams, cuts, refused connections, timeouts).
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from proxy.netbackend import AsyncioBackend
from proxy.upstream import UpstreamClient, asyncio_transport

BODY = b"data: one\n\ndata: two\n\n"
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer each request on the connection (kept alive) with a chunked event stream."""
    while True:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            break
        writer.write(HEAD)
        for line in BODY.split(b"\n\n")[:-1]:
            part = line + b"\n\n"
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    writer.close()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(
            [
                *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
                *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
                *("-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("openssl cannot make a test certificate here")
    return cert, key


async def test_the_default_client_uses_the_asyncio_backend() -> None:
    client = UpstreamClient(base_url="http://127.0.0.1:1/v1")
    try:
        pool = client._client._transport._pool  # type: ignore[attr-defined]
        assert isinstance(pool._network_backend, AsyncioBackend)
    finally:
        await client.aclose()


async def test_plain_tcp_and_tls(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    plain = await asyncio.start_server(serve, "127.0.0.1", 0)
    tls = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_tls)
    client_tls = ssl.create_default_context(cafile=str(cert))
    limits = httpx.Limits(max_connections=10)
    try:
        for server, scheme in ((plain, "http"), (tls, "https")):
            port = server.sockets[0].getsockname()[1]
            transport = asyncio_transport(limits, verify=client_tls)
            async with httpx.AsyncClient(transport=transport) as client:
                streams = []
                for _ in range(2):  # the second request reuses the pooled connection
                    async with client.stream("GET", f"{scheme}://localhost:{port}/") as response:
                        body = b"".join([chunk async for chunk in response.aiter_raw()])
                        streams.append(response.extensions["network_stream"])
                    assert response.status_code == 200 and body == BODY
                assert streams[0] is streams[1]
                if scheme == "https":
                    assert streams[0].get_extra_info("ssl_object") is not None
    finally:
        for server in (plain, tls):
            server.close()
            await server.wait_closed()
