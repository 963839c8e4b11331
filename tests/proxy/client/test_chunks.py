"""The chunk parser on its own (proxy/client/chunks.py): JSON and headers in, plain events out, no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.client.chunks import StreamState, chunk_events, delta_from, opened_from, usage_from
from proxy.client.events import Delta, Done, Finish, Perf, RawOutput, Rethink, Usage


def test_opened_reads_the_fireworks_headers_whatever_their_case() -> None:
    opened = opened_from(
        200,
        {
            "X-Request-Id": "req-1",
            "Fireworks-Sampling-Options": '{"temperature": 0.5}',
            "fireworks-prompt-tokens": "12",
            "fireworks-cached-prompt-tokens": "4.0",
            "fireworks-server-time-to-first-token": "0.031",
            "x-ratelimit-remaining-requests": "59",
            "content-type": "text/event-stream",
        },
    )
    assert opened.status == 200 and opened.request_id == "req-1"
    assert opened.sampling_options == {"temperature": 0.5}
    assert (opened.prompt_tokens, opened.cached_prompt_tokens, opened.server_ttft) == (12, 4, 0.031)
    assert opened.rate_limits == {"x-ratelimit-remaining-requests": "59"}
    assert opened.headers["content-type"] == "text/event-stream"


def test_opened_without_fireworks_headers_or_with_garbage_in_them() -> None:
    opened = opened_from(200, {"fireworks-prompt-tokens": "many", "fireworks-sampling-options": "[1]"})
    assert opened.request_id is None and opened.sampling_options is None and opened.prompt_tokens is None
    assert opened.server_ttft is None and opened.rate_limits == {}


def test_usage_with_and_without_cached_tokens() -> None:
    raw = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    assert usage_from(raw) == Usage(9, 3, 12, None, raw)
    cached = {**raw, "prompt_tokens_details": {"cached_tokens": 5}}
    assert usage_from(cached).cached_tokens == 5


def test_a_delta_that_says_nothing_is_none() -> None:
    assert delta_from(0, {"role": "assistant"}, {}) is None
    assert delta_from(0, {"content": ""}, {}) is None
    assert delta_from(1, {"content": "Hi", "role": "assistant"}, {}) == Delta(1, "Hi", role="assistant")
    # Completions put the text on the choice; some servers name reasoning "reasoning".
    assert delta_from(0, {}, {"text": "Hey"}) == Delta(0, "Hey")
    assert delta_from(0, {"reasoning": "hmm"}, {}) == Delta(0, reasoning="hmm")


def test_one_chunk_gives_deltas_then_finishes_then_usage_then_perf() -> None:
    state = StreamState()
    raw = {"completion": "Hi"}
    chunk: dict[str, Any] = {
        "id": "resp-1",
        "model": "m",
        "choices": [
            {"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop", "raw_output": raw},
            {"index": 1, "delta": {"content": "Yo"}, "finish_reason": "length"},
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        "perf_metrics": {"server-time-to-first-token": 0.02},
    }
    events = chunk_events(chunk, state, whole=False)
    assert [type(e).__name__ for e in events] == [
        "Delta",
        "RawOutput",
        "Delta",
        "Finish",
        "Finish",
        "Usage",
        "Perf",
    ]
    assert events[1] == RawOutput(choice=0, raw=raw)
    assert events[3:5] == [Finish(0, "stop"), Finish(1, "length")]
    assert events[-1] == Perf(metrics={"server-time-to-first-token": 0.02})
    state.saw_done = True
    assert state.done() == Done(
        finish_reasons={0: "stop", 1: "length"}, saw_done_marker=True, response_id="resp-1", model="m"
    )


def test_a_whole_completion_reads_the_message() -> None:
    whole = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Whole"}}]}
    assert chunk_events(whole, StreamState(), whole=True) == [Delta(0, "Whole", role="assistant")]
    # The same object as a streamed chunk has no delta: nothing to say.
    assert chunk_events(whole, StreamState(), whole=False) == []


def test_choices_missing_empty_or_malformed_are_not_assumed() -> None:
    state = StreamState()
    assert chunk_events({}, state, whole=False) == []
    assert chunk_events({"choices": []}, state, whole=False) == []
    assert chunk_events({"choices": "nope"}, state, whole=False) == []
    assert chunk_events({"choices": [None, 3]}, state, whole=False) == []
    # A choice without an index is numbered by its position.
    assert chunk_events({"choices": [{}, {"delta": {"content": "b"}}]}, state, whole=False) == [Delta(1, "b")]
    assert state.done().finish_reasons == {} and state.done().response_id is None


# --- reasoning written into the text (ThinkSplit) ---------------------------------------------------

THINK_CASES = [
    # (the choice's whole text, the reasoning, the answer)
    ("<think>\nadd them\n</think>\n\nIt is 4.", "\nadd them\n", "It is 4."),
    ("\n<think>a</think>b", "a", "b"),
    ("add them\n</think>\n\nIt is 4.", "add them\n", "It is 4."),  # the template opened <think>
    ("Plain answer, no tags.", "", "Plain answer, no tags."),
    ("a < b and c </thin", "", "a < b and c </thin"),  # a tag's start that never completes
    ("<think>still thinking", "still thinking", ""),
    ("<think>x</think>y</think>z", "x", "y</think>z"),  # after a full block, a close is just text
]


def fold_text(pieces: list[str]) -> tuple[str, str, int]:
    """Stream ``pieces`` as content chunks through chunk_events, then fold like the relay does."""
    state = StreamState()
    content = reasoning = ""
    rethinks = 0
    events: list[Any] = []
    for k, piece in enumerate(pieces):
        last = k == len(pieces) - 1
        chunk = {
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": "stop" if last else None}]
        }
        events += chunk_events(chunk, state, whole=False)
    events += state.flush()
    for event in events:
        if isinstance(event, Rethink):
            reasoning, content = reasoning + content, ""
            rethinks += 1
        elif isinstance(event, Delta):
            content += event.content or ""
            reasoning += event.reasoning or ""
    return reasoning, content, rethinks


@pytest.mark.parametrize(("text", "reasoning", "answer"), THINK_CASES)
def test_reasoning_is_split_out_of_the_text_wherever_the_chunks_are_cut(
    text: str, reasoning: str, answer: str
) -> None:
    cuts = [[text]] + [[text[:i], text[i:]] for i in range(1, len(text))]
    cuts += [[text[:i], text[i:j], text[j:]] for i in range(1, len(text)) for j in range(i + 1, len(text))]
    cuts.append(list(text))  # one character per chunk
    for pieces in cuts:
        got_reasoning, got_answer, rethinks = fold_text(pieces)
        assert (got_reasoning, got_answer) == (reasoning, answer), pieces
        assert rethinks <= 1


def test_a_whole_completion_is_split_too_and_usage_may_sit_in_the_choice() -> None:
    state = StreamState()
    body = {
        "choices": [
            {
                "index": 0,
                "message": {"content": "hmm</think>Four."},
                "finish_reason": "stop",
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            }
        ]
    }
    events = chunk_events(body, state, whole=True)
    assert Delta(choice=0, content="Four.", reasoning="hmm") in events
    assert not any(isinstance(e, Rethink) for e in events)
    usage = next(e for e in events if isinstance(e, Usage))
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 4, 7)
