"""The chat websocket for issue 7: chat.raw frames, a saved tool-call round trip, speculation metrics
for two streams on one socket, and the Responses mode (chained, unknown ids, errors)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from playground.models import Message
from playground.selectors.conversations import conversation_page_data
from tests.proxy.test_consumers import (  # noqa: F401  (fixtures)
    MODEL,
    connect,
    of,
    saved_run,
    session_cookie,
    text_of,
    upstream_settings,
    user,
)

pytestmark = pytest.mark.django_db(transaction=True)

LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look a word up",
        "parameters": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
    },
}


async def test_raw_output_arrives_as_a_chat_raw_frame_and_is_saved(connect: Any) -> None:  # noqa: F811  (fixtures imported above)
    sock = await connect()
    await sock.start("r1", params={"raw_output": True})
    frames = await sock.until_end("r1")
    raw = of(frames, "r1", "chat.raw")[0]["raw_output"]
    assert len(raw["prompt_fragments"]) == len(raw["prompt_token_ids"])
    assert raw["completion"] == text_of(frames, "r1")
    done = of(frames, "r1", "chat.done")[0]
    run = await saved_run(done["run"])
    assert run.output[0]["raw_output"] == raw


async def test_a_tool_call_round_trip_is_saved_and_reloads(connect: Any, user: Any) -> None:  # noqa: F811  (fixtures imported above)
    sock = await connect()
    ask = [{"role": "user", "content": "Please lookup the word quux"}]
    extra = {"tools": [LOOKUP], "tool_choice": "auto"}
    await sock.start("t1", messages=ask, extra=extra, params={"parallel_tool_calls": False})
    frames = await sock.until_end("t1")
    done = of(frames, "t1", "chat.done")[0]
    conversation = of(frames, "t1", "chat.started")[0]["conversation"]
    assert done["finish_reasons"] == {"0": "tool_calls"}
    fragments = [f for d in of(frames, "t1", "chat.delta") for f in d.get("tool_calls") or []]
    assert fragments[0]["function"]["name"] == "lookup" and fragments[0]["id"]
    call_id = fragments[0]["id"]
    arguments = "".join(f["function"].get("arguments") or "" for f in fragments)
    call = {"id": call_id, "type": "function", "function": {"name": "lookup", "arguments": arguments}}
    thread = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call_id, "content": "quux: a placeholder word"},
    ]
    await sock.start("t2", messages=thread, extra=extra, conversation=conversation)
    frames = await sock.until_end("t2")
    answer = text_of(frames, "t2")
    assert "quux: a placeholder word" in answer and "lookup" in answer

    def tree() -> dict[str, Any]:
        return conversation_page_data(user=user, conversation_id=conversation)

    saved = await database_sync_to_async(tree)()
    roles = [(m["role"], m["tool_call_id"]) for m in saved["messages"]]
    assert roles == [("user", ""), ("assistant", ""), ("tool", call_id), ("assistant", "")]
    assert saved["messages"][1]["tool_calls"][0]["function"] == call["function"]
    assert await database_sync_to_async(Message.objects.filter(role="tool").count)() == 1


async def test_prediction_and_its_comparison_run_on_one_socket(connect: Any, emulator: Any) -> None:  # noqa: F811  (fixtures imported above)
    emulator.configure(ttft_ms=1, tokens_per_second=1500)
    code = "def f(x):\n    return x * 2\n\nprint(f(21))\n"
    ask = [{"role": "user", "content": f"Rename f to double:\n```python\n{code}```"}]
    sock = await connect()
    await sock.start("p-with", messages=ask, extra={"prediction": {"type": "content", "content": code}})
    await sock.start("p-without", messages=ask)
    frames = await sock.until_end("p-with")
    if not of(frames, "p-without", "chat.done"):
        frames += await sock.until_end("p-without")
    metrics = of(frames, "p-with", "chat.perf")[0]["metrics"]
    assert 0 < metrics["speculation-prompt-matched-tokens"] <= metrics["speculation-prompt-tokens"]
    assert "speculation-prompt-tokens" not in of(frames, "p-without", "chat.perf")[0]["metrics"]
    assert text_of(frames, "p-with") == text_of(frames, "p-without")


async def test_responses_mode_chains_and_an_unknown_id_is_a_chat_error(connect: Any) -> None:  # noqa: F811  (fixtures imported above)
    sock = await connect()
    first = [{"role": "user", "content": "Hello responses"}]
    await sock.send(
        {
            "type": "chat.start",
            "stream": "a",
            "mode": "responses",
            "model": MODEL,
            "messages": first,
            "params": {"store": True},
        }
    )
    frames = await sock.until_end("a")
    done = of(frames, "a", "chat.done")[0]
    assert done["response_id"].startswith("resp_") and done["finish_reasons"] == {"0": "stop"}
    started = of(frames, "a", "chat.started")[0]
    assert started["request"]["input"] == first and started["request"]["store"] is True
    assert of(frames, "a", "chat.usage")[0]["completion_tokens"] > 0
    reply = text_of(frames, "a")
    assert reply.startswith("[offline emulator]")
    thread = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "More"}]
    await sock.send(
        {
            "type": "chat.start",
            "stream": "b",
            "mode": "responses",
            "model": MODEL,
            "messages": thread,
            "previous_response_id": done["response_id"],
            "conversation": started["conversation"],
        }
    )
    frames = await sock.until_end("b")
    started = of(frames, "b", "chat.started")[0]
    assert started["request"]["input"] == [{"role": "user", "content": "More"}]
    assert of(frames, "b", "chat.done")[0]["message_ids"][:2] == done["message_ids"]
    await sock.send(
        {
            "type": "chat.start",
            "stream": "c",
            "mode": "responses",
            "model": MODEL,
            "messages": first,
            "previous_response_id": "resp_missing",
        }
    )
    frames = await sock.until_end("c")
    error = of(frames, "c", "chat.error")[0]
    assert error["status"] == 400 and error["param"] == "previous_response_id"
    assert json.dumps(error).count("not found") >= 1
