"""The offline emulator over real loopback HTTP: endpoints, validation, generation, pace, faults, state."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import httpx
import pytest

from proxy.emulator.app import create_app
from tests.emulator_fixture import EmulatorServer

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
REASONER = "accounts/fireworks/models/qwen3-235b-a22b"
VISION = "accounts/fireworks/models/llama4-maverick-instruct-basic"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}


@pytest.fixture
def emu(emulator: EmulatorServer) -> EmulatorServer:
    """The emulator at a pace that keeps these tests quick."""
    emulator.configure(ttft_ms=5, tokens_per_second=2000)
    return emulator


def chat(**fields: Any) -> dict[str, Any]:
    """A chat request body saying Hi to the default model, with ``fields`` on top."""
    return {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], **fields}


def post(
    emu: EmulatorServer, body: dict[str, Any], path: str = "/chat/completions", **kw: Any
) -> httpx.Response:
    """POST a request and read the whole answer."""
    return emu.client.post(emu.base_url + path, json=body, **kw)


def data_lines(response: httpx.Response) -> list[str]:
    """The ``data:`` payloads of a streamed answer."""
    return [line[6:] for line in response.text.split("\n\n") if line.startswith("data: ")]


def chunks(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON chunks of a streamed answer ([DONE] left out)."""
    return [json.loads(d) for d in data_lines(response) if d != "[DONE]"]


def text_of(parsed: list[dict[str, Any]], key: str = "content", choice: int = 0) -> str:
    """The concatenated ``delta[key]`` of one choice."""
    return "".join(
        c["delta"].get(key) or "" for chunk in parsed for c in chunk["choices"] if c["index"] == choice
    )


