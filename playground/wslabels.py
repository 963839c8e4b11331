"""Autobahn's log labels, made plain: the websocket server no longer colours a debug line it never writes.

Autobahn (daphne's websocket layer) logs every frame it sends and every read it gets at debug level, and
builds the line's arguments before the logger decides to drop it: ``hltype`` and ``hlval`` colour the
method's qualified name and the values through ``click.style`` whenever click is installed (uvicorn, which
runs the emulator, brings it). That was about 5 % of the server's CPU while streaming, for lines that
are written only at debug level. Here both are plain: the name and the value as they are, so a debug
log still says what it said, without colours.
"""

from __future__ import annotations

import importlib
from typing import Any

# The modules that format a label for each frame (sendData, dataReceived); other labels are per connection.
MODULES = ("autobahn.websocket.protocol", "autobahn.twisted.websocket")


def plain_type(obj: Any) -> str:
    """A function's or method's name, as ``autobahn.util.hltype`` gives it, without colours."""
    name = getattr(obj, "__qualname__", None)
    return f"<{getattr(obj, '__module__', '')}.{name}>" if name else "<unknown>"


def plain_value(value: Any, color: str = "white", bold: bool = True) -> Any:
    """The value itself (``autobahn.util.hlval`` without colours): the logger formats it if it writes."""
    return value


def use_plain_labels() -> None:
    """Make autobahn's per-frame log labels plain (idempotent; a module or name that is gone is skipped)."""
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "hltype"):
            module.hltype = plain_type
        if hasattr(module, "hlval"):
            module.hlval = plain_value
