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
write on a thread) can wait until the request's bytes are on the socket; one more try of a request
that a kept connection lost before any answer (``_retry_stale``); and a spare connection, opened while
streams start side by side, so that the next one finds a connection ready (``UpstreamTransport``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from types import SimpleNamespace

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from yarl import URL

logger = logging.getLogger(__name__)


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


class UpstreamTransport(AiohttpTransport):
    """aiohttp under httpx: one connection pool, no cookies kept, errors as httpx's own, and a spare
    connection while streams start side by side.

    A stream that finds no idle connection opens one before its request can leave: on loopback 1-4 ms
    of a busy event loop, upstream a TCP and TLS handshake (tens of milliseconds). So when a request has
    left on a connection while another is in use too, and none is left idle, one more is opened in the
    background (after the request's bytes are written, so it never delays them) and kept in the pool for
    the next stream. A lone user's request, with no other in flight, opens none.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._spare: asyncio.Task[None] | None = None

    def get_client(self) -> aiohttp.ClientSession:
        # Called on the first request, inside the event loop the session then belongs to.
        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry,
            ssl=self.ssl_context,
        )
        trace = aiohttp.TraceConfig()
        trace.on_request_chunk_sent.append(self._request_sent)
        trace.on_connection_reuseconn.append(_connection_reused)
        trace.freeze()
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=[trace],
            middlewares=(_retry_stale,),
        )

    async def _request_sent(
        self,
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestChunkSentParams,
    ) -> None:
        await _request_sent(session, ctx, params)
        if self._spare is None and self._spare_wanted(session, params.url):
            self._spare = asyncio.get_running_loop().create_task(self._open_spare(session, params.url))

    @staticmethod
    def _spare_wanted(session: aiohttp.ClientSession, url: URL) -> bool:
        """No idle connection to ``url``'s server is left, and more than one is in use (aiohttp's pool
        state; without it, no spare)."""
        connector = session.connector
        idle = getattr(connector, "_conns", None)
        in_use = getattr(connector, "_acquired", None)
        if not isinstance(idle, dict) or in_use is None or session.closed:
            return False
        server = (url.raw_host, url.port)
        ready = any(
            kept and (getattr(key, "host", None), getattr(key, "port", None)) == server
            for key, kept in idle.items()
        )
        return len(in_use) > 1 and not ready

    async def _open_spare(self, session: aiohttp.ClientSession, url: URL) -> None:
        try:
            connector = session.connector
            assert connector is not None
            request = aiohttp.ClientRequest(
                "POST", url.origin(), loop=asyncio.get_running_loop(), session=session
            )
            connection = await connector.connect(request, [], session.timeout)
            connection.release()  # into the pool, idle, for the next request
        except Exception as exc:  # a spare that could not be opened costs nothing but its try
            logger.debug("A spare upstream connection could not be opened: %r", exc)
        finally:
            self._spare = None

    async def aclose(self) -> None:
        spare, self._spare = self._spare, None
        if spare is not None:
            spare.cancel()
            await asyncio.gather(spare, return_exceptions=True)
        await super().aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _as_httpx_errors():
            response: httpx.Response = await super().handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Body(response.stream)
        return response
