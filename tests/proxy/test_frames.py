"""The frames the browser sends (proxy/frames.py), checked and turned into the request body."""

from __future__ import annotations

import pytest

from proxy.client.client import prepare_body
from proxy.frames import parse_start
from proxy.protocol import FrameError
from tests.proxy.client.test_client import MODEL


def test_responses_frames_build_the_body_and_chain() -> None:
    thread = [
        {"role": "user", "content": "First"},
        {"role": "assistant", "content": "Reply"},
        {"role": "user", "content": "Second"},
    ]
    frame = {"type": "chat.start", "stream": "r", "mode": "responses", "model": MODEL, "messages": thread}
    start = parse_start({**frame, "system": "Be terse.", "params": {"max_tokens": 50, "store": False}})
    assert start.body == {
        "model": MODEL,
        "input": [{"role": m["role"], "content": m["content"]} for m in thread],
        "instructions": "Be terse.",
        "max_output_tokens": 50,
        "store": False,
        "stream": True,
    }
    chained = parse_start({**frame, "previous_response_id": "resp_1"})
    assert chained.body["input"] == [{"role": "user", "content": "Second"}]
    assert chained.body["previous_response_id"] == "resp_1" and chained.messages == thread
    with pytest.raises(FrameError):
        parse_start({**frame, "mode": "chat", "previous_response_id": "resp_1"})
    with pytest.raises(FrameError) as info:
        parse_start({**frame, "params": {"top_k": 5}})
    assert info.value.param == "top_k"
    assert prepare_body({"model": MODEL}, endpoint="responses") == {"model": MODEL, "stream": True}
