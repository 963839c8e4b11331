"""The emulator's replies (proxy/emulator/text.py) over loopback HTTP: tool-call arguments that fit the
schema, parallel tool calls, answers to tool results, predicted outputs (speculation). The request
helpers here serve test_template.py and test_responses.py too."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from proxy.emulator.text import make_rng, plan_choice, reply_shape
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


# --- Markdown replies (text.markdown_reply) -----------------------------------------------------------


def _reply(prompt: str, seed: int = 0, **request: Any) -> str:
    body = {"model": MODEL, "messages": [{"role": "user", "content": prompt}], **request}
    return plan_choice(body, mode="chat", reasoning_model=False, seed=seed, index=0, max_tokens=4096).content


@pytest.mark.parametrize(
    ("prompt", "construct"),
    [
        (
            "Compare the two options in a table",
            r"^\| Item \| Size \| Speed \| Notes \|\n\| --- \| ---: \| ---: \| --- \|\n(\| .+ \|\n){2,4}\n",
        ),
        ("Write a python function", r"\n\n```python\n(.*\n)+```\n\n"),
        ("What is the equation?", r"\n\n\$\$\n.+\n\$\$\n\n.*(\\\(.+\\\)|\$[^$\s][^$]*\$)"),
        (
            "Give me a list of tips",
            r"\n\n### .+\n\n((- |\d\. )\*\*.+\*\*: .+\n){2,3}(- |\d\. )\*\*.+\*\*: .+\n\n",
        ),
        ("Explain rivers", r"\*\*.+\*\*.*\n\n> .+\n\n"),
    ],
)
def test_a_word_of_the_prompt_picks_the_markdown_construct(prompt: str, construct: str) -> None:
    text = _reply(prompt)
    assert text.startswith("[offline emulator] You said: “")
    assert re.search(construct, text, re.M), text


def test_replies_are_deterministic_for_a_seed_and_vary_with_it() -> None:
    assert _reply("Tell me something", seed=3) == _reply("Tell me something", seed=3)
    texts = {_reply("Tell me something", seed=seed) for seed in range(20)}
    assert len(texts) == 20
    # With no shape word, the seed picks among all five shapes.
    shapes = {reply_shape(make_rng(seed), "Tell me something") for seed in range(40)}
    assert shapes == {"prose", "list", "table", "code", "math"}


def test_replies_read_as_sentences_not_word_salad() -> None:
    for seed in range(30):
        text = _reply("Explain it", seed=seed)
        paragraphs = [p.removeprefix("> ") for p in text.split("\n\n")]
        for paragraph in paragraphs:
            assert paragraph[-1] in ".:!?", paragraph  # every paragraph ends a sentence
            for sentence in re.split(r"(?<=[.!?]) ", paragraph.removeprefix("[offline emulator] ")):
                assert sentence[0].isupper() or sentence[0] in "“*", sentence
        assert not re.search(r"\ba [aeiou]", text), text  # "an emulated", never "a emulated"
        assert not re.search(r"\b(\w+) \1\b", text), text  # no word twice in a row


def test_a_reply_fault_sends_exactly_its_text(emulator: EmulatorServer) -> None:
    hostile = "<script>alert(1)</script>\n\n[x](javascript:alert(2)) ![i](https://example.com/a.png)"
    emulator.inject({"kind": "reply", "content": hostile})
    assert chat(emulator)["choices"][0]["message"]["content"] == "[offline emulator]\n\n" + hostile
    emulator.inject({"kind": "reply", "content": '{"city": 3}'})
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    answer = chat(emulator, response_format={"type": "json_object", "schema": schema})
    assert answer["choices"][0]["message"]["content"] == '{"city": 3}'  # JSON mode: the text alone
    assert chat(emulator)["choices"][0]["message"]["content"] != "[offline emulator]\n\n" + hostile  # used up
    refused = emulator.client.post("/_emulator/faults", json={"faults": [{"kind": "reply", "content": 5}]})
    assert refused.status_code == 400 and "content must be a string" in refused.text
