"""The upstream client for issue 7: raw_output, tool calls, speculation metrics and the Responses stream
(httpx.MockTransport, then the emulator over loopback)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from proxy.client.client import UpstreamClient, prepare_body
from proxy.client.errors import UpstreamError, UpstreamStreamError
from proxy.client.events import Delta, Done, Finish, Opened, Perf, RawOutput, Usage
from proxy.frames import parse_start
from proxy.protocol import FrameError
from proxy.relay import StreamRecord
from tests.emulator_fixture import EmulatorServer
from tests.test_upstream import BASE, BODY, KEY, MODEL, choice, chunk, kinds, sse, stream_response

RESPONSES_BODY: dict[str, Any] = {"model": MODEL, "input": "Hi", "stream": True}


def events_sse(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def created(rid: str = "resp_1") -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": rid, "model": MODEL, "status": "in_progress"}}


def completed(
    rid: str = "resp_1", output: list[Any] | None = None, status: str = "completed"
) -> dict[str, Any]:
    usage = {
        "input_tokens": 9,
        "output_tokens": 3,
        "total_tokens": 12,
        "input_tokens_details": {"cached_tokens": 4},
    }
    return {
        "type": f"response.{status}",
        "response": {"id": rid, "model": MODEL, "status": status, "output": output or [], "usage": usage},
    }


async def run(client: UpstreamClient, body: dict[str, Any], endpoint: Any = "chat") -> list[Any]:
    return [e async for e in client.stream_chat(body, endpoint=endpoint)]


@pytest.fixture
async def mock() -> Any:
    made: list[UpstreamClient] = []

    def make(raw: bytes, headers: dict[str, str] | None = None) -> UpstreamClient:
        client = UpstreamClient(
            base_url=BASE, api_key=KEY, transport=httpx.MockTransport(stream_response(raw, headers))
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


async def test_raw_output_becomes_its_own_event_and_a_chat_raw_frame(mock: Any) -> None:
    raw = {"prompt_fragments": ["<|begin_of_text|>", "Hi"], "prompt_token_ids": [1, 2], "completion": "Hey"}
    final = {**choice(0, "stop"), "raw_output": raw}
    events = await run(mock(sse(chunk(choice(0, content="Hey")), chunk(final))), BODY)
    assert kinds(events) == ["Opened", "Delta", "RawOutput", "Finish", "Done"]
    assert events[2] == RawOutput(choice=0, raw=raw)
    relay = StreamRecord("s")
    frames = relay.frames(events)
    assert {"type": "chat.raw", "choice": 0, "raw_output": raw}.items() <= frames[2].items()
    assert relay.output()[0]["raw_output"] == raw


async def test_responses_events_become_chat_events(mock: Any) -> None:
    call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_9",
        "name": "get_weather",
        "arguments": "",
    }
    raw = events_sse(
        created(),
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "m"}},
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Hel"},
        {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "lo"},
        {"type": "response.output_item.added", "output_index": 1, "item": call},
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": '{"city":'},
        {"type": "response.function_call_arguments.delta", "output_index": 1, "delta": '"Paris"}'},
        completed(output=[call]),
    )
    client = mock(raw)
    events = await run(client, RESPONSES_BODY, "responses")
    assert kinds(events) == ["Opened", "Delta", "Delta", "Delta", "Delta", "Delta", "Finish", "Usage", "Done"]
    assert "".join(e.content or "" for e in events if isinstance(e, Delta)) == "Hello"
    assert events[3].tool_calls == [
        {"index": 0, "id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    ]
    assert events[-3] == Finish(choice=0, reason="tool_calls")
    usage = events[-2]
    assert isinstance(usage, Usage) and (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_tokens,
    ) == (9, 3, 4)
    done = events[-1]
    assert isinstance(done, Done) and done.response_id == "resp_1" and done.saw_done_marker
    relay = StreamRecord("s")
    relay.frames(events)
    assert relay.output()[0]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }


async def test_responses_incomplete_is_length(mock: Any) -> None:
    events = await run(
        mock(events_sse(created(), completed(status="incomplete"))), RESPONSES_BODY, "responses"
    )
    assert Finish(choice=0, reason="length") in events


@pytest.mark.parametrize(
    "failure",
    [
        {"type": "error", "code": "server_error", "message": "the model crashed", "param": None},
        {
            "type": "response.failed",
            "response": {"id": "r", "error": {"code": "x", "message": "the model crashed"}},
        },
    ],
)
async def test_responses_errors_in_the_stream(mock: Any, failure: dict[str, Any]) -> None:
    raw = events_sse(created(), {"type": "response.output_text.delta", "delta": "Hi"}, failure)
    with pytest.raises(UpstreamStreamError) as info:
        await run(mock(raw), RESPONSES_BODY, "responses")
    assert "the model crashed" in info.value.message


async def test_a_responses_stream_cut_before_completed_is_incomplete(mock: Any) -> None:
    raw = events_sse(created(), {"type": "response.output_text.delta", "delta": "Hi"})
    with pytest.raises(UpstreamError) as info:
        await run(mock(raw), RESPONSES_BODY, "responses")
    assert info.value.code == "incomplete_stream"


async def test_a_whole_responses_json_answer(mock: Any) -> None:
    whole = completed(output=[{"type": "message", "content": [{"type": "output_text", "text": "Whole"}]}])[
        "response"
    ]
    client = mock(json.dumps(whole).encode(), {"content-type": "application/json"})
    events = await run(client, RESPONSES_BODY, "responses")
    assert kinds(events) == ["Opened", "Delta", "Finish", "Usage", "Done"]


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


# --- against the emulator --------------------------------------------------------------------------


async def test_emulator_raw_output_tool_calls_and_speculation(emulator: EmulatorServer) -> None:
    client = UpstreamClient(base_url=emulator.base_url, api_key=KEY)
    try:
        tools = [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "parameters": {
                        "type": "object",
                        "properties": {"q": {"type": "string"}},
                        "required": ["q"],
                    },
                },
            }
        ]
        body = prepare_body({**BODY, "tools": tools, "tool_choice": "required", "raw_output": True})
        events = await run(client, body)
        relay = StreamRecord("s")
        relay.frames(events)
        out = relay.output()[0]
        assert out["finish_reason"] == "tool_calls"
        assert json.loads(out["tool_calls"][0]["function"]["arguments"]).keys() == {"q"}
        assert out["raw_output"]["completion"].startswith("<|python_tag|>")
        code = "x = 1\ny = 2\nprint(x + y)\n"
        edit = {"role": "user", "content": f"Swap:\n```\n{code}```"}
        body = prepare_body(
            {"model": MODEL, "messages": [edit], "prediction": {"type": "content", "content": code}}
        )
        events = await run(client, body)
        perf = next(e for e in events if isinstance(e, Perf)).metrics
        opened = next(e for e in events if isinstance(e, Opened))
        assert perf["speculation-prompt-matched-tokens"] > 0
        assert opened.headers["fireworks-speculation-prompt-tokens"] == str(perf["speculation-prompt-tokens"])
    finally:
        await client.aclose()


async def test_emulator_responses_thread_and_unknown_previous_id(emulator: EmulatorServer) -> None:
    client = UpstreamClient(base_url=emulator.base_url, api_key=KEY)
    try:
        first = await run(
            client, prepare_body({"model": MODEL, "input": "Hello"}, endpoint="responses"), "responses"
        )
        done = first[-1]
        assert isinstance(done, Done) and done.response_id and done.response_id.startswith("resp_")
        assert any(isinstance(e, Usage) and e.completion_tokens for e in first)
        body = {"model": MODEL, "input": "Again", "previous_response_id": done.response_id}
        second = await run(client, prepare_body(body, endpoint="responses"), "responses")
        assert isinstance(second[-1], Done) and second[-1].finish_reasons == {0: "stop"}
        with pytest.raises(UpstreamError) as info:
            await run(
                client,
                prepare_body({**body, "previous_response_id": "resp_nope"}, endpoint="responses"),
                "responses",
            )
        assert info.value.status == 400 and "not found" in info.value.message
        assert info.value.param == "previous_response_id"
    finally:
        await client.aclose()
