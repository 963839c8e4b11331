"""playground/wslabels.py: sending a websocket frame formats no coloured log label (daphne's websocket
layer, autobahn, built one per frame for a debug line it drops)."""

from __future__ import annotations

from collections import deque
from typing import Any

import click
import pytest
from autobahn.twisted.websocket import WebSocketServerProtocol
from autobahn.websocket.protocol import WebSocketProtocol

import playground.asgi  # noqa: F401  (the application applies it, as daphne loads it)
from playground.wslabels import plain_type, plain_value


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


def test_a_frame_is_sent_without_colouring_a_label(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("click.style was called for a frame")

    monkeypatch.setattr(click, "style", refuse)
    protocol = WebSocketServerProtocol()
    protocol.transport = Transport()
    protocol.send_queue = deque()
    protocol.peer = "tcp4:127.0.0.1:50000"
    protocol.state = WebSocketProtocol.STATE_OPEN
    protocol.logOctets = False
    protocol.trafficStats = type("Stats", (), {"outgoingOctetsWireLevel": 0})()
    protocol.sendData(b"\x81\x02hi")
    assert protocol.transport.written == [b"\x81\x02hi"]


def test_the_plain_labels_say_what_the_coloured_ones_said() -> None:
    label = "<autobahn.websocket.protocol.WebSocketProtocol.sendData>"
    assert plain_type(WebSocketProtocol.sendData) == label
    assert plain_type(object()) == "<unknown>"
    assert plain_value(42) == 42