def error_message(response: httpx.Response) -> str:
    """The message of a 400 in the recorded invalid_request_error shape."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["object"] == "error" and error["type"] == "invalid_request_error"
    return str(error["message"])


# --- endpoints -------------------------------------------------------------------------------------------


def test_models_lists_the_catalogue(emu: EmulatorServer) -> None:
    response = emu.client.get(emu.base_url + "/models")
    assert response.headers["x-playground-emulator"] == "1"
    listing = response.json()
    assert listing["object"] == "list"
    by_id = {m["id"]: m for m in listing["data"]}
    assert {MODEL, REASONER, VISION, "accounts/fireworks/models/mixtral-8x7b-instruct"} <= set(by_id)
    assert by_id[VISION]["supports_image_input"] is True and by_id[MODEL]["supports_image_input"] is False
    for model in listing["data"]:
        assert set(model) == {
            "id",
            "object",
            "owned_by",
            "created",
            "supports_chat",
            "supports_image_input",
            "supports_tools",
            "context_length",
        }
        assert model["object"] == "model" and model["context_length"] > 0


def test_chat_stream_has_the_recorded_chunk_order_and_headers(emu: EmulatorServer) -> None:
    response = post(emu, chat(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    lines = data_lines(response)
    assert lines[-1] == "[DONE]"
    parsed = chunks(response)
    assert parsed[0]["choices"][0]["delta"] == {"role": "assistant"} and parsed[0]["usage"] is None
    middle, final = parsed[1:-1], parsed[-1]
    assert middle and all(c["usage"] is None and "content" in c["choices"][0]["delta"] for c in middle)
    assert final["choices"][0]["delta"] == {} and final["choices"][0]["finish_reason"] == "stop"
    usage = final["usage"]
    assert usage["completion_tokens"] == len(middle)  # one token per chunk at the default chunk size
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] == int(response.headers["fireworks-prompt-tokens"]) == 12
    assert {c["id"] for c in parsed} == {response.headers["x-request-id"]}
    assert {c["object"] for c in parsed} == {"chat.completion.chunk"}
    text = text_of(parsed)
    assert text.startswith("[offline emulator]")  # never passes for a real model
    assert 20 <= usage["completion_tokens"] <= 140
    for name in (
        "fireworks-sampling-options",
        "fireworks-cached-prompt-tokens",
        "fireworks-server-time-to-first-token",
        "fireworks-middleware-version",
        "server-timing",
        "x-envoy-upstream-service-time",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-limit-tokens-prompt",
        "x-ratelimit-remaining-tokens-prompt",
        "x-ratelimit-limit-tokens-generated",
        "x-ratelimit-remaining-tokens-generated",
        "x-ratelimit-over-limit",
    ):
        assert name in response.headers, name


def test_chat_non_streaming_body(emu: EmulatorServer) -> None:
    response = post(emu, chat(perf_metrics_in_response=True))
    body = response.json()
    assert body["id"] == response.headers["x-request-id"]
    assert body["object"] == "chat.completion" and body["model"] == MODEL
    message = body["choices"][0]["message"]
    assert message["role"] == "assistant" and message["content"].startswith("[offline emulator]")
    assert body["choices"][0]["finish_reason"] == "stop"
    assert float(response.headers["fireworks-server-processing-time"]) > 0
    assert "fireworks-server-time-to-first-token" not in response.headers
    assert body["perf_metrics"]["prompt-tokens"] == body["usage"]["prompt_tokens"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {}),
        ({"temperature": 0.5}, {"temperature": 0.5}),
        ({"top_p": 0.5, "top_k": 40}, {"top_p": 0.5, "top_k": 40}),
        ({"max_completion_tokens": 10}, {"max_tokens": 10}),
        (
            {"max_tokens": 7, "repetition_penalty": 1.1, "min_p": 0.05},
            {"max_tokens": 7, "repetition_penalty": 1.1, "min_p": 0.05},
        ),
    ],
)
def test_sampling_options_header_follows_the_request(
    emu: EmulatorServer, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = post(emu, chat(stream=True, **fields))
    applied = json.loads(response.headers["fireworks-sampling-options"])
    defaults = {
        "max_tokens": 2048,
        "temperature": 1.0,
        "top_k": 0,
        "top_p": 1.0,
        "min_p": 0.0,
        "typical_p": 1.0,
        "frequency_penalty": 0.0,
        "presence_penalty": 0.0,
        "repetition_penalty": 1.0,
        "mirostat_target": None,
        "mirostat_lr": 0.1,
    }
    assert applied == {**defaults, **expected}


def test_completions_stream_with_echo_and_max_tokens(emu: EmulatorServer) -> None:
    body = {"model": MODEL, "prompt": "Once upon", "max_tokens": 10, "stream": True, "echo": True}
    parsed = chunks(post(emu, body, "/completions"))
    assert {c["object"] for c in parsed} == {"text_completion"}
    texts = [c["choices"][0]["text"] for c in parsed]
    assert texts[0] == "Once upon"  # echo: the prompt first
    assert texts[1].startswith("[offline emulator]")
    assert all(c["choices"][0]["logprobs"] is None for c in parsed)
    final = parsed[-1]
    assert final["choices"][0] == {"index": 0, "text": "", "logprobs": None, "finish_reason": "length"}
    assert final["usage"] == {"prompt_tokens": 3, "total_tokens": 13, "completion_tokens": 10}


def test_completions_with_a_list_of_prompts(emu: EmulatorServer) -> None:
    body = {"model": MODEL, "prompt": ["One", "Two"], "n": 2, "max_tokens": 4}
    choices = post(emu, body, "/completions").json()["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2, 3]
    assert all(c["text"].startswith("[offline emulator]") for c in choices)


def test_unknown_fields_are_ignored(emu: EmulatorServer) -> None:
    response = post(emu, chat(some_future_field={"x": 1}, prompt_cache_key="k"))
    assert response.status_code == 200


# --- generation ------------------------------------------------------------------------------------------


def test_same_seed_same_reply_other_seed_other_reply(emu: EmulatorServer) -> None:
    first = post(emu, chat(seed=42)).json()["choices"][0]["message"]["content"]
    again = post(emu, chat(seed=42)).json()["choices"][0]["message"]["content"]
    other = post(emu, chat(seed=43)).json()["choices"][0]["message"]["content"]
    assert first == again != other
    emu.configure(seed=42)
    assert post(emu, chat()).json()["choices"][0]["message"]["content"] == first  # the configured seed


def test_stop_sequence_cuts_the_reply(emu: EmulatorServer) -> None:
    full = post(emu, chat(seed=1)).json()["choices"][0]["message"]["content"]
    word = full.split()[8]
    stopped = post(emu, chat(seed=1, stop=[word, "zzz-never"])).json()["choices"][0]
    assert stopped["finish_reason"] == "stop"
    assert stopped["message"]["content"] == full[: full.index(word)]


def test_max_tokens_cut_finishes_with_length(emu: EmulatorServer) -> None:
    response = post(emu, chat(max_tokens=5, stream=True))
    parsed = chunks(response)
    assert parsed[-1]["choices"][0]["finish_reason"] == "length"
    assert parsed[-1]["usage"]["completion_tokens"] == 5


def test_n_choices_stream_side_by_side(emu: EmulatorServer) -> None:
    parsed = chunks(post(emu, chat(n=3, stream=True)))
    finals = [c for chunk in parsed for c in chunk["choices"] if c["finish_reason"]]
    assert sorted(c["index"] for c in finals) == [0, 1, 2]
    texts = {text_of(parsed, choice=i) for i in range(3)}
    assert len(texts) == 3 and all(t.startswith("[offline emulator]") for t in texts)
    assert parsed[-1]["usage"]["completion_tokens"] == sum(
        1 for chunk in parsed[:-1] for c in chunk["choices"] if "content" in c["delta"]
    )


def test_logprobs_true_gives_content_format_with_alternatives(emu: EmulatorServer) -> None:
    parsed = chunks(post(emu, chat(stream=True, logprobs=True, top_logprobs=3)))
    entries = [
        e for chunk in parsed for c in chunk["choices"] for e in (c.get("logprobs") or {}).get("content", [])
    ]
    assert "".join(e["token"] for e in entries) == text_of(parsed)
    for entry in entries:
        assert set(entry) == {"token", "bytes", "logprob", "token_id", "top_logprobs"}
        assert bytes(entry["bytes"]).decode() == entry["token"] and entry["logprob"] <= 0
        assert len(entry["top_logprobs"]) == 3 and entry["top_logprobs"][0]["token"] == entry["token"]


def test_logprobs_int_gives_legacy_format(emu: EmulatorServer) -> None:
    body = {"model": MODEL, "prompt": "Hi", "logprobs": 2, "max_tokens": 6}
    choice = post(emu, body, "/completions").json()["choices"][0]
    legacy = choice["logprobs"]
    assert set(legacy) == {"tokens", "token_logprobs", "top_logprobs", "text_offset", "token_ids"}
    assert "".join(legacy["tokens"]) == choice["text"] and len(legacy["tokens"]) == 6
    assert all(len(alternatives) == 2 for alternatives in legacy["top_logprobs"])
    assert legacy["text_offset"][1] == len(legacy["tokens"][0])


def test_reasoning_model_thinks_before_answering(emu: EmulatorServer) -> None:
    parsed = chunks(post(emu, chat(model=REASONER, stream=True)))
    kinds = [next(iter(c["choices"][0]["delta"])) for c in parsed[1:-1]]
    first_content = kinds.index("content")
    assert first_content > 0 and set(kinds[:first_content]) == {"reasoning_content"}
    assert "reasoning_content" not in kinds[first_content:]
    plain = chunks(post(emu, chat(model=REASONER, stream=True, reasoning_effort="none")))
    assert text_of(plain, "reasoning_content") == ""
    asked = post(emu, chat(reasoning_effort="low")).json()["choices"][0]["message"]
    assert asked["reasoning_content"].startswith("[emulated reasoning]")


def test_json_schema_reply_is_json_with_the_required_keys(emu: EmulatorServer) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age", "extra"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    value = json.loads(post(emu, chat(response_format=fmt)).json()["choices"][0]["message"]["content"])
    assert set(value) == {"name", "age", "extra"} and isinstance(value["age"], int)
    anything = post(emu, chat(response_format={"type": "json_object"})).json()["choices"][0]["message"]
    assert isinstance(json.loads(anything["content"]), dict)


def test_required_tool_choice_streams_a_tool_call(emu: EmulatorServer) -> None:
    parsed = chunks(post(emu, chat(stream=True, tools=[WEATHER_TOOL], tool_choice="required")))
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0] for c in parsed if "tool_calls" in c["choices"][0]["delta"]
    ]
    head, rest = calls[0], calls[1:]
    assert head["id"].startswith("call_") and head["type"] == "function"
    assert head["function"] == {"name": "get_weather", "arguments": ""}
    assert rest and all(set(c) == {"index", "function"} for c in rest)
    arguments = json.loads("".join(c["function"]["arguments"] for c in rest))
    assert set(arguments) == {"city", "days"}
    assert parsed[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_call_only_when_asked(emu: EmulatorServer) -> None:
    def message(text: str, **fields: Any) -> dict[str, Any]:
        body = chat(tools=[WEATHER_TOOL], messages=[{"role": "user", "content": text}], **fields)
        return post(emu, body).json()["choices"][0]

    assert message("What is the get_weather for Paris?")["finish_reason"] == "tool_calls"
    assert message("Tell me a story")["message"].get("tool_calls") is None
    assert message("Call get_weather", tool_choice="none")["finish_reason"] == "stop"
    named = message("Tell me a story", tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert named["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_image_parts_only_for_the_vision_model(emu: EmulatorServer) -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    messages = [{"role": "user", "content": parts}]
    assert post(emu, chat(model=VISION, messages=messages)).status_code == 200
    assert "messages[0].content[1]" in error_message(post(emu, chat(messages=messages)))


# --- validation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"temperature": 3}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 101}, "top_k"),
        ({"n": 0}, "n"),
        ({"n": 129}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 5, "max_completion_tokens": 5}, "max_completion_tokens"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": 9}, "logprobs"),
        ({"frequency_penalty": -3}, "frequency_penalty"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "Hi"}]}, "role"),
        ({"messages": None}, "messages"),
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}, "reasoning_effort": "low"}, "thinking"),
        ({"thinking": {"type": "enabled", "budget_tokens": 10}}, "budget_tokens"),
    ],
)
def test_out_of_range_parameters_are_refused_by_name(
    emu: EmulatorServer, fields: dict[str, Any], named: str
) -> None:
    assert named in error_message(post(emu, chat(**fields)))


def test_mixtral_refuses_repeated_roles_as_recorded(emu: EmulatorServer) -> None:
    messages = [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hi"}]
    body = chat(model="accounts/fireworks/models/mixtral-8x7b-instruct", messages=messages)
    assert error_message(post(emu, body)).startswith("jinja template rendering failed.")


def test_context_length_exceeded_with_error_behavior(emu: EmulatorServer) -> None:
    body = chat(
        model="accounts/yi-01-ai/models/yi-large", max_tokens=40000, context_length_exceeded_behavior="error"
    )
    assert "context length" in error_message(post(emu, body))
    truncated = post(emu, chat(model="accounts/yi-01-ai/models/yi-large", max_tokens=40000))
    assert json.loads(truncated.headers["fireworks-sampling-options"])["max_tokens"] == 32768 - 12


@pytest.mark.parametrize(
    ("model", "status"),
    [
        ("accounts/fireworks/models/no-such-model", 404),
        ("accounts/acme/deployments/abc123", 200),
        (f"{MODEL}#accounts/acme/deployments/abc123", 200),
        ("accounts/fireworks/models/no-such-model#accounts/acme/deployments/abc123", 404),
    ],
)
def test_model_ids(emu: EmulatorServer, model: str, status: int) -> None:
    response = post(emu, chat(model=model))
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"error": "Model not found, inaccessible, and/or not deployed"}
        assert "x-request-id" not in response.headers
    else:
        assert response.json()["model"] == model


def test_authorization(emu: EmulatorServer) -> None:
    assert post(emu, chat(), headers={"authorization": "Bearer fw_anything"}).status_code == 200
    refused = post(emu, chat(), headers={"authorization": "Bearer fw_invalid"})
    assert refused.status_code == 401
    body = refused.json()
    assert (
        body["error"]["code"] == "UNAUTHENTICATED" and body["request_id"] == refused.headers["x-request-id"]
    )
    assert (
        emu.client.get(emu.base_url + "/models", headers={"authorization": "Bearer fw_invalid"}).status_code
        == 401
    )


# --- headers that carry state ----------------------------------------------------------------------------


def test_rate_limit_and_cached_prompt_headers(emu: EmulatorServer) -> None:
    first, second = post(emu, chat()), post(emu, chat())
    assert (
        int(second.headers["x-ratelimit-remaining-requests"])
        == int(first.headers["x-ratelimit-remaining-requests"]) - 1
    )
    assert first.headers["fireworks-cached-prompt-tokens"] == "0"
    assert second.headers["fireworks-cached-prompt-tokens"] == "12"  # the same prompt again: cached
    assert second.json()["usage"]["prompt_tokens_details"] == {"cached_tokens": 12}
    isolated = post(emu, chat(prompt_cache_key="k"), headers={"x-prompt-cache-isolation-key": "other-team"})
    assert isolated.headers["fireworks-cached-prompt-tokens"] == "0"


# --- pace --------------------------------------------------------------------------------------------------


def test_pace_is_roughly_honoured_and_the_schedule_is_recorded(emu: EmulatorServer) -> None:
    emu.configure(ttft_ms=150, tokens_per_second=200, chunk_tokens=2)
    started = time.monotonic()
    arrivals = []
    with emu.client.stream(
        "POST", emu.base_url + "/chat/completions", json=chat(stream=True, max_tokens=30)
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic() - started)
    assert arrivals[0] >= 0.14  # nothing before the time to first token
    assert arrivals[-1] >= 0.15 + 30 / 200 - 0.02  # 30 tokens at 200 tokens/s
    stream = emu.state()["streams"][-1]
    schedule = stream["schedule_ms"]
    assert len(schedule) == len(arrivals) == 1 + 15 + 1 + 1  # role, 15 chunks of 2 tokens, final, [DONE]
    assert schedule[0] == pytest.approx(150)
    assert schedule[1:16] == pytest.approx([150 + 10 * k for k in range(15)])
    assert schedule[-1] == pytest.approx(150 + 150)
    assert stream["end"] == "completed" and stream["chunks_sent"] == 17


def test_config_is_checked_and_reset_restores_the_defaults(emu: EmulatorServer) -> None:
    bad = emu.client.post(emu.root_url + "/_emulator/config", json={"tokens_per_second": 0})
    assert bad.status_code == 400
    assert emu.client.post(emu.root_url + "/_emulator/config", json={"warp": 9}).status_code == 400
    emu.inject({"kind": "no_done"})
    emu.client.post(emu.root_url + "/_emulator/reset").raise_for_status()
    config = emu.client.get(emu.root_url + "/_emulator/config").json()
    assert config == {
        "ttft_ms": 250.0,
        "tokens_per_second": 60.0,
        "chunk_tokens": 1,
        "seed": 0,
        "usage_placement": "final_chunk",
        "queue_ms_per_stream": 40.0,
        "cold_start_ms": 3000.0,
        "cold_after_s": 300.0,
        "cache_replicas": 4,
        "cached_prefill_saving": 0.5,
    }
    assert emu.client.get(emu.root_url + "/_emulator/faults").json() == {"faults": []}
    assert emu.state() == {"requests": [], "streams": [], "open_streams": 0}


# --- faults ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "check"),
    [
        ("object", lambda r: r.json()["error"]["object"] == "error"),
        ("string", lambda r: isinstance(r.json()["error"], str)),
        ("coded", lambda r: r.json()["error"]["code"] == "UNAVAILABLE" and r.json()["request_id"]),
        ("detail", lambda r: isinstance(r.json()["detail"], str)),
        ("empty", lambda r: r.content == b"" and r.headers["content-length"] == "0"),
        ("text", lambda r: r.headers["content-type"].startswith("text/plain") and "reset" in r.text),
    ],
)
def test_status_fault_shapes(emu: EmulatorServer, shape: str, check: Any) -> None:
    emu.inject({"kind": "status", "status": 503, "shape": shape, "retry_after": 2})
    response = post(emu, chat(stream=True))
    assert response.status_code == 503 and check(response)
    assert response.headers["retry-after"] == "2"
    assert post(emu, chat()).status_code == 200  # the fault was used up


def test_faults_queue_in_order_and_can_be_cleared(emu: EmulatorServer) -> None:
    emu.inject({"kind": "status", "status": 429}, {"kind": "status", "status": 500})
    assert [post(emu, chat()).status_code for _ in range(3)] == [429, 500, 200]
    emu.inject({"kind": "status", "status": 429})
    emu.client.delete(emu.root_url + "/_emulator/faults").raise_for_status()
    assert post(emu, chat()).status_code == 200
    refused = emu.client.post(emu.root_url + "/_emulator/faults", json={"faults": [{"kind": "meteor"}]})
    assert refused.status_code == 400


def test_fault_from_a_request_header_leaves_the_queue_alone(emu: EmulatorServer) -> None:
    emu.inject({"kind": "status", "status": 429})
    header = {"x-emulator-fault": json.dumps({"kind": "status", "status": 418, "shape": "string"})}
    assert post(emu, chat(), headers=header).status_code == 418
    assert post(emu, chat()).status_code == 429


def test_stall_mid_stream(emu: EmulatorServer) -> None:
    emu.inject({"kind": "stall", "after_chunks": 2, "seconds": 0.3})
    arrivals = []
    started = time.monotonic()
    with emu.client.stream("POST", emu.base_url + "/chat/completions", json=chat(stream=True)) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic() - started)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert gaps[1] == max(gaps) and arrivals[-1] >= 0.3  # the pause falls between the 2nd and the 3rd chunk
    schedule = emu.state()["streams"][-1]["schedule_ms"]
    assert schedule[2] - schedule[1] == pytest.approx(300, abs=1)


def test_stall_before_headers(emu: EmulatorServer) -> None:
    emu.inject({"kind": "stall", "after_chunks": -1, "seconds": 0.3})
    started = time.monotonic()
    with emu.client.stream("POST", emu.base_url + "/chat/completions", json=chat(stream=True)) as r:
        assert time.monotonic() - started >= 0.25
        assert r.status_code == 200


def test_cut_closes_the_connection_mid_stream(emu: EmulatorServer) -> None:
    emu.inject({"kind": "cut", "after_chunks": 3})
    received = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        emu.client.stream("POST", emu.base_url + "/chat/completions", json=chat(stream=True)) as r,
    ):
        for line in r.iter_lines():
            if line.startswith("data: "):
                received.append(line)
    assert len(received) == 3
    stream = emu.state()["streams"][-1]
    assert stream["end"] == "cut" and stream["chunks_sent"] == 3


def test_cut_of_a_non_streaming_body(emu: EmulatorServer) -> None:
    emu.inject({"kind": "cut"})
    with pytest.raises(httpx.RemoteProtocolError):
        post(emu, chat())


def test_a_bad_fault_header_is_refused(emu: EmulatorServer) -> None:
    response = post(emu, chat(), headers={"x-emulator-fault": "{not json"})
    assert "x-emulator-fault" in error_message(response)


def test_malformed_line_then_the_stream_goes_on(emu: EmulatorServer) -> None:
    emu.inject({"kind": "malformed", "after_chunks": 2})
    lines = data_lines(post(emu, chat(stream=True)))
    bad = [i for i, line in enumerate(lines) if line != "[DONE]" and not _is_json(line)]
    assert bad == [2] and lines[-1] == "[DONE]"


def test_stream_error_event_ends_the_stream(emu: EmulatorServer) -> None:
    emu.inject({"kind": "stream_error", "after_chunks": 4})
    lines = data_lines(post(emu, chat(stream=True)))
    assert len(lines) == 5 and "[DONE]" not in lines
    assert json.loads(lines[-1])["error"]["message"]
    assert emu.state()["streams"][-1]["end"] == "error"


def test_no_done(emu: EmulatorServer) -> None:
    emu.inject({"kind": "no_done"})
    lines = data_lines(post(emu, chat(stream=True)))
    assert lines[-1] != "[DONE]" and json.loads(lines[-1])["usage"]["completion_tokens"] > 0


def test_split_writes_reassemble_to_the_same_stream(emu: EmulatorServer) -> None:
    whole = post(emu, chat(stream=True, seed=5))
    pieces = []
    with emu.client.stream(
        "POST",
        emu.base_url + "/chat/completions",
        json=chat(stream=True, seed=5),
        headers={"x-emulator-fault": json.dumps({"kind": "split"})},
    ) as r:
        pieces = list(r.iter_raw())
    split = b"".join(pieces).decode()
    assert len(pieces) > len(data_lines(whole))  # more reads than events: the writes really were split
    reassembled = [json.loads(d[6:]) for d in split.split("\n\n") if d.startswith("data: {")]
    assert text_of(reassembled) == text_of(chunks(whole)) and split.endswith("data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("placement", "include_usage", "where"),
    [
        ("final_chunk", False, "final"),
        ("extra_chunk", True, "extra"),
        ("extra_chunk", False, "nowhere"),
        ("none", True, "nowhere"),
    ],
)
def test_usage_placement(emu: EmulatorServer, placement: str, include_usage: bool, where: str) -> None:
    emu.inject({"kind": "usage", "placement": placement})
    parsed = chunks(post(emu, chat(stream=True, stream_options={"include_usage": include_usage})))
    with_usage = [c for c in parsed if c["usage"]]
    if where == "nowhere":
        assert with_usage == []
    elif where == "final":
        assert with_usage == [parsed[-1]] and parsed[-1]["choices"][0]["finish_reason"] == "stop"
    else:
        assert with_usage == [parsed[-1]] and parsed[-1]["choices"] == []
        assert parsed[-2]["choices"][0]["finish_reason"] == "stop" and parsed[-2]["usage"] is None


def test_usage_placement_from_config_and_perf_metrics(emu: EmulatorServer) -> None:
    emu.configure(usage_placement="extra_chunk")
    body = chat(stream=True, stream_options={"include_usage": True}, perf_metrics_in_response=True)
    parsed = chunks(post(emu, body))
    assert parsed[-1]["choices"] == [] and parsed[-1]["usage"]["prompt_tokens"] == 12
    metrics = parsed[-2]["perf_metrics"]
    assert {
        "prompt-tokens",
        "cached-prompt-tokens",
        "server-time-to-first-token",
        "server-processing-time",
    } <= set(metrics)


# --- state and disconnects ---------------------------------------------------------------------------------


def test_state_logs_requests_with_the_key_redacted(emu: EmulatorServer) -> None:
    response = post(emu, chat(), headers={"authorization": "Bearer fw_secret_123"})
    state = emu.state()
    assert "fw_secret_123" not in json.dumps(state)
    (logged,) = state["requests"]
    assert logged["headers"]["authorization"] == "Bearer ***"
    assert logged["path"] == "/inference/v1/chat/completions" and logged["body"] == chat()
    assert logged["request_id"] == response.headers["x-request-id"] and logged["at"] <= time.time()
    for _ in range(55):
        emu.client.post(emu.base_url + "/chat/completions", content=b"not json")
    assert len(emu.state()["requests"]) == 56  # the tests' emulator keeps 500 (create_app(request_history))


def test_the_request_log_is_bounded() -> None:
    async def log_length() -> int:
        transport = httpx.ASGITransport(app=create_app())  # the default: the last 50
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            for _ in range(55):
                await client.post("/inference/v1/chat/completions", content=b"not json")
            return len((await client.get("/_emulator/state")).json()["requests"])

    assert asyncio.run(log_length()) == 50


def test_client_disconnect_mid_stream_is_seen_at_once(emu: EmulatorServer) -> None:
    emu.configure(ttft_ms=5, tokens_per_second=20)  # a chunk every 50 ms: the close lands between chunks
    with emu.client.stream("POST", emu.base_url + "/chat/completions", json=chat(stream=True)) as r:
        lines = r.iter_lines()
        while not next(lines).startswith('data: {"id"'):
            pass
        assert emu.state()["open_streams"] == 1
        r.close()
        closed_at = time.time()
    stream = _wait_for_end(emu)
    assert stream["end"] == "client_disconnected"
    assert stream["ended_at"] - closed_at < 0.1
    assert emu.state()["open_streams"] == 0


async def test_client_disconnect_before_the_headers_is_recorded(emu: EmulatorServer) -> None:
    emu.configure(ttft_ms=2000)
    async with httpx.AsyncClient() as client:
        task = asyncio.create_task(client.post(emu.base_url + "/chat/completions", json=chat(stream=True)))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cancelled_at = time.time()
    stream = await asyncio.to_thread(_wait_for_end, emu)
    assert stream["end"] == "client_disconnected" and stream["chunks_sent"] == 0
    assert stream["ended_at"] - cancelled_at < 0.1


def _wait_for_end(emu: EmulatorServer) -> dict[str, Any]:
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        streams = emu.state()["streams"]
        if streams and streams[-1]["end"]:
            return dict(streams[-1])
        time.sleep(0.01)
    raise AssertionError("the emulator did not record the stream's end")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_top_logprobs_with_logprobs_gives_the_alternatives(emulator):
    """top_logprobs is accepted when logprobs is on, and each token carries that many alternatives."""
    body = {
        "model": "accounts/fireworks/models/llama-v3p1-8b-instruct",
        "messages": [{"role": "user", "content": "Hi"}],
        "logprobs": True,
        "top_logprobs": 2,
        "max_tokens": 5,
    }
    response = httpx.post(f"{emulator.base_url}/chat/completions", json=body)
    assert response.status_code == 200, response.text
    tokens = response.json()["choices"][0]["logprobs"]["content"]
    assert tokens and all(len(t["top_logprobs"]) == 2 for t in tokens)
