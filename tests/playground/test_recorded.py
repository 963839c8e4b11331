"""A slot on stage switched to a replay: ``POST /api/runs/recorded/`` finds the most recent successful run
of the same prompt and configuration (the same exact request body) that the user may see."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from playground.services import runs
from proxy.frames import parse_start

pytestmark = pytest.mark.django_db

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
PROMPT = "Explain tides in one line."


def slot(**fields: Any) -> dict[str, Any]:
    """A presentation slot's chat.start fields."""
    return {"mode": "chat", "model": MODEL, "messages": [{"role": "user", "content": PROMPT}], **fields}


def recorded(user: Any, fields: dict[str, Any], *, status: str = "done", reply: str = "Moon pulls.") -> int:
    """A saved run of these fields, as the consumer saves it (the body from the one builder)."""
    start = parse_start({**fields, "stream": "s"})
    run = runs.run_start(
        user=user,
        conversation_id=None,
        mode=start.mode,
        model=start.model,
        messages=start.messages,
        prompt=None,
        params=start.params,
        extra=start.extra,
        request=start.body,
        system_prompt=start.system,
    )
    runs.run_finish(
        run_id=run.pk,
        status=status,
        opened=None,
        output=[
            {"content": reply, "reasoning": "", "tool_calls": None, "finish_reason": "stop", "logprobs": None}
        ],
        usage=None,
        perf=None,
        timings={"ttft_ms": 20.0, "total_ms": 40.0, "chunks": 1, "tokens": 1},
        timeline=[
            {"type": "chat.delta", "i": 0, "t": 20.0, "choice": 0, "content": reply},
            {"type": "chat.done", "status": "done", "finish_reasons": {"0": "stop"}, "t": 40.0},
        ],
        error={"code": "overloaded", "message": "Busy."} if status == "error" else None,
        response_model=MODEL,
        finish_reasons={0: "stop"},
    )
    return int(run.pk)


def ask(client: Client, fields: dict[str, Any]) -> Any:
    return client.post("/api/runs/recorded/", json.dumps(fields), content_type="application/json")


def signed_in(name: str) -> tuple[Any, Client]:
    user = get_user_model().objects.create_user(name)
    client = Client()
    client.force_login(user)
    return user, client


def test_the_newest_successful_run_of_the_same_prompt_and_configuration_is_picked() -> None:
    ada, client = signed_in("ada")
    config = slot(params={"temperature": 0.4}, system="Be brief.")
    older = recorded(ada, config, reply="Older.")
    newest = recorded(ada, config, reply="Newest.")
    recorded(ada, config, status="error")  # failed: never replayed
    recorded(ada, slot(params={"temperature": 0.9}, system="Be brief."))  # another configuration
    recorded(ada, {**config, "messages": [{"role": "user", "content": "Other prompt"}]})  # another prompt
    recorded(ada, {**config, "system": ""})  # another system prompt
    answer = ask(client, config).json()["run"]
    assert answer["id"] == newest != older
    assert answer["content"] == "Newest."
    assert [f["type"] for f in answer["frames"]] == ["chat.delta", "chat.done"]
    assert answer["started_at"]


def test_none_is_said_when_there_is_no_recorded_run() -> None:
    ada, client = signed_in("ada")
    recorded(ada, slot(params={"temperature": 0.4}))
    assert ask(client, slot(params={"temperature": 0.5})).json() == {"run": None}
    # Someone else's private run is not theirs to replay.
    _, bob = signed_in("bob")
    assert ask(bob, slot(params={"temperature": 0.4})).json() == {"run": None}


def test_a_bad_configuration_is_refused_with_the_builders_words() -> None:
    _, client = signed_in("ada")
    refused = ask(client, slot(params={"temperature": 9}))
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "temperature"
    assert "temperature" in refused.json()["error"]["message"]
    assert ask(client, []).status_code == 400
    assert Client().post("/api/runs/recorded/", "{}", content_type="application/json").status_code == 302
