"""An incremental Server-Sent Events decoder: bytes in, in any split, events out.

Pure Python (no Django, Channels or httpx) and on the hot path of every stream, so it works on
whole lines with ``bytes.split``/``find`` rather than character by character. It follows the WHATWG
event-stream rules (CRLF, LF and CR line ends, ``:`` comments, multi-line ``data`` joined with
``\\n``, ``event``/``id``/``retry`` fields, a leading BOM) with one deliberate difference: an event
left unterminated when the stream ends is delivered by :meth:`SSEDecoder.close`, because some
servers close the connection right after their last ``data:`` line.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.client.limits import MAX_EVENT_BYTES

__all__ = ["SSEDecoder", "SSEEvent", "SSEEventTooLarge"]


class SSEEventTooLarge(ValueError):
    """One event (or one unterminated line) grew past ``MAX_EVENT_BYTES``."""


_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its type, its data (lines joined with ``\\n``), last id and retry."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed bytes with :meth:`feed` and get the completed events; call :meth:`close` at the end."""

    __slots__ = ("_data", "_event", "_held", "_id", "_partial", "_retry", "_skip_lf", "_started")

    def __init__(self) -> None:
        # Bytes of the current, not yet terminated line (kept as parts: joining on every feed would
        # be quadratic when a long line arrives in many small reads).
        self._partial: list[bytes] = []
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None  # the last event id persists across events, as the spec says
        self._retry: int | None = None
        # A CR ended the previous read: an LF starting the next read belongs to it (CRLF split in two).
        self._skip_lf = False
        self._started = False
        # Bytes held for the event being read (its data lines and the unterminated line), bounded.
        self._held = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Take the next bytes of the stream and return the events they complete."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return []
        self._held += len(chunk)
        if self._held > MAX_EVENT_BYTES:
            raise SSEEventTooLarge(f"an event of more than {MAX_EVENT_BYTES} bytes")
        has_cr = b"\r" in chunk
        if not has_cr and b"\n" not in chunk:
            self._partial.append(chunk)
            return []
        if self._partial:
            self._partial.append(chunk)
            chunk = b"".join(self._partial)
            self._partial.clear()
        if has_cr:
            if chunk[-1:] == b"\r":
                self._skip_lf = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if tail:
            self._partial.append(tail)
        return self._lines(lines)

    def close(self) -> list[SSEEvent]:
        """End of stream: return the last event even if no blank line terminated it."""
        lines = [b"".join(self._partial)] if self._partial else []
        self._partial.clear()
        lines.append(b"")  # an implicit blank line dispatches whatever is pending
        self._skip_lf = False
        return self._lines(lines)

    flush = close

    def _lines(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not self._started:
                self._started = True
                if line.startswith(_BOM):
                    line = line[3:]
            if not line:
                if data:
                    events.append(
                        SSEEvent(
                            b"\n".join(data).decode("utf-8", "replace"),
                            self._event or "message",
                            self._id,
                            self._retry,
                        )
                    )
                    data.clear()
                self._event = None
                self._held = sum(map(len, self._partial))
                continue
            # Fast path: nearly every line of an OpenAI-style stream is "data: <json>".
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value[:1] == b" " else value)
                continue
            if line[:1] == b":":
                continue  # a comment, e.g. a keep-alive
            colon = line.find(b":")
            if colon == -1:
                name, value = line, b""
            else:
                name, value = line[:colon], line[colon + 1 :]
                if value[:1] == b" ":
                    value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
            elif name == b"id":
                if b"\x00" not in value:
                    self._id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                self._retry = int(value)
        return events
