"""Bounds on everything an upstream controls, so that no server (or a man in the middle on a plain-http
base URL) can make the proxy hold unbounded memory or recurse without end."""

from __future__ import annotations

from typing import Any

# One server-sent event (its data lines together), and a whole non-streamed JSON body.
MAX_EVENT_BYTES = 4 * 1024 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
# How deep a chunk's JSON may nest (a chat chunk needs about 7 levels; tool arguments are strings).
MAX_JSON_DEPTH = 64


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests deeper than ``limit`` (iterative: nothing to exhaust)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values() if isinstance(child, dict | list))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, dict | list))
    return False
