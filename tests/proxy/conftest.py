"""Fixtures of the websocket tests: a signed-in user, the upstream settings, and sockets that keep
every frame they received."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client

API_KEY = "fw_TESTKEY123"
MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
ORIGIN = (b"origin", b"http://127.0.0.1")
HELLO = [{"role": "user", "content": "Say hello"}]
# Slow enough that a stream is still running when the test stops it.
SLOW = {"ttft_ms": 5, "tokens_per_second": 40}


class Socket:
    """A websocket client that keeps every frame it received, to check what a user could see."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.frames: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.disconnected = False

    async def disconnect(self) -> None:
        self.disconnected = True
        await self.communicator.disconnect()

    async def send(self, frame: Any) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def receive(self, wait: float = 5) -> dict[str, Any]:
        text = await self.communicator.receive_from(wait)
        self.raw.append(text)
        frame = json.loads(text)
        self.frames.append(frame)
        return frame

    async def until_end(self, stream: str | None, wait: float = 10) -> list[dict[str, Any]]:
        """Frames until the stream's chat.done or chat.error (frames of other streams are kept too)."""
        got = []
        while True:
            frame = await self.receive(wait)
            got.append(frame)
            if frame.get("stream") == stream and frame["type"] in ("chat.done", "chat.error"):
                return got

    async def start(self, stream: str, **fields: Any) -> None:
        await self.send(
            {
                "type": "chat.start",
                "stream": stream,
                "mode": "chat",
                "model": MODEL,
                "messages": HELLO,
                "params": {},
                **fields,
            }
        )


@pytest.fixture
def user(transactional_db: None) -> Any:
    return get_user_model().objects.create_user("alice")


@pytest.fixture
def session_cookie(user: Any) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture
def upstream_settings(settings: Any, emulator: Any) -> Any:
    settings.FIREWORKS_BASE_URL = emulator.base_url
    settings.FIREWORKS_API_KEY = API_KEY
    settings.FIREWORKS_STREAM_GAP_TIMEOUT = 5
    # A dropped socket stops its streams at once unless a test gives them a grace period
    # (tests/proxy/test_resume.py): no stream outlives the test that started it.
    settings.PLAYGROUND_RESUME_GRACE_SECONDS = 0
    cache.clear()
    return settings


@pytest.fixture
async def connect(
    upstream_settings: Any, session_cookie: bytes, caplog: pytest.LogCaptureFixture, close_upstream: None
) -> AsyncIterator[Callable[..., Awaitable[Socket]]]:
    """Open signed-in sockets; afterwards check that no frame and no log line held the API key."""
    caplog.set_level(logging.DEBUG)
    sockets: list[Socket] = []

    async def open_socket(cookie: bytes | None = session_cookie) -> Socket:
        headers = [ORIGIN, (b"cookie", cookie)] if cookie else [ORIGIN]
        # Imported here, not at the top: a conftest named on the command line loads before the suite's
        # pytest_configure points STATIC_ROOT at its collected files, and building the app that early
        # fixes the static storage on the wrong folder (a 404 for every hashed file).
        from playground.asgi import application

        communicator = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        sockets.append(Socket(communicator))
        return sockets[-1]

    yield open_socket
    for sock in sockets:
        if not sock.disconnected:
            await sock.communicator.disconnect()
    for sock in sockets:
        assert not any(API_KEY in text for text in sock.raw)
    assert not any(API_KEY in record.getMessage() for record in caplog.records)
