"""The HTTP transport under the upstream client: aiohttp's connection pool and C parser behind httpx's API.

``httpx_aiohttp.AiohttpTransport`` is the transport the OpenAI SDK offers for concurrent use
(``DefaultAioHttpClient``). Against httpx's own (httpcore over anyio, h11 in pure Python) it took the
upstream read path from 200-450 µs to 80-100 µs of CPU per streamed chunk at 100 concurrent streams
(README, Benchmark): httpcore's pool also scans every pooled connection, with a ``poll()`` of each idle
one, whenever a request starts or ends (encode/httpcore#1035). A read also hands over everything that
arrived, so chunks that wait under load come out together and go to the browser as one frame.

What this module adds to the library: its errors mapped to the httpx errors they mean (the library
turns a refused connection, or a server that hung up before answering, into ``ConnectTimeout``), and
no cookie jar, so that nothing one user's stream is told comes back on another's request; a way to
know when a request has left (``REQUEST_SENT``), so that work that would hold the interpreter (a database
write on a thread) can wait until the request's bytes are on the socket; and one more try of a request
that a kept connection lost before any answer (``_retry_stale``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from types import SimpleNamespace

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


def _reason(cause: aiohttp.ClientError) -> str:
    """What went wrong, in words (aiohttp's own texts repeat the host and name parser internals)."""
    if isinstance(cause, aiohttp.ClientConnectorCertificateError):
        error = cause.certificate_error
        detail = getattr(error, "verify_message", None) or getattr(error, "reason", None) or str(error)
        return f"its TLS certificate was not accepted ({detail})"
    if isinstance(cause, aiohttp.ClientSSLError):
        return f"the TLS handshake failed ({cause.os_error})"
    if isinstance(cause, aiohttp.ClientConnectorError):
        error = cause.os_error
        if isinstance(error, socket.gaierror):
            return error.strerror or str(error)  # an unknown host
        return os.strerror(error.errno) if error.errno and error.errno > 0 else str(error)
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return "disconnected"
    if isinstance(cause, aiohttp.ClientPayloadError):
        return "the server closed the connection before the body was complete"
    if isinstance(cause, aiohttp.ClientResponseError):
        first_line = str(cause.message).strip().splitlines()[0].rstrip(":") if cause.message else ""
        return f"the reply is not valid HTTP ({first_line})" if first_line else "the reply is not valid HTTP"
    return str(cause) or type(cause).__name__


class NotHTTPError(httpx.RemoteProtocolError):
    """The server answered with bytes that are not an HTTP response (another service on that port)."""


def httpx_error(exc: BaseException) -> httpx.TransportError | None:
    """The httpx error an aiohttp failure (raw, or as the library re-raised it) stands for."""
    cause = exc if isinstance(exc, aiohttp.ClientError) else exc.__cause__
    if not isinstance(cause, aiohttp.ClientError):
        return None
    text = _reason(cause)
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(cause, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(text)
    if isinstance(cause, aiohttp.ClientConnectorError):  # refused, unknown host, TLS handshake
        return httpx.ConnectError(text)
    if isinstance(cause, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):  # a cut
        return httpx.RemoteProtocolError(text)
    if isinstance(cause, aiohttp.ClientResponseError):  # a reply that is not HTTP
        return NotHTTPError(text)
    if isinstance(cause, aiohttp.ClientOSError):  # reset, broken pipe
        return httpx.ReadError(text)
    if isinstance(cause, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return httpx.UnsupportedProtocol(text)
    return httpx.TransportError(text)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """Raise aiohttp's failures (whether the library mapped them or not) as the httpx errors they mean."""
    try:
        yield
    except (httpx.TransportError, aiohttp.ClientError) as exc:
        mapped = httpx_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def _left_unread(stream: httpx.AsyncByteStream) -> bytes:
    """The bytes aiohttp received but had not handed over when the connection failed.

    aiohttp's reader raises a failure (a cut) before the data it buffered, so the text a server sent
    just before cutting was lost whenever the relay read a moment late (busy with another stream).
    """
    content = getattr(getattr(stream, "_aiohttp_response", None), "content", None)
    read_nowait = getattr(content, "_read_nowait", None)  # the buffer, without the failure check
    if read_nowait is None or not getattr(content, "_buffer", None):
        return b""
    try:
        return bytes(read_nowait(-1))
    except Exception:
        return b""


class _Body(httpx.AsyncByteStream):
    """The response body, its read errors mapped like the request's."""

    def __init__(self, inner: httpx.AsyncByteStream) -> None:
        self.inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            try:
                async for chunk in self.inner:
                    yield chunk
            except Exception:
                left = _left_unread(self.inner)
                if left:
                    yield left  # what the server sent before the failure, then the failure
                raise

    async def aclose(self) -> None:
        # Releases the connection; one whose body was not read to its end is closed, not reused.
        await self.inner.aclose()


# Set by a caller before it starts the task that sends a request (a task copies the context it is made
# in); the transport sets the event when the request's body is handed to the socket (a request without
# a body never sets it: its caller also waits for the response or a time limit). A thread that
# starts before that holds the interpreter's lock, and the event loop waits for it to switch (5 ms at
# most by default) before it can write the request: the request then left only after the thread's work.
REQUEST_SENT: ContextVar[asyncio.Event | None] = ContextVar("request_sent", default=None)


async def _request_sent(_session: aiohttp.ClientSession, _ctx: SimpleNamespace, _params: object) -> None:
    # aiohttp calls this just before it writes the body, in the same step: by the time a waiter on the
    # event runs, the bytes are written.
    event = REQUEST_SENT.get()
    if event is not None:
        event.set()


# Set by ``_retry_stale`` around one attempt of a request: whether it went out on a kept connection.
_REUSED: ContextVar[list[bool] | None] = ContextVar("reused", default=None)


async def _connection_reused(_session: aiohttp.ClientSession, _ctx: SimpleNamespace, _params: object) -> None:
    reused = _REUSED.get()
    if reused is not None:
        reused.append(True)


async def _retry_stale(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """Send the request again, once, when a kept connection failed before any answer to it.

    A server closes an idle connection when its own keep-alive ends; a request written on it at that
    moment meets the close (a disconnect or a reset) before the server read it. aiohttp tries again only
    for idempotent methods, and every request here is a POST; this is the retry the OpenAI SDK makes
    (RFC 9112, 9.3.1). A request on a connection opened for it is never sent twice: a server that hung
    up on it may have acted on it.
    """
    reused: list[bool] = []
    told = _REUSED.set(reused)
    try:
        return await handler(request)
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        if not reused or isinstance(exc, aiohttp.ClientConnectorError):
            raise
    finally:
        _REUSED.reset(told)
    return await handler(request)


def _trace_config() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(_request_sent)
    trace.on_connection_reuseconn.append(_connection_reused)
    trace.freeze()
    return trace


class UpstreamTransport(AiohttpTransport):
    """aiohttp under httpx: one connection pool, no cookies kept, errors as httpx's own."""

    def get_client(self) -> aiohttp.ClientSession:
        # Called on the first request, inside the event loop the session then belongs to.
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=[_trace_config()],
            middlewares=(_retry_stale,),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _as_httpx_errors():
            response: httpx.Response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream)
        return response
