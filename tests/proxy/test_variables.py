"""chat.start's ``variables``: the server fills the prompt (proxy/frames.py ``fill_variables``) before it is
sent, saved or shown as code, and refuses a missing value before anything happens."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation, Message, Run
from tests.proxy.conftest import MODEL

pytestmark = pytest.mark.django_db(transaction=True)

TEMPLATE = {
    "system": "You are {{ role }}. Answer in {{lang}}.",
    "messages": [
        {"role": "user", "content": "Translate: {{text}}"},
    ],
}
VALUES = {"role": "a translator", "lang": "English", "text": "bonjour {{role}} $1"}
FILLED_SYSTEM = "You are a translator. Answer in English."
FILLED_USER = "Translate: bonjour {{role}} $1"


async def received(emulator: Any) -> list[dict[str, Any]]:
    return [r["body"] for r in (await asyncio.to_thread(emulator.state))["requests"]]


async def test_the_upstream_gets_the_filled_in_prompt_and_it_is_saved_so(connect: Any, emulator: Any) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=2000)
    ws = await connect()
    await ws.start("v1", **TEMPLATE, variables=VALUES, params={"temperature": 0.3})
    frames = await ws.until_end("v1")
    assert frames[-1]["type"] == "chat.done", frames[-1]
    [body] = await received(emulator)
    assert body["messages"] == [
        {"role": "system", "content": FILLED_SYSTEM},
        {"role": "user", "content": FILLED_USER},
    ]
    assert "variables" not in body
    assert body == frames[0]["request"]
    # The same prompt typed out by hand sends exactly the same body.
    emulator.reset()
    await ws.start(
        "v2",
        system=FILLED_SYSTEM,
        messages=[{"role": "user", "content": FILLED_USER}],
        params={"temperature": 0.3},
    )
    await ws.until_end("v2")
    assert await received(emulator) == [body]

    run = await database_sync_to_async(Run.objects.get)(pk=frames[-1]["run"])
    assert run.request == body
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=run.conversation_id)
    assert conversation.system_prompt == FILLED_SYSTEM
    first = await database_sync_to_async(Message.objects.get)(pk=frames[-1]["message_ids"][0])
    assert first.content == FILLED_USER


async def test_the_same_template_again_continues_the_saved_branch(connect: Any, emulator: Any) -> None:
    """The page keeps the template in its turns and the server saves the filled text: sending the template
    again with the same values matches the saved messages (no new branch)."""
    emulator.configure(ttft_ms=5, tokens_per_second=2000)
    ws = await connect()
    await ws.start("a", **TEMPLATE, variables=VALUES)
    done = (await ws.until_end("a"))[-1]
    reply = await database_sync_to_async(Message.objects.get)(pk=done["message_id"])
    history = [
        {**TEMPLATE["messages"][0], "id": done["message_ids"][0]},
        {"role": "assistant", "content": reply.content, "id": done["message_ids"][1]},
        {"role": "user", "content": "And in {{lang}}?"},
    ]
    await ws.start(
        "b2",
        system=TEMPLATE["system"],
        messages=history,
        variables=VALUES,
        conversation=reply.conversation_id,
    )
    again = (await ws.until_end("b2"))[-1]
    assert again["type"] == "chat.done", again
    assert again["message_ids"][:2] == done["message_ids"]
    bodies = await received(emulator)
    # The reply goes back as it was saved, never filled in (the emulator's reply quotes the prompt).
    assert bodies[-1]["messages"][2] == {"role": "assistant", "content": reply.content}
    assert bodies[-1]["messages"][-1] == {"role": "user", "content": "And in English?"}
    assert (
        await database_sync_to_async(Message.objects.filter(conversation_id=reply.conversation_id).count)()
        == 4
    )


async def test_a_missing_value_is_refused_before_anything_is_sent(connect: Any, emulator: Any) -> None:
    ws = await connect()
    await ws.start("m", **TEMPLATE, variables={"lang": "English"})
    [error] = await ws.until_end("m")
    assert error["type"] == "chat.error"
    assert error["code"] == "invalid_frame"
    assert error["param"] == "variables"
    assert error["message"] == "Missing values for variables: role, text."
    assert await received(emulator) == []
    assert await database_sync_to_async(Conversation.objects.count)() == 0


LONG = {"role": "x" * 1_000, "lang": "x", "text": "y"}


@pytest.mark.parametrize(
    ("system", "variables", "message"),
    [
        (
            None,
            {"role": 1, "lang": "x", "text": "y"},
            "'variables' must be an object of variable name → text value.",
        ),
        (None, ["role"], "'variables' must be an object of variable name → text value."),
        # 5,000 uses of a 1,000-character value: a 40 kB frame that would fill to 5 MB.
        (
            "{{role}}" * 5_000,
            LONG,
            "The prompt with its variables filled in would be over 4,000,000 characters.",
        ),
    ],
)
async def test_bad_values_are_refused_with_a_clear_message(
    connect: Any, emulator: Any, system: str | None, variables: Any, message: str
) -> None:
    ws = await connect()
    await ws.start("bad", **{**TEMPLATE, "system": system or TEMPLATE["system"]}, variables=variables)
    [error] = await ws.until_end("bad")
    assert (error["code"], error["param"], error["message"]) == ("invalid_frame", "variables", message)
    assert await received(emulator) == []


async def test_without_variables_braces_are_plain_text(connect: Any, emulator: Any) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=2000)
    ws = await connect()
    await ws.start("p", messages=[{"role": "user", "content": "Explain {{ jinja }} syntax"}])
    assert (await ws.until_end("p"))[-1]["type"] == "chat.done"
    [body] = await received(emulator)
    assert body["messages"] == [{"role": "user", "content": "Explain {{ jinja }} syntax"}]


async def test_view_code_shows_the_filled_in_request(connect: Any, emulator: Any) -> None:
    ws = await connect()
    await ws.send(
        {"type": "code.render", "stream": "c", "model": MODEL, "params": {}, **TEMPLATE, "variables": VALUES}
    )
    rendered = await ws.receive()
    assert rendered["type"] == "code.rendered"
    assert rendered["request"]["messages"] == [
        {"role": "system", "content": FILLED_SYSTEM},
        {"role": "user", "content": FILLED_USER},
    ]
    assert FILLED_USER in rendered["snippets"]["curl"] and "{{text}}" not in rendered["snippets"]["curl"]
    await ws.send({"type": "code.render", "stream": "c2", "model": MODEL, **TEMPLATE, "variables": {}})
    error = await ws.receive()
    assert (error["type"], error["param"]) == ("chat.error", "variables")
    assert error["message"] == "Missing values for variables: role, lang, text."
