"""The emulator's faults: parsing the README's fault kinds, and tracking which ones a response has used."""

from __future__ import annotations

from typing import Any

SHAPES = ("object", "string", "coded", "detail", "empty", "text")
PLACEMENTS = ("final_chunk", "extra_chunk", "none")
# Defaults filled in for each kind; a kind's other keys are checked against these.
DEFAULTS: dict[str, dict[str, Any]] = {
    "status": {"status": 500, "shape": "object", "message": None, "retry_after": None},
    "stall": {"after_chunks": 0, "seconds": 1.0},
    "cut": {"after_chunks": 1},
    "malformed": {"after_chunks": 1},
    "stream_error": {"after_chunks": 1, "message": None},
    "no_done": {},
    "split": {},
    "usage": {"placement": "extra_chunk"},
    "reply": {"content": ""},
}
MAX_REPLY = 100_000  # characters of a reply fault's content


def parse_faults(value: Any) -> list[dict[str, Any]]:
    """Check a fault or a list of faults and fill in defaults; ``ValueError`` says what is wrong."""
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise ValueError('expected {"kind": ...} or a list of them')
    out = []
    for item in items:
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind not in DEFAULTS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(DEFAULTS)}")
        # ``model``: the fault waits in the queue for the next request for that model (any kind).
        unknown = set(item) - set(DEFAULTS[kind]) - {"kind", "model"}
        if unknown:
            raise ValueError(f"{kind} fault does not take {', '.join(sorted(unknown))}")
        fault = {"kind": kind, **DEFAULTS[kind], **item}
        if "model" in fault and not (isinstance(fault["model"], str) and fault["model"]):
            raise ValueError("model must be a model id")
        if kind == "status" and not (isinstance(fault["status"], int) and 400 <= fault["status"] <= 599):
            raise ValueError("status must be an HTTP error status between 400 and 599")
        if kind == "status" and fault["shape"] not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}")
        if "after_chunks" in fault and (
            not isinstance(fault["after_chunks"], int) or fault["after_chunks"] < -1
        ):
            raise ValueError("after_chunks must be a whole number, -1 or more")
        if kind == "stall" and (
            not isinstance(fault["seconds"], (int, float)) or not 0 <= fault["seconds"] <= 3600
        ):
            raise ValueError("seconds must be a number between 0 and 3600")
        if kind == "reply" and (not isinstance(fault["content"], str) or len(fault["content"]) > MAX_REPLY):
            raise ValueError(f"content must be a string of at most {MAX_REPLY} characters")
        if kind == "usage" and fault["placement"] not in PLACEMENTS:
            raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}")
        out.append(fault)
    return out


class FaultSet:
    """The faults one response uses; each mid-stream fault fires once."""

    def __init__(self, faults: list[dict[str, Any]]) -> None:
        self.faults = faults
        self._fired: set[int] = set()

    def _first(self, kind: str) -> dict[str, Any] | None:
        return next((f for f in self.faults if f["kind"] == kind), None)

    @property
    def status(self) -> dict[str, Any] | None:
        """The status fault, if any."""
        return self._first("status")

    @property
    def stalls(self) -> list[dict[str, Any]]:
        """Every stall fault."""
        return [f for f in self.faults if f["kind"] == "stall"]

    @property
    def cut(self) -> bool:
        """Whether the connection is to be cut."""
        return self._first("cut") is not None

    @property
    def malformed(self) -> bool:
        """Whether a malformed line is to be sent."""
        return self._first("malformed") is not None

    @property
    def split(self) -> bool:
        """Whether writes are to be split into tiny pieces."""
        return self._first("split") is not None

    @property
    def no_done(self) -> bool:
        """Whether ``data: [DONE]`` is to be left out."""
        return self._first("no_done") is not None

    @property
    def reply_content(self) -> str | None:
        """The text a ``reply`` fault puts after the prefix instead of the generated reply, if any."""
        fault = self._first("reply")
        return str(fault["content"]) if fault else None

    @property
    def usage_placement(self) -> str | None:
        """Where the usage goes, if a fault says."""
        fault = self._first("usage")
        return fault["placement"] if fault else None

    def stall_seconds(self, sent: int) -> float:
        """Seconds to stall now that ``sent`` chunks are out (-1: before the headers)."""
        seconds = 0.0
        for i, fault in enumerate(self.faults):
            if fault["kind"] != "stall" or i in self._fired:
                continue
            if fault["after_chunks"] == -1 if sent == -1 else 0 <= fault["after_chunks"] <= sent:
                self._fired.add(i)
                seconds += float(fault["seconds"])
        return seconds

    def fires(self, kind: str, sent: int) -> bool:
        """Whether a ``kind`` fault is due now that ``sent`` chunks are out (then it is used up)."""
        for i, fault in enumerate(self.faults):
            if fault["kind"] == kind and i not in self._fired and fault["after_chunks"] <= sent:
                self._fired.add(i)
                return True
        return False

    def stream_error_payload(self, request_id: str) -> dict[str, Any]:
        """The body of a ``data: {"error": ...}`` line."""
        fault = self._first("stream_error") or {}
        message = fault.get("message") or "Emulated server error in the middle of the stream."
        return {
            "error": {
                "object": "error",
                "type": "internal_server_error",
                "message": message,
                "request_id": request_id,
            }
        }


def split_points(data: bytes, every: int = 5) -> list[tuple[int, bool]]:
    """Where to cut ``data`` into small writes, and whether to pause there.

    Cuts every ``every`` bytes, inside every multi-byte UTF-8 character and between the two newlines
    that end an event; those tricky cuts pause so that a reader sees the halves apart.
    """
    points = {p: False for p in range(every, len(data), every)}
    for p in range(1, len(data)):
        if data[p] & 0xC0 == 0x80:  # a UTF-8 continuation byte: the cut lands inside a character
            points[p] = True
    if data.endswith(b"\n\n"):
        points[len(data) - 1] = True
    return sorted(points.items())
