"""How the playground speaks to each kind of server, and what a server refused (pure, no Django).

The kind of server (Fireworks, the offline emulator, or any other OpenAI-compatible server) comes
from the base URL (``playground.params.server_kind``). Fireworks and the emulator get the Fireworks
extensions the playground asks for (``perf_metrics_in_response``); another server gets only what the
user set plus the standard fields. A server that refuses a request field by name (400 or 422, in any
body shape) is asked again without it (``refused_fields`` reads the refusal), and the refusal is
remembered for its base URL in this process (``REFUSALS``): the next request leaves the field out.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

# Which kind of server a base URL names (playground/params.py ``server_kind`` decides it).
ServerKind = Literal["fireworks", "emulator", "other"]

# Fields no retry may drop: without them there is no request (or no stream) left to send.
ESSENTIAL = frozenset({"model", "messages", "prompt", "input", "stream"})
# Statuses with which servers refuse unknown fields: OpenAI answers 400, FastAPI-based servers 422.
REFUSAL_STATUSES = frozenset({400, 422})
# At most this many extra requests for one stream (each drops the fields its refusal named).
MAX_RETRIES = 3


@dataclass(frozen=True)
class Dialect:
    """What the request builder needs to know of the server: its kind and the fields it refused."""

    kind: ServerKind = "fireworks"
    refused: frozenset[str] = frozenset()

    @property
    def extensions(self) -> bool:
        """Whether the server takes Fireworks' extensions unasked (Fireworks and the emulator do)."""
        return self.kind != "other"


