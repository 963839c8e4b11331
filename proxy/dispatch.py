"""What every websocket of the playground shares: frames in (decoded, dispatched on ``type``, refused
with a ``chat.error`` that leaves the socket open) and frames out (the API key never leaves)."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from proxy.client.limits import too_deep
from proxy.protocol import MAX_FRAME_BYTES, MAX_FRAME_DEPTH, FrameError, error_frame

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def scrub_key(text: str, *more: str) -> str:
    """The text with the server's API key (and any ``more`` keys) replaced."""
    for key in (settings.FIREWORKS_API_KEY, *more):
        if key:
            text = text.replace(key, "[redacted]")
    return text


class FrameConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """A JSON-frame websocket: subclasses name their handlers and set ``closed`` in their hooks."""

    closed = False
    # Said after an unknown type, e.g. that this socket only watches.
    unknown_type_hint = ""

    def handlers(self) -> dict[str, Handler]:
        """Frame type → handler."""
        raise NotImplementedError

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch first closes stale database connections on its one database thread,
        # for every message (a frame, a channel-layer event): each then waited for whatever ran there,
        # such as another stream's write (at 50 streams, a chat.start waited for the others' writes
        # before its request could leave). Every database call of these sockets goes through
        # database_sync_to_async, which closes stale connections around each call itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if text_data is None:
            await self.send_frame(
                error_frame(stream=None, code="invalid_frame", message="Frames must be JSON text.")
            )
            return
        if len(text_data) > MAX_FRAME_BYTES:
            message = f"The frame is {len(text_data)} characters long; the limit is {MAX_FRAME_BYTES}."
            await self.send_frame(error_frame(stream=None, code="frame_too_large", message=message))
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self.send_frame(
                error_frame(stream=None, code="invalid_json", message="The frame is not valid JSON.")
            )
            return
        if too_deep(content, MAX_FRAME_DEPTH):
            message = f"The frame nests deeper than {MAX_FRAME_DEPTH} levels."
            await self.send_frame(error_frame(stream=None, code="invalid_frame", message=message))
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        stream = content.get("stream") if isinstance(content, dict) else None
        stream = stream if isinstance(stream, str) else None
        try:
            if not isinstance(content, dict):
                raise FrameError("invalid_frame", "A frame must be a JSON object with a 'type'.")
            kind = content.get("type")
            handler = self.handlers().get(kind) if isinstance(kind, str) else None
            if handler is None:
                kind = str(content.get("type"))[:50]
                message = f"Unknown frame type {kind!r}{self.unknown_type_hint}."
                raise FrameError("unknown_type", message, stream=stream)
            await handler(content)
        except FrameError as exc:
            frame = error_frame(
                stream=exc.stream or stream, code=exc.code, message=exc.message, param=exc.param
            )
            await self.send_frame(frame)
        except Exception:
            # A frame no check foresaw: the socket and its other streams stay up; the user is told.
            logger.error(
                "A %s frame failed:\n%s", self.frame_kind(content), scrub_key(traceback.format_exc())
            )
            message = "The server could not handle this frame."
            await self.send_frame(error_frame(stream=stream, code="internal_error", message=message))

    @staticmethod
    def frame_kind(content: Any) -> str:
        """The frame's type for a log line (bounded; never the frame's contents)."""
        kind = content.get("type") if isinstance(content, dict) else None
        return repr(kind[:50]) if isinstance(kind, str) else "malformed"

    async def send_frame(self, frame: dict[str, Any], secrets: tuple[str, ...] = ()) -> None:
        """Send one frame, unless the socket is gone."""
        if not self.closed:
            await self.send_text(json.dumps(frame), secrets)

    async def send_text(self, text: str, secrets: tuple[str, ...] = ()) -> None:
        """Send a frame already encoded, unless the socket is gone; no API key in use ever leaves in one
        (the server's, and ``secrets``: the workspace key of the stream the frame belongs to)."""
        if self.closed:
            return
        for key in (settings.FIREWORKS_API_KEY, *secrets):
            if key and key in text:
                logger.error("A frame held an API key; it was redacted before sending.")
                text = text.replace(key, "[redacted]")
        try:
            await self.send(text_data=text)
        except Exception as exc:
            # The browser went away and the server noticed before disconnect() ran (daphne raises
            # autobahn's Disconnected): the socket is closed; disconnect() does the rest.
            logger.debug("A frame for a closed socket was dropped: %r", exc)
            self.closed = True
