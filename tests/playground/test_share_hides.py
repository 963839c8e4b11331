"""What a share link hides stays hidden through every path: the shared page, a fork made through the
link (the forker's page and data JSON), and a comparison's shared page (issue 15)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from playground.models import Comparison, Conversation
from playground.services import comparisons, runs, sharing

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
SYSTEM = "SECRET-SYSTEM-PROMPT you are a pirate"


def converse(user: Any, text: str) -> Any:
    """One saved exchange as the playground page sends it: the system prompt is also the first message."""
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]
    run = runs.run_start(
        user=user,
        conversation_id=None,
        mode="chat",
        model=MODEL,
        messages=messages,
        prompt=None,
        params={"temperature": 0.37},
        extra={"secret_extra_field": 1},
        request={"model": MODEL, "messages": messages, "temperature": 0.37},
        system_prompt=SYSTEM,
    )
    runs.run_finish(
        run_id=run.pk,
        status="done",
        opened={
            "request_id": "r1",
            "headers": {},
            "sampling_options": {"temperature": 0.37},
            "rate_limits": {},
        },
        output=[{"content": "Arr, sure."}],
        usage={"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
        perf=None,
        timings={"ttft_ms": 100.0, "total_ms": 1100.0, "chunks": 20, "tokens": 20, "tokens_per_second": 19.0},
        timeline=[],
        error=None,
        response_model=MODEL,
        finish_reasons={0: "stop"},
    )
    run.refresh_from_db()
    return run


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def people() -> tuple[Any, Any]:
    users = get_user_model().objects
    return users.create_user("sharer"), users.create_user("forker")


@pytest.mark.django_db
def test_fork_through_a_link_hiding_the_system_prompt_copies_no_system_message(
    people: tuple[Any, Any],
) -> None:
    sharer, forker = people
    run = converse(sharer, "Hello there")
    source = run.conversation
    assert source.messages.filter(role="system").exists()  # the page saves the prompt as a message too
    link = sharing.share_link_create(user=sharer, conversation_id=source.pk, hide_system_prompt=True)
    assert SYSTEM not in Client().get(f"/s/{link.token}/").content.decode()

    client = signed_in(forker)
    response = client.post(f"/s/{link.token}/fork/")
    fork = Conversation.objects.get(forked_from=source)
    assert response["Location"] == f"/c/{fork.pk}/"
    assert fork.system_prompt == ""
    assert not fork.messages.filter(role="system").exists()
    assert [(m.role, m.text) for m in fork.messages.order_by("position")] == [
        ("user", "Hello there"),
        ("assistant", "Arr, sure."),
    ]
    assert [m.position for m in fork.messages.order_by("position")] == [0, 1]
    # The forker's page and its data JSON do not carry it either.
    assert SYSTEM not in client.get(f"/c/{fork.pk}/").content.decode()
    data = client.get(f"/c/{fork.pk}/data/").json()
    assert SYSTEM not in json.dumps(data)
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    # The parameters were not hidden: they are kept.
    assert fork.params == {"temperature": 0.37}


@pytest.mark.django_db
def test_fork_through_a_link_hiding_parameters_copies_none(people: tuple[Any, Any]) -> None:
    sharer, forker = people
    source = converse(sharer, "Hello there").conversation
    link = sharing.share_link_create(user=sharer, conversation_id=source.pk, hide_parameters=True)
    client = signed_in(forker)
    client.post(f"/s/{link.token}/fork/")
    fork = Conversation.objects.get(forked_from=source)
    assert fork.params == {} and fork.extra == {}
    data = json.dumps(client.get(f"/c/{fork.pk}/data/").json())
    assert "0.37" not in data and "secret_extra_field" not in data
    # The system prompt was not hidden: it is kept, as the prompt and as the first message.
    assert fork.system_prompt == SYSTEM
    assert fork.messages.order_by("position").first().role == "system"


@pytest.mark.django_db
def test_a_plain_link_forks_everything(people: tuple[Any, Any]) -> None:
    sharer, forker = people
    source = converse(sharer, "Hello there").conversation
    link = sharing.share_link_create(user=sharer, conversation_id=source.pk)
    signed_in(forker).post(f"/s/{link.token}/fork/")
    fork = Conversation.objects.get(forked_from=source)
    assert fork.system_prompt == SYSTEM and fork.params == {"temperature": 0.37}
    assert [m.role for m in fork.messages.order_by("position")] == ["system", "user", "assistant"]


@pytest.mark.django_db
def test_a_shared_comparison_hides_system_messages_sweep_and_labels(people: tuple[Any, Any]) -> None:
    sharer, _ = people
    run = converse(sharer, "Name a colour")
    comparison = comparisons.comparison_create(
        owner=sharer,
        columns=[
            {"run": run.pk, "model": MODEL, "params": {"temperature": 0.37}, "label": "temperature=0.37"}
        ],
        system_prompt=SYSTEM,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Name a colour"}],
        kind=Comparison.Kind.SWEEP,
        sweep={"param": "temperature", "values": [0.37]},
    )
    link = sharing.comparison_share_link_create(
        user=sharer, comparison_id=comparison.pk, hide_system_prompt=True, hide_parameters=True
    )
    response = Client().get(f"/s/{link.token}/")
    page = response.context["page"]
    assert [m["role"] for m in page["messages"]] == ["user"]
    assert page["system_prompt"] == "" and page["sweep"] is None
    assert page["columns"][0]["label"] == "Column 1" and page["columns"][0]["params"] == {}
    html = response.content.decode()
    assert SYSTEM not in html and "0.37" not in html
