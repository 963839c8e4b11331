"""The emulator's Responses API (proxy/emulator/responses.py), over loopback HTTP: the event stream,
previous_response_id threads, function calls and a mid-stream error."""

from __future__ import annotations

import json

from tests.emulator_fixture import EmulatorServer
from tests.proxy.emulator.test_text import MODEL, WEATHER, post, stream_lines


def test_responses_stream_event_shapes_and_usage(emulator: EmulatorServer) -> None:
    events = stream_lines(emulator, "/responses", {"model": MODEL, "input": "Hello responses"})
    names = [name for name, _ in events]
    assert names[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert names[-1] == "response.completed" and "[DONE]" not in [d for _, d in events]
    assert all(d["type"] == n for n, d in events)
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    text = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    done = events[-1][1]["response"]
    assert text.startswith("[offline emulator]") and done["output"][0]["content"][0]["text"] == text
    assert done["status"] == "completed" and done["usage"]["output_tokens"] > 0
    assert done["usage"]["total_tokens"] == done["usage"]["input_tokens"] + done["usage"]["output_tokens"]


def test_responses_previous_response_id_continues_only_stored_responses(emulator: EmulatorServer) -> None:
    first = post(emulator, "/responses", {"model": MODEL, "input": "My name is Ada"}).json()
    assert first["object"] == "response" and first["store"] is True
    second = post(
        emulator, "/responses", {"model": MODEL, "input": "And yours?", "previous_response_id": first["id"]}
    )
    assert second.status_code == 200 and second.json()["previous_response_id"] == first["id"]
    unstored = post(emulator, "/responses", {"model": MODEL, "input": "Forget me", "store": False}).json()
    missing = post(
        emulator, "/responses", {"model": MODEL, "input": "x", "previous_response_id": unstored["id"]}
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "previous_response_not_found"
    assert missing.json()["error"]["param"] == "previous_response_id"
    # The thread reaches the model: a longer history means more input tokens.
    assert second.json()["usage"]["input_tokens"] > first["usage"]["input_tokens"]


def test_responses_function_calls_and_mid_stream_error(emulator: EmulatorServer) -> None:
    tool = {"type": "function", **WEATHER["function"]}
    events = stream_lines(
        emulator,
        "/responses",
        {"model": MODEL, "input": "weather", "tools": [tool], "tool_choice": "required"},
    )
    added = [
        d for n, d in events if n == "response.output_item.added" and d["item"]["type"] == "function_call"
    ]
    assert added[0]["item"]["name"] == "get_weather"
    arguments = "".join(d["delta"] for n, d in events if n == "response.function_call_arguments.delta")
    assert set(json.loads(arguments)) >= {"city", "days"}
    emulator.inject({"kind": "stream_error", "after_chunks": 3, "message": "boom"})
    failed = stream_lines(emulator, "/responses", {"model": MODEL, "input": "hi"})
    assert failed[-1][0] == "error" and failed[-1][1]["message"] == "boom" and len(failed) == 4
