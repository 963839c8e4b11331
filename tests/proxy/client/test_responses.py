"""The upstream client and the Responses API (proxy/client/responses.py turns its events into the chat
events): text and function-call deltas, usage, incomplete and failed responses, a cut stream, a whole
JSON answer (httpx.MockTransport), then a thread against the emulator over loopback HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.client.client import UpstreamClient, prepare_body
from proxy.client.errors import UpstreamError, UpstreamStreamError
from proxy.client.events import Delta, Done, Finish, Usage
from proxy.relay import StreamRecord
from tests.emulator_fixture import EmulatorServer
from tests.proxy.client.test_client import KEY, MODEL, kinds, run

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


# --- against the emulator --------------------------------------------------------------------------


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