class Refusals:
    """The request fields each base URL refused, remembered for this process's lifetime.

    In memory only: a restart (or another server process) learns them again with one retry each.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_url: dict[str, frozenset[str]] = {}

    def get(self, base_url: str) -> frozenset[str]:
        """The fields ``base_url`` refused so far."""
        return self._by_url.get(base_url.rstrip("/"), frozenset())

    def add(self, base_url: str, fields: list[str] | tuple[str, ...] | frozenset[str]) -> None:
        """Remember that ``base_url`` refused ``fields``."""
        key = base_url.rstrip("/")
        with self._lock:
            self._by_url[key] = self._by_url.get(key, frozenset()) | frozenset(fields)

    def clear(self) -> None:
        """Forget every refusal (tests, or after the server was upgraded)."""
        with self._lock:
            self._by_url.clear()


REFUSALS = Refusals()


def without(body: dict[str, Any], fields: list[str] | tuple[str, ...] | frozenset[str]) -> dict[str, Any]:
    """``body`` without the given top-level fields (essential ones are never dropped)."""
    drop = set(fields) - ESSENTIAL
    return {k: v for k, v in body.items() if k not in drop}


# --- reading a refusal ---------------------------------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*"
# Each pattern captures the text that names the refused fields; the names are found in it.
_TEXT_PATTERNS = [
    # OpenAI: "Unrecognized request argument supplied: top_k" / "...arguments supplied: top_k, min_p"
    re.compile(r"unrecognized request arguments? supplied:\s*([^\n]+)", re.I),
    # FastAPI apps (e.g. a strict gateway): "Unexpected fields in the request: {'top_k'}"
    re.compile(r"unexpected (?:fields?|keys?|arguments?|parameters?)[^:\n]*:\s*([^\n]+)", re.I),
    # serde (Rust servers): "unknown field `top_k`, expected one of ..."
    re.compile(
        r"unknown (?:fields?|keys?|arguments?|parameters?|names?)\s*:?\s*([`'\"]?" + _NAME + r"[`'\"]?)", re.I
    ),
    # Google's APIs: 'Invalid JSON payload received. Unknown name "top_k": Cannot find field.'
    re.compile(r"unknown name\s+([\"'`]?" + _NAME + r"[\"'`]?)", re.I),
    # JSON-schema validators: "Additional properties are not allowed ('top_k' was unexpected)"
    re.compile(r"additional propert(?:y|ies) (?:are |is )?not allowed\s*\(([^)]*)\)", re.I),
    # pydantic's message inside another body: "'loc': ('body', 'top_k'), 'msg': 'Extra inputs ..."
    re.compile(r"extra_forbidden[^\]]*?'loc':\s*\(([^)]*)\)", re.I),
    re.compile(r"'loc':\s*\(([^)]*)\)[^\]]*?extra_forbidden", re.I),
    # error_fields' rendering of a FastAPI list item: "top_k: Extra inputs are not permitted"
    re.compile(r"(" + _NAME + r"):\s*extra (?:inputs|fields) (?:are )?not permitted", re.I),
]
_QUOTED = re.compile(r"[`'\"]([^`'\"]+)[`'\"]")
_BARE = re.compile(_NAME)
_EXTRA_TYPES = frozenset({"extra_forbidden", "value_error.extra", "unrecognized_keys"})


def _names_in(text: str) -> list[str]:
    quoted = _QUOTED.findall(text)
    names = quoted if quoted else _BARE.findall(text)
    # "('body', 'top_k')": the location's first part says where, not what.
    return [n for n in names if n not in ("body", "query", "expected", "one", "of")]


def _detail_names(items: list[Any]) -> list[str]:
    names: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type") or "")
        msg = str(item.get("msg") or item.get("message") or "")
        if kind not in _EXTRA_TYPES and not re.search(
            r"extra (inputs|fields)|not permitted|unrecognized", msg, re.I
        ):
            continue
        loc = item.get("loc")
        if isinstance(loc, list):
            # FastAPI puts "body" first; a nested location ("stream_options.include_usage") names its object.
            names.append(".".join(str(part) for part in loc if part != "body"))
        keys = item.get("keys")  # zod's unrecognized_keys
        if isinstance(keys, list):
            names += [k for k in keys if isinstance(k, str)]
    return names


def _texts(obj: Any, depth: int = 0) -> list[str]:
    """Every message string in an error body of any shape (bounded depth)."""
    if depth > 6:
        return []
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, list):
        return [t for item in obj[:20] for t in _texts(item, depth + 1)]
    if isinstance(obj, dict):
        out: list[str] = []
        for key in ("error", "message", "detail", "msg", "errors"):
            if key in obj:
                out += _texts(obj[key], depth + 1)
        return out
    return []


def _lists(obj: Any, depth: int = 0) -> list[list[Any]]:
    """Every FastAPI-style ``detail`` (or ``errors``) list in a body."""
    if depth > 6:
        return []
    if isinstance(obj, list):
        return [obj] + [x for item in obj[:20] for x in _lists(item, depth + 1)]
    if isinstance(obj, dict):
        return [x for key in ("detail", "errors", "error") if key in obj for x in _lists(obj[key], depth + 1)]
    return []


def refused_fields(status: int, text: str, body: dict[str, Any]) -> list[str]:
    """The fields of ``body`` a 400/422 answer refuses by name (as unknown, not as a bad value).

    Any body shape: ``{"error": {...}}``, ``{"detail": "..."}`` or FastAPI's ``{"detail": [...]}``,
    ``{"message": ...}``, a JSON array of errors, or plain text. Empty when the refusal names no field
    the body holds, so a bad value is never retried.
    """
    if status not in REFUSAL_STATUSES or not text.strip():
        return []
    try:
        obj: Any = json.loads(text)
    except (ValueError, RecursionError):
        obj = text
    names: list[str] = []
    for items in _lists(obj):
        names += _detail_names(items)
    for message in _texts(obj):
        for pattern in _TEXT_PATTERNS:
            for match in pattern.finditer(message[:4000]):
                names += _names_in(match.group(1))
    droppable = [k for k in body if k not in ESSENTIAL]
    found: list[str] = []
    for name in names:
        # "stream_options.include_usage" refuses the whole object; "body.top_k" names top_k.
        for candidate in (name, name.split(".")[0], name.split(".")[-1]):
            if candidate in droppable and candidate not in found:
                found.append(candidate)
                break
    return found


__all__ = [
    "REFUSALS",
    "Dialect",
    "Refusals",
    "ServerKind",
    "refused_fields",
    "without",
]
