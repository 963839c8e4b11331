"""A prompt left streaming by a server process that died mid-round: marked interrupted when a server
starts, when the stage is opened or on the next send, its finished answers kept, and sent again to the
slots that had not finished (same letters). A round whose process is alive is never touched."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from playground import liveness
from playground.arena import selectors, services
from playground.arena.models import Arena, ArenaAnswer, ArenaPrompt, ArenaVote, PromptStatus
from playground.models import Run
from playground.services import runs
from proxy.frames import parse_start

pytestmark = pytest.mark.django_db

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DEEPSEEK = "accounts/fireworks/models/deepseek-v3"


@pytest.fixture
def alice() -> Any:
    return get_user_model().objects.create_user("alice")


@pytest.fixture
def arena(alice: Any) -> Arena:
    return services.arena_create(
        user=alice,
        workspace_id=alice.memberships.get().workspace_id,
        title="T",
        configs=[{"model": LLAMA}, {"model": DEEPSEEK}],
        prompts=["Why is the sky blue?", "two"],
    )


def open_run(user: Any, answer_id: int) -> Run:
    """A slot's run opened as the socket opens it (the one request builder)."""
    start = parse_start(
        {"stream": "s", "mode": "chat", "model": LLAMA, "messages": [{"role": "user", "content": "q"}]}
    )
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
    )
    services.arena_answer_opened(answer_id=answer_id, run_id=run.pk, conversation_id=None)
    return run


def finish_run(run: Run, text: str) -> None:
    runs.run_finish(
        run_id=run.pk,
        status="done",
        opened=None,
        output=[
            {"content": text, "reasoning": "", "tool_calls": None, "finish_reason": "stop", "logprobs": None}
        ],
        usage=None,
        perf=None,
        timings={"ttft_ms": 1.0, "total_ms": 2.0, "chunks": 1, "tokens": 1},
        timeline=[],
        error=None,
        response_model=LLAMA,
        finish_reasons={0: "stop"},
    )


def dead_runner() -> str:
    """The runner id of a process of this machine that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{liveness.RUNNER_ID.split(':')[0]}:{child.pid}:0123abcd"


def half_answered(alice: Any, arena: Arena) -> tuple[services.Round, ArenaAnswer, ArenaAnswer, Run]:
    """Prompt 1 sent; slot of the first answer finished, the second one mid-stream; one vote in."""
    plan = services.arena_prompt_send(user=alice, arena_id=arena.pk, position=0)
    first, second = (ArenaAnswer.objects.get(pk=s.answer) for s in plan.slots)
    run = open_run(alice, first.pk)
    finish_run(run, "Rayleigh scattering.")
    services.arena_answer_finish(answer_id=first.pk, status="done", text="Rayleigh scattering.")
    streaming = open_run(alice, second.pk)
    services.arena_vote(token=arena.share_token, voter="v1", position=0, choice=first.slot)
    return plan, first, second, streaming


def test_a_live_round_is_left_alone(alice: Any, arena: Arena) -> None:
    half_answered(alice, arena)
    assert services.arena_interrupt_orphans() == 0
    assert ArenaPrompt.objects.get(arena=arena, position=0).status == PromptStatus.STREAMING


@pytest.mark.parametrize("gone", ["dead process", "silent"])
def test_a_round_whose_process_is_gone_is_interrupted_keeping_finished_answers(
    alice: Any, arena: Arena, gone: str
) -> None:
    _, first, second, streaming = half_answered(alice, arena)
    prompt = ArenaPrompt.objects.get(arena=arena, position=0)
    if gone == "dead process":
        ArenaPrompt.objects.filter(pk=prompt.pk).update(runner=dead_runner())
    else:  # another machine's process that stopped saying it is alive
        old = timezone.now() - timedelta(seconds=liveness.STALE_SECONDS + 1)
        ArenaPrompt.objects.filter(pk=prompt.pk).update(runner="elsewhere:1:x", heartbeat_at=old)

    assert services.arena_interrupt_orphans() == 1

    prompt.refresh_from_db()
    assert prompt.status == PromptStatus.INTERRUPTED
    view = selectors.arena_state(arena, presenter=True)["current"]
    assert view["status"] == "interrupted"
    assert view["answers"][first.slot] == {"status": "done", "text": "Rayleigh scattering."}
    assert view["answers"][second.slot]["status"] == "stopped"
    assert Run.objects.get(pk=streaming.pk).status == Run.Status.STOPPED
    assert ArenaVote.objects.filter(prompt=prompt).count() == 1
    assert services.arena_interrupt_orphans() == 0  # once
    with pytest.raises(services.ArenaError, match="waits to be sent again"):
        services.arena_vote(token=arena.share_token, voter="v2", position=0, choice="tie")


def test_an_interrupted_prompt_is_sent_again_to_its_unfinished_slots_only(alice: Any, arena: Arena) -> None:
    _, first, second, _ = half_answered(alice, arena)
    ArenaPrompt.objects.filter(arena=arena, position=0).update(runner=dead_runner())
    # The next send notices the dead round itself (no server restart, no stage reload needed).
    plan = services.arena_prompt_send(user=alice, arena_id=arena.pk, position=0)

    assert [(s.answer, s.slot, s.model) for s in plan.slots] == [
        (second.pk, second.slot, second.config.model)
    ]
    prompt = ArenaPrompt.objects.get(arena=arena, position=0)
    assert (prompt.status, prompt.runner) == (PromptStatus.STREAMING, liveness.RUNNER_ID)
    first.refresh_from_db()
    assert first.status == "done" and first.run_id is not None
    assert ArenaAnswer.objects.get(pk=second.pk).run_id is None
    assert (
        services.arena_answer_finish(answer_id=second.pk, status="done", text="Blue light scatters.")
        == "voting"
    )
    assert ArenaVote.objects.filter(prompt=prompt).count() == 1
    with pytest.raises(services.ArenaError, match="sent already"):
        services.arena_prompt_send(user=alice, arena_id=arena.pk, position=0)


def test_opening_the_stage_marks_it_and_offers_to_send_it_again(alice: Any, arena: Arena) -> None:
    half_answered(alice, arena)
    ArenaPrompt.objects.filter(arena=arena, position=0).update(runner=dead_runner())
    client = Client()
    client.force_login(alice)
    assert client.get(f"/arena/{arena.pk}/").status_code == 200
    assert ArenaPrompt.objects.get(arena=arena, position=0).status == PromptStatus.INTERRUPTED


def test_a_heartbeat_keeps_its_own_round_only(alice: Any, arena: Arena) -> None:
    half_answered(alice, arena)
    old = timezone.now() - timedelta(seconds=liveness.STALE_SECONDS + 1)
    ArenaPrompt.objects.filter(arena=arena, position=0).update(heartbeat_at=old)
    services.arena_heartbeat(arena_id=arena.pk, position=0)
    assert services.arena_interrupt_orphans() == 0
    ArenaPrompt.objects.filter(arena=arena, position=0).update(runner="elsewhere:1:x", heartbeat_at=old)
    services.arena_heartbeat(arena_id=arena.pk, position=0)  # not this process's round: not refreshed
    assert services.arena_interrupt_orphans() == 1
