"""The ``UpstreamError`` family, and upstream failures in words a person understands, secrets scrubbed (pure).

Every error body shape seen in the wild: ``{"error": {...}}``, ``{"error": "..."}``, FastAPI's
``{"detail": ...}``, plain text and HTML pages, and empty bodies.
"""

from __future__ import annotations

import json
import re
from typing import Any


class UpstreamError(Exception):
    """Any failure talking to the upstream, safe to show a user: never holds the API key.

    ``code`` is a short machine-readable word (see the subclasses); ``message`` is a sentence for a
    person; ``retryable`` says whether trying the same request again may succeed.
    """

    code = "upstream_error"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retryable: bool | None = None,
        param: str | None = None,
        body: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        # Seconds the server asked to wait before trying again (a 429's or 503's ``retry-after``).
        self.retry_after = retry_after
        self.message = message
        self.status = status
        if code is not None:
            self.code = code
        self.request_id = request_id
        if retryable is not None:
            self.retryable = retryable
        self.param = param
        self.body = body  # the raw error body (trimmed, scrubbed), for the run record

    def as_dict(self) -> dict[str, Any]:
        """The error as a plain mapping for frames and run records."""
        return {
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "request_id": self.request_id,
            "retryable": self.retryable,
            "param": self.param,
        }


class UpstreamHTTPError(UpstreamError):
    """The upstream answered with a 4xx/5xx status (any body shape)."""

    code = "http_error"


class UpstreamTimeout(UpstreamError):
    """Connecting, the first byte, or the gap between two chunks took longer than allowed."""

    code = "timeout"
    retryable = True


class UpstreamConnectionError(UpstreamError):
    """The connection could not be made, or was cut before the stream finished."""

    code = "connection_error"
    retryable = True


class UpstreamProtocolError(UpstreamError):
    """The upstream sent something that is not the expected wire format."""

    code = "protocol_error"


class UpstreamStreamError(UpstreamError):
    """The upstream reported an error inside the stream (``data: {"error": ...}``)."""

    code = "stream_error"


# status -> (code, retryable, what it means when the upstream gives no message)
STATUSES: dict[int, tuple[str, bool, str]] = {
    400: ("bad_request", False, "the request was rejected as invalid"),
    401: ("unauthorized", False, "the API key is missing or was not accepted"),
    402: ("payment_required", False, "the account has a billing problem (payment required)"),
    403: ("forbidden", False, "this API key may not use this model or resource"),
    404: ("not_found", False, "not found"),
    405: ("method_not_allowed", False, "the method is not allowed on this path"),
    408: ("timeout", True, "the upstream timed out waiting for the request"),
    412: ("precondition_failed", False, "precondition failed (account suspended or adapter failed to load)"),
    413: ("payload_too_large", False, "the request is too large"),
    422: ("validation_error", False, "the request did not validate"),
    429: ("rate_limited", True, "too many requests: the rate limit was reached"),
    500: ("server_error", False, "internal server error"),
    502: ("bad_gateway", True, "bad gateway: the server behind it did not answer properly"),
    503: ("overloaded", True, "the service is overloaded or unavailable"),
    504: ("gateway_timeout", True, "gateway timeout: the server behind it took too long"),
    520: ("unknown", True, "an unknown error occurred"),
}

_SECRET_PATTERNS = re.compile(r"(?i)\bbearer\s+[^\s\"',;]+|\bfw_[A-Za-z0-9]+")
_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title>")
_SPACE = re.compile(r"\s+")

_SECRET_PATTERNS = re.compile(r"(?i)\bbearer\s+[^\s\"',;]+|\bfw_[A-Za-z0-9]+")
_TAG = re.compile(r"<[^>]*>")
_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title>")
_SPACE = re.compile(r"\s+")


def scrub(text: str, api_key: str = "") -> str:
    """Remove the API key and anything that looks like a bearer token or a Fireworks key from text."""
    if api_key:
        text = text.replace(api_key, "[redacted]")
    return _SECRET_PATTERNS.sub("[redacted]", text)


def error_fields(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    """(message, param) from any error body shape seen in the wild."""
    error = obj.get("error")
    if isinstance(error, str):
        return error, None
    if isinstance(error, dict):
        message = error.get("message") or error.get("msg") or error.get("detail")
        param = error.get("param")
        return (
            message if isinstance(message, str) else (json.dumps(message) if message else None),
            param if isinstance(param, str) else None,
        )
    detail = obj.get("detail")
    if isinstance(detail, str):
        return detail, None
    if isinstance(detail, list):
        parts: list[str] = []
        params: list[str] = []
        for item in detail:
            if not isinstance(item, dict):
                parts.append(str(item))
                continue
            loc = item.get("loc")
            # FastAPI puts "body" first in the location of a request field: the field is what follows.
            name = ".".join(str(p) for p in loc if p != "body") if isinstance(loc, list) else ""
            if name:
                params.append(name)
            msg = str(item.get("msg") or item.get("message") or "invalid")
            parts.append(f"{name}: {msg}" if name else msg)
        return "; ".join(parts) or None, params[0] if params else None
    message = obj.get("message")
    if isinstance(message, str):
        return message, None
    return None, None


def plain_text(text: str) -> str:
    """A short readable line from a plain-text or HTML error body."""
    if "<" in text and ">" in text:
        title = _TITLE.search(text)
        text = title.group(1) if title else _TAG.sub(" ", text)
    return _SPACE.sub(" ", text).strip()[:300]


def retry_after_seconds(value: str | None) -> float | None:
    """A ``retry-after`` header's delay in seconds (a number; an HTTP date is not honoured), or None."""
    try:
        seconds = float((value or "").strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None
