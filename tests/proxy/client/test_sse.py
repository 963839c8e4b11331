"""The incremental SSE decoder: the same events whatever way the bytes are split."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.client.sse import SSEDecoder, SSEEvent


def decode_whole(raw: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.close()


def decode_bytewise(raw: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for i in range(len(raw)):
        events += decoder.feed(raw[i : i + 1])
    return events + decoder.close()


CASES: list[tuple[str, bytes, list[SSEEvent]]] = [
    ("lf", b"data: a\n\ndata: b\n\n", [SSEEvent("a"), SSEEvent("b")]),
    ("crlf", b"data: a\r\n\r\ndata: b\r\n\r\n", [SSEEvent("a"), SSEEvent("b")]),
    ("cr", b"data: a\r\rdata: b\r\r", [SSEEvent("a"), SSEEvent("b")]),
    (
        "mixed line ends",
        b"data: a\r\n\ndata: b\r\rdata: c\n\r\n",
        [SSEEvent("a"), SSEEvent("b"), SSEEvent("c")],
    ),
    ("no space after colon", b"data:a\n\n", [SSEEvent("a")]),
    ("only the first space is stripped", b"data:  a \n\n", [SSEEvent(" a ")]),
    ("comment lines are skipped", b": keep-alive\n\ndata: x\n: another\n\n", [SSEEvent("x")]),
    ("multi-line data joined with LF", b"data: one\ndata: two\ndata:\n\n", [SSEEvent("one\ntwo\n")]),
    (
        "event, id and retry",
        b"event: error\nid: 7\nretry: 1500\ndata: {}\n\n",
        [SSEEvent("{}", "error", "7", 1500)],
    ),
    (
        "event type resets, id persists",
        b"event: e\nid: 1\ndata: a\n\ndata: b\n\n",
        [SSEEvent("a", "e", "1"), SSEEvent("b", "message", "1")],
    ),
    ("bad retry is ignored", b"retry: soon\ndata: a\n\n", [SSEEvent("a")]),
    ("id with NUL is ignored", b"id: a\x00b\ndata: a\n\n", [SSEEvent("a")]),
    ("field without colon", b"data\n\n", [SSEEvent("")]),
    ("unknown fields are ignored", b"foo: bar\ndata: a\n\n", [SSEEvent("a")]),
    ("blank lines without data dispatch nothing", b"\n\n\nevent: x\n\n", []),
    ("final event without trailing blank line", b"data: a\n\ndata: last", [SSEEvent("a"), SSEEvent("last")]),
    ("final event ended by one newline", b"data: last\n", [SSEEvent("last")]),
    ("utf-8 text", "data: héllo 世界 🎉\n\n".encode(), [SSEEvent("héllo 世界 🎉")]),
    ("leading BOM", b"\xef\xbb\xbfdata: a\n\n", [SSEEvent("a")]),
    ("invalid utf-8 is replaced, not fatal", b"data: \xff\n\n", [SSEEvent("\ufffd")]),
    ("the DONE marker is just data", b"data: [DONE]\n\n", [SSEEvent("[DONE]")]),
    ("empty stream", b"", []),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decodes_whole(raw: bytes, expected: list[SSEEvent]) -> None:
    assert decode_whole(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decodes_byte_by_byte(raw: bytes, expected: list[SSEEvent]) -> None:
    assert decode_bytewise(raw) == expected


def test_events_come_out_as_soon_as_their_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [SSEEvent("a")]
    assert decoder.feed(b"data: b\r") == []
    # A lone CR ends the line at once: the blank line need not wait for a possible LF.
    assert decoder.feed(b"\r") == [SSEEvent("b")]
    assert decoder.feed(b"\ndata: c\n\n") == [SSEEvent("c")]
    assert decoder.close() == []


def test_crlf_split_across_reads_is_one_line_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\n") == []  # the LF completes the CRLF: not a blank line
    assert decoder.feed(b"data: b\r\n\r\n") == [SSEEvent("a\nb")]


def test_utf8_character_split_across_reads() -> None:
    raw = "data: 🎉é\n\n".encode()
    split = raw.index(b"\xf0") + 2  # in the middle of the 4-byte emoji
    decoder = SSEDecoder()
    assert decoder.feed(raw[:split]) == []
    assert decoder.feed(raw[split:]) == [SSEEvent("🎉é")]


def test_close_flushes_once() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: tail")
    assert decoder.flush() == [SSEEvent("tail")]
    assert decoder.close() == []


def test_a_recorded_fireworks_stream() -> None:
    raw = (
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'
        b": keep-alive\n\n"
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
        b"data: [DONE]\n\n"
    )
    assert [e.data for e in decode_bytewise(raw)] == [
        '{"choices":[{"index":0,"delta":{"role":"assistant"}}]}',
        '{"choices":[{"index":0,"delta":{"content":"Hi"}}]}',
        "[DONE]",
    ]


def test_a_long_line_in_many_small_reads_is_not_quadratic() -> None:
    payload = b"x" * 200_000
    decoder = SSEDecoder()
    for i in range(0, len(payload), 7):
        assert decoder.feed(payload[i : i + 7] if i else b"data: " + payload[:7]) == []
    assert decoder.feed(b"\n\n") == [SSEEvent("x" * 200_000)]


# Text that can travel as UTF-8: no lone surrogates (they have no encoding) and no line ends.
_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n")
_line = st.one_of(
    st.builds(lambda s: "data: " + s, st.text(alphabet=_chars, max_size=12)),
    st.sampled_from(["", ": keep-alive", "event: error", "id: 3", "retry: 10", "data", "data:", "x: y"]),
)
_stream = st.tuples(
    st.lists(_line, max_size=12),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(stream=_stream, data=st.data())
def test_any_split_gives_the_same_events(stream: tuple[list[str], str, bool], data: st.DataObject) -> None:
    lines, eol, terminated = stream
    raw = eol.join(lines).encode() + (eol.encode() if terminated else b"")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    start = 0
    for cut in [*cuts, len(raw)]:
        events += decoder.feed(raw[start:cut])
        start = cut
    events += decoder.close()
    assert events == decode_whole(raw)
    assert events == decode_bytewise(raw)


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.text(alphabet=_chars, max_size=20), max_size=5))
def test_data_round_trips(texts: list[str]) -> None:
    raw = "".join(f"data: {t}\n\n" for t in texts).encode()
    assert [e.data for e in decode_bytewise(raw)] == texts
