"""Frames as a user's page sees them."""

from __future__ import annotations

from typing import Any


def expand(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """chat.deltas frames as the chat.delta frames they hold (as the page's socket.js does)."""
    out = []
    for frame in frames:
        if frame["type"] == "chat.deltas":
            shared = {k: v for k, v in frame.items() if k != "items"}
            out += [{**shared, **item, "type": "chat.delta"} for item in frame["items"]]
        else:
            out.append(frame)
    return out
