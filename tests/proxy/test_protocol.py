"""proxy/protocol.py: the declared frames, the check the suite runs on every frame sent, and the reference."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from proxy import protocol
from proxy.client.errors import STATUSES

REFERENCE = (Path(protocol.__file__).parent / "PROTOCOL.md").read_text()


def test_a_declared_frame_passes_and_each_kind_of_mistake_is_named() -> None:
    usage = {"type": "chat.usage", "stream": "s", "t": 1.0, "prompt_tokens": 1}
    usage |= {"completion_tokens": 2, "total_tokens": 3, "cached_tokens": None}
    assert protocol.check(usage) == []
    assert protocol.check({**usage, "extra": 1}) == ["chat.usage: undeclared field 'extra'"]
    assert protocol.check({k: v for k, v in usage.items() if k != "t"}) == ["chat.usage: missing 't'"]
    assert protocol.check({"type": "chat.nope"}) == ["'chat.nope' is not declared in proxy/protocol.py"]
    assert protocol.check([]) == ["a frame must be an object with a string 'type'"]
    error = protocol.error_frame(stream=None, code="made_up", message="x")
    assert protocol.check(error) == ["chat.error: code 'made_up' is not in ERROR_CODES"]
    deltas = {"type": "chat.deltas", "stream": "s", "items": [{"i": 0, "t": 1, "choice": 0, "bogus": 1}]}
    assert protocol.check(deltas) == ["chat.delta: undeclared field 'bogus'"]


def test_every_upstream_status_code_is_a_declared_error_code() -> None:
    assert {code for code, _, _ in STATUSES.values()} <= protocol.ERROR_CODES


def entries(kind: str) -> str:
    """The reference's list entries about a frame type (``- `kind` …`` and its indented lines)."""
    found = re.findall(rf"^- (?:`[\w.]+` / )?`{re.escape(kind)}`[^\n]*(?:\n  [^\n]*)*", REFERENCE, re.M)
    text = "\n".join(found)
    if "the fields of chat.start" in text:
        text += entries("chat.start")
    return text


@pytest.mark.parametrize("kind", sorted({*protocol.INCOMING, *protocol.OUTGOING}))
def test_the_reference_documents_every_frame_and_its_fields(kind: str) -> None:
    entry = entries(kind)
    assert entry, f"proxy/PROTOCOL.md does not document {kind}"
    if kind == "chat.deltas":
        return  # its items are chat.delta's fields
    frame = protocol.OUTGOING.get(kind) or protocol.INCOMING[kind]
    if kind in protocol.INCOMING and kind in protocol.OUTGOING:
        frame = protocol.Frame(frame.required | protocol.INCOMING[kind].required, frame.optional)
    named = (frame.required | frame.optional) - {"type", "watching", "conversation", "started_by", "model"}
    missing = sorted(f for f in named if not re.search(rf"\b{f}\b", entry))
    assert not missing, f"{kind}: proxy/PROTOCOL.md does not name {missing}"


def test_the_reference_names_every_frame_error_code() -> None:
    missing = sorted(code for code in protocol.FRAME_ERROR_CODES if f"`{code}`" not in REFERENCE)
    assert not missing
