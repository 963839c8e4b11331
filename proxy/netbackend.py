"""An httpcore network backend on plain asyncio transports, for the upstream client's hot read path.

httpcore's default backend goes through anyio: every read of a streamed body opens a cancel scope
(``fail_after``), asks sniffio which library runs, and resumes then pauses the socket's reader (two
epoll changes), and every pooled connection's expiry check polls its socket. Under load that was about
a fifth of the server's event-loop time per relayed chunk (README, "Benchmark"). Here a protocol keeps
what the socket delivers in a buffer; a read takes what is buffered or waits for more, with no timer
unless a timeout is given. Errors are httpcore's own (ConnectError, ReadError, …), as with anyio, so
httpx and ``proxy.upstream`` see the same exceptions.
"""

# ruff: noqa: ASYNC109  (the timeout parameters are httpcore's interface)
from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
from httpcore import (
    ConnectError,
    ConnectTimeout,
    ReadError,
    ReadTimeout,
    WriteError,
    WriteTimeout,
)

# Stop reading the socket while this much is buffered and unread (the relay is behind); go on below it.
HIGH_WATER = 1 << 20


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.eof = False
        self.error: BaseException | None = None
        self.paused_reading = False
        self.write_paused = False
        self.drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None and not self.paused_reading:
            self.paused_reading = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.drain_waiter is not None and not self.drain_waiter.done():
            self.drain_waiter.set_result(None)

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: reads from the protocol's buffer, writes to the transport."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        while not protocol.buffer:
            if protocol.eof:
                if protocol.error is not None:
                    raise ReadError(str(protocol.error) or repr(protocol.error))
                return b""
            protocol.waiter = asyncio.get_running_loop().create_future()
            try:
                if timeout is None:
                    await protocol.waiter
                else:
                    await asyncio.wait_for(protocol.waiter, timeout)
            except TimeoutError:
                raise ReadTimeout("timed out reading") from None
            finally:
                protocol.waiter = None
        data = bytes(protocol.buffer[:max_bytes])
        del protocol.buffer[:max_bytes]
        if protocol.paused_reading and len(protocol.buffer) <= HIGH_WATER // 2:
            protocol.paused_reading = False
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.eof or self._transport.is_closing():
            raise WriteError("the connection is closed")
        try:
            self._transport.write(buffer)
        except (OSError, RuntimeError) as exc:
            raise WriteError(str(exc)) from None
        if protocol.write_paused:
            protocol.drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(protocol.drain_waiter, timeout)
            except TimeoutError:
                raise WriteTimeout("timed out writing") from None
            finally:
                protocol.drain_waiter = None
            if protocol.eof:
                raise WriteError("the connection closed while writing")

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError:
            self._transport.close()
            raise ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise ConnectError(str(exc)) from None
        if transport is None:  # pragma: no cover - only for a transport that cannot start TLS
            raise ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # httpcore asks this of an idle pooled connection: data or EOF there means the server closed it.
            return bool(self._protocol.buffer) or self._protocol.eof
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens :class:`AsyncioStream` connections (TCP or a unix socket)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(_Protocol, host, port, local_addr=local)
        except TimeoutError:
            raise ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            raise ConnectError(str(exc)) from None
        return self._stream(transport, protocol, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_Protocol, path)
        except TimeoutError:
            raise ConnectTimeout(f"timed out connecting to {path}") from None
        except OSError as exc:
            raise ConnectError(str(exc)) from None
        return self._stream(transport, protocol, socket_options)

    def _stream(
        self, transport: asyncio.BaseTransport, protocol: _Protocol, options: Iterable[Any] | None
    ) -> AsyncioStream:
        assert isinstance(transport, asyncio.Transport)
        sock = transport.get_extra_info("socket")  # asyncio has set TCP_NODELAY already
        if sock is not None:
            for option in options or ():
                sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
