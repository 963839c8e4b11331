"""What every websocket of the playground shares: frames in (decoded, dispatched on ``type``, refused
with a ``chat.error`` that leaves the socket open) and frames out (the API key never leaves)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from proxy.frames import FrameError, error_frame

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def scrub_key(text: str) -> str:
    """The text with the server's API key replaced."""
    key = settings.FIREWORKS_API_KEY
    return text.replace(key, "[redacted]") if key else text


class FrameConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """A JSON-frame websocket: subclasses name their handlers and set ``closed`` in their hooks."""

    closed = False
    # Said after an unknown type, e.g. that this socket only watches.
    unknown_type_hint = ""

    def handlers(self) -> dict[str, Handler]:
        """Frame type → handler."""
        raise NotImplementedError

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if text_data is None:
            await self.send_frame(
                error_frame(stream=None, code="invalid_frame", message="Frames must be JSON text.")
            )
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_frame(
                error_frame(stream=None, code="invalid_json", message="The frame is not valid JSON.")
            )
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        stream = content.get("stream") if isinstance(content, dict) else None
        stream = stream if isinstance(stream, str) else None
        try:
            if not isinstance(content, dict):
                raise FrameError("invalid_frame", "A frame must be a JSON object with a 'type'.")
            handler = self.handlers().get(content.get("type"))  # type: ignore[arg-type]
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

    async def send_frame(self, frame: dict[str, Any]) -> None:
        """Send one frame, unless the socket is gone."""
        if not self.closed:
            await self.send_text(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        """Send a frame already encoded, unless the socket is gone; the API key never leaves in one."""
        if self.closed:
            return
        key = settings.FIREWORKS_API_KEY
        if key and key in text:
            logger.error("A frame held the API key; it was redacted before sending.")
            text = scrub_key(text)
        try:
            await self.send(text_data=text)
        except Exception as exc:
            # The browser went away and the server noticed before disconnect() ran (daphne raises
            # autobahn's Disconnected): the socket is closed; disconnect() does the rest.
            logger.debug("A frame for a closed socket was dropped: %r", exc)
            self.closed = True
