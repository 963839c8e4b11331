"""The emulator's raw_output/echo, parallel tool calls and answers to tool results, predicted outputs and
the Responses API (issue 7), over loopback HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.emulator_fixture import EmulatorServer

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "days"],
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}
CODE = "def add(a, b):\n    return a + b\n\nprint(add(1, 2))\n"


def post(emulator: EmulatorServer, path: str, body: dict[str, Any]) -> httpx.Response:
    return emulator.client.post(f"/inference/v1{path}", json=body)


def chat(emulator: EmulatorServer, **body: Any) -> dict[str, Any]:
    body.setdefault("model", MODEL)
    body.setdefault("messages", [{"role": "user", "content": "Hi"}])
    response = post(emulator, "/chat/completions", body)
    assert response.status_code == 200, response.text
    return response.json()


def stream_lines(emulator: EmulatorServer, path: str, body: dict[str, Any]) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) of every SSE event."""
    response = post(emulator, path, {**body, "stream": True})
    assert response.status_code == 200, response.text
    out: list[tuple[str | None, Any]] = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        name = None
        data = ""
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        out.append((name, data if data == "[DONE]" else json.loads(data)))
    return out


def test_raw_output_per_choice_lines_up_fragments_and_token_ids(emulator: EmulatorServer) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    body = chat(emulator, messages=messages, raw_output=True, n=2)
    for choice in body["choices"]:
        raw = choice["raw_output"]
        assert len(raw["prompt_fragments"]) == len(raw["prompt_token_ids"])
        prompt = "".join(raw["prompt_fragments"])
        assert "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" in prompt
        assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
        assert raw["completion"] == choice["message"]["content"]
        assert raw["completion_token_ids"]
    # Streamed: on each choice's final chunk.
    events = stream_lines(
        emulator, "/chat/completions", {"model": MODEL, "messages": messages, "raw_output": True}
    )
    finals = [d for _, d in events if d != "[DONE]" and d["choices"] and d["choices"][0]["finish_reason"]]
    assert finals[0]["choices"][0]["raw_output"]["prompt_token_ids"][0] == 128000


def test_return_token_ids_alone_gives_only_ids_and_chat_echo_prepends_the_prompt(
    emulator: EmulatorServer,
) -> None:
    raw = chat(emulator, return_token_ids=True)["choices"][0]["raw_output"]
    assert set(raw) == {"prompt_token_ids", "completion_token_ids"}
    echoed = chat(emulator, echo=True)["choices"][0]["message"]["content"]
    assert echoed.startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>")
    assert "[offline emulator]" in echoed


def test_raw_completion_shows_the_tool_call_before_parsing(emulator: EmulatorServer) -> None:
    body = chat(emulator, tools=[WEATHER], tool_choice="required", raw_output=True)
    choice = body["choices"][0]
    call = choice["message"]["tool_calls"][0]
    assert choice["raw_output"]["completion"].startswith("<|python_tag|>")
    assert (
        json.loads(choice["raw_output"]["completion"].removeprefix("<|python_tag|>"))["name"]
        == call["function"]["name"]
    )


def test_tool_call_arguments_fit_the_schema_and_stream_as_id_name_then_fragments(
    emulator: EmulatorServer,
) -> None:
    events = stream_lines(
        emulator,
        "/chat/completions",
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "weather?"}],
            "tools": [WEATHER],
            "tool_choice": "required",
        },
    )
    fragments = [
        f
        for _, d in events
        if d != "[DONE]"
        for c in d["choices"]
        for f in c["delta"].get("tool_calls") or []
    ]
    assert fragments[0]["id"].startswith("call_") and fragments[0]["function"]["name"] == "get_weather"
    assert all("id" not in f for f in fragments[1:]) and len(fragments) > 2
    arguments = json.loads("".join(f["function"]["arguments"] for f in fragments))
    assert isinstance(arguments["city"], str) and 1 <= arguments["days"] <= 7


def test_parallel_tool_calls_when_allowed_one_when_not(emulator: EmulatorServer) -> None:
    ask = [{"role": "user", "content": "Call get_weather and get_time for Paris"}]
    both = chat(emulator, messages=ask, tools=[WEATHER, TIME])["choices"][0]
    assert [c["function"]["name"] for c in both["message"]["tool_calls"]] == ["get_weather", "get_time"]
    assert [c["index"] for c in both["message"]["tool_calls"]] == [0, 1]
    assert both["finish_reason"] == "tool_calls"
    one = chat(emulator, messages=ask, tools=[WEATHER, TIME], parallel_tool_calls=False)["choices"][0]
    assert len(one["message"]["tool_calls"]) == 1
    streamed = stream_lines(
        emulator, "/chat/completions", {"model": MODEL, "messages": ask, "tools": [WEATHER, TIME]}
    )
    indexes = {
        f["index"]
        for _, d in streamed
        if d != "[DONE]"
        for c in d["choices"]
        for f in c["delta"].get("tool_calls") or []
    }
    assert indexes == {0, 1}


def test_after_a_tool_result_it_answers_with_it(emulator: EmulatorServer) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris", "days": 1}'},
    }
    messages = [
        {"role": "user", "content": "What is the weather? Use the tool."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 24 degrees"},
    ]
    choice = chat(emulator, messages=messages, tools=[WEATHER])["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "get_weather" in choice["message"]["content"]
    assert "Sunny, 24 degrees" in choice["message"]["content"]


def _tps(emulator: EmulatorServer, body: dict[str, Any]) -> tuple[float, dict[str, Any], str]:
    response = post(emulator, "/chat/completions", {**body, "stream": True, "perf_metrics_in_response": True})
    perf = {}
    text = ""
    for block in response.text.split("\n\n"):
        if block.startswith("data: {"):
            data = json.loads(block[6:])
            perf = data.get("perf_metrics") or perf
            for c in data["choices"]:
                text += c["delta"].get("content") or ""
    state = emulator.state()["streams"][-1]
    offsets = state["schedule_ms"]
    return (
        (len(offsets) - 2) / ((offsets[-1] - offsets[1]) / 1000),
        perf,
        response.headers.get("fireworks-speculation-prompt-matched-tokens", "") + text,
    )


def test_prediction_copies_matching_spans_reports_speculation_and_is_faster(emulator: EmulatorServer) -> None:
    emulator.configure(ttft_ms=1, tokens_per_second=2000)
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"Rename add to plus:\n```python\n{CODE}```"}],
    }
    plain_rate, plain_perf, plain = _tps(emulator, body)
    assert "speculation-prompt-tokens" not in plain_perf
    fast_rate, perf, predicted = _tps(emulator, {**body, "prediction": {"type": "content", "content": CODE}})
    assert perf["speculation-prompt-tokens"] > 0
    assert 0 < perf["speculation-prompt-matched-tokens"] <= perf["speculation-prompt-tokens"]
    # The same output either way (the prediction only speeds it up), and more tokens per second with it.
    assert predicted.endswith(plain)
    assert predicted.startswith(str(perf["speculation-prompt-matched-tokens"]))
    assert fast_rate > plain_rate * 1.5


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
