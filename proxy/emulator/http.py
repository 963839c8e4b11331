"""ASGI plumbing for the emulator: reading the request, writing answers, waiting while watching for a
disconnect, and the fault-driven write patterns (split writes, abandoned responses)."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from proxy.emulator.api import ApiError, ModelInfo, error_body, invalid, model_not_found, resolve_model
from proxy.emulator.faults import split_points
from proxy.emulator.wire import common_headers

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# Set while the app deliberately abandons a response (the ``cut`` fault), so uvicorn's complaint about
# it is not logged as an error. uvicorn awaits the app in the same task, so the value is still visible.
_cutting: contextvars.ContextVar[bool] = contextvars.ContextVar("emulator_cutting", default=False)


class _CutFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_cutting.get() and "without completing response" in record.getMessage())


logging.getLogger("uvicorn.error").addFilter(_CutFilter())


def abandon_response() -> None:
    """Mark this response as deliberately left incomplete: returning now makes uvicorn close the socket."""
    _cutting.set(True)


async def read_body(receive: Receive) -> bytes:
    """Read the whole request body."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def disconnected(receive: Receive) -> float:
    """Wait for the client to go away; return when it did (``time.time()``)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return time.time()


async def send_response(
    send: Send, status: int, headers: list[tuple[str, str]], body: bytes, *, length: bool = True
) -> None:
    """Send a whole response (with its content-length unless ``length`` is false)."""
    if length:
        headers = [*headers, ("content-length", str(len(body)))]
    raw = [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any) -> None:
    """Send a small JSON answer from a control endpoint."""
    headers = [("content-type", "application/json"), ("x-playground-emulator", "1")]
    await send_response(send, status, headers, json.dumps(payload).encode())


async def send_head(send: Send, status: int, headers: list[tuple[str, str]]) -> None:
    """Send the status line and headers of a response whose body follows."""
    raw = [(k.encode(), v.encode()) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})


async def write(send: Send, data: bytes, split: bool) -> None:
    """Write part of the body, in one piece or (the ``split`` fault) in many tiny ones."""
    if not split:
        await send({"type": "http.response.body", "body": data, "more_body": True})
        return
    start = 0
    for point, pause in split_points(data):
        await send({"type": "http.response.body", "body": data[start:point], "more_body": True})
        start = point
        if pause:
            # Give the reader a chance to see the halves apart (inside a character, between the newlines).
            await asyncio.sleep(0.001)
    await send({"type": "http.response.body", "body": data[start:], "more_body": True})


async def wait_until(deadline: float, watcher: asyncio.Future[float]) -> bool:
    """Sleep until the loop time ``deadline``; True as soon as the client has gone away."""
    delay = deadline - asyncio.get_running_loop().time()
    if delay > 0 and not watcher.done():
        await asyncio.wait({watcher}, timeout=delay)
    return watcher.done()


async def send_error(
    send: Send, exc: ApiError, request_id: str, elapsed: float, fault: dict[str, Any] | None = None
) -> None:
    """Send an error answer: JSON, plain text or an empty body, with Fireworks' headers."""
    headers = common_headers(request_id if exc.request_id else None, elapsed)
    if fault and fault.get("retry_after") is not None:
        headers.append(("retry-after", str(fault["retry_after"])))
    if exc.body is None:
        await send_response(send, exc.status, headers, b"")
    elif isinstance(exc.body, str):
        await send_response(send, exc.status, [("content-type", "text/plain"), *headers], exc.body.encode())
    else:
        content_type = "application/json; charset=UTF-8" if exc.status == 404 else "application/json"
        await send_response(send, exc.status, [("content-type", content_type), *headers], dumps(exc.body))


def dumps(value: Any) -> bytes:
    """Encode JSON the way Fireworks does."""
    # Compact and raw UTF-8 like Fireworks' bodies, so that split writes can land inside a character.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def request_headers(scope: Scope) -> dict[str, str]:
    """The request headers, names lower-cased."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def redacted(headers: dict[str, str]) -> dict[str, str]:
    """Headers safe to log: the Authorization value is replaced."""
    return {k: "Bearer ***" if k == "authorization" else v for k, v in headers.items()}


def bad_key(headers: dict[str, str]) -> bool:
    """Whether the Authorization header carries a key the emulator refuses."""
    auth = headers.get("authorization")
    if auth is None:
        return False  # offline use needs no key
    scheme, _, token = auth.partition(" ")
    return scheme.lower() != "bearer" or token.strip() in ("", "fw_invalid")


def unauthorized(request_id: str) -> ApiError:
    """The 401 for a refused key, in the coded shape."""
    return ApiError(401, error_body(401, "coded", request_id))


def admitted_model(body: Any, headers: dict[str, str], request_id: str) -> tuple[dict[str, Any], ModelInfo]:
    """The request's body and model, as Fireworks checks them first: the key, a JSON object, a known model."""
    if bad_key(headers):
        raise unauthorized(request_id)
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    model = resolve_model(body.get("model"))
    if model is None:
        raise model_not_found()
    return body, model
