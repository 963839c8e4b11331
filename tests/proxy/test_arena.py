"""The arena's socket (/ws/arena/) through the in-memory channel layer: a round streamed to every
configuration through StreamRun, what the stage and the phones see before and after the reveal, votes,
the tally, the self-naming void and a phone that joins mid-stream."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from playground.arena import services
from playground.arena.models import ArenaAnswer, ArenaPrompt
from proxy.arena import VOTER_COOKIE, voter_cookie_value
from tests.frames import expand
from tests.proxy.conftest import MODEL, ORIGIN, Socket

pytestmark = pytest.mark.django_db(transaction=True)

OTHER = "accounts/fireworks/models/deepseek-v3"
PROMPT = "Explain a rainbow to a child."


def voter_cookie(token: str) -> bytes:
    return f"{VOTER_COOKIE}={voter_cookie_value(token)}".encode()


async def arena_socket(cookie: bytes | None = None) -> Socket:
    from playground.asgi import application

    headers = [ORIGIN, (b"cookie", cookie)] if cookie else [ORIGIN]
    communicator = WebsocketCommunicator(application, "/ws/arena/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return Socket(communicator)


async def make_arena(user: Any, prompts: list[str] | None = None) -> Any:
    def create() -> Any:
        workspace = user.memberships.get().workspace_id
        return services.arena_create(
            user=user,
            workspace_id=workspace,
            title="Rainbows",
            configs=[
                {"model": MODEL, "params": {"temperature": 0.2, "max_tokens": 24}, "label": "Team Zephyrus"},
                {"model": OTHER, "params": {"temperature": 1.3, "max_tokens": 24}, "label": "Team Quokka"},
            ],
            prompts=prompts or [PROMPT, "Write a haiku about the sea."],
        )

    return await database_sync_to_async(create)()


async def until(ws: Socket, test: Any, wait: float = 10) -> list[dict[str, Any]]:
    got = []
    while True:
        frame = await ws.receive(wait)
        got.append(frame)
        if test(frame):
            return got


def saved_answers() -> dict[str, tuple[str, str]]:
    """Slot → (its configuration's model, its saved reply)."""
    rows = ArenaAnswer.objects.select_related("config", "run")
    return {a.slot: (a.config.model, a.run.output[0]["content"]) for a in rows}


def voting(frame: dict[str, Any]) -> bool:
    return frame["type"] == "arena.prompt" and frame["status"] == "voting"


FORBIDDEN_KEYS = {
    "run",
    "conversation",
    "request",
    "sampling_options",
    "requested",
    "headers",
    "model",
    "usage",
}


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def assert_blind(raw: list[str]) -> None:
    """No frame names a configuration: no model, family, label, parameter, or run/conversation id."""
    for text in raw:
        lowered = text.lower()
        for word in ("llama", "deepseek", "temperature", "zephyrus", "quokka", "accounts/"):
            assert word not in lowered, (word, text[:300])
        assert not keys_of(json.loads(text)) & FORBIDDEN_KEYS, text[:300]


@pytest.fixture
def presenter_cookie(session_cookie: bytes) -> bytes:
    return session_cookie


async def test_a_round_streams_blind_to_the_stage_and_phones_then_votes_close_and_reveal(
    upstream_settings: Any, user: Any, presenter_cookie: bytes, emulator: Any, close_upstream: None
) -> None:
    arena = await make_arena(user)
    stage = await arena_socket(presenter_cookie)
    phone = await arena_socket(voter_cookie("phone-1"))
    other_phone = await arena_socket(voter_cookie("phone-2"))
    await stage.send({"type": "arena.join", "arena": arena.pk})
    state = await stage.receive()
    assert state["type"] == "arena.state" and state["role"] == "presenter" and state["current"] is None
    for ws in (phone, other_phone):
        await ws.send({"type": "arena.join", "token": arena.share_token})
        joined = await ws.receive()
        assert joined["role"] == "audience" and "queue" not in joined

    await stage.send({"type": "arena.send", "prompt": 0})
    stage_frames = await until(stage, voting)
    phone_frames = await until(phone, voting)
    await until(other_phone, voting)

    # Each slot's text, folded from the anonymised deltas, is the saved run's reply of the configuration
    # the server shuffled into that slot.
    answers = await database_sync_to_async(
        lambda: {
            a.slot: (a.config.model, a.run.output[0]["content"])
            for a in ArenaAnswer.objects.select_related("config", "run")
        }
    )()
    assert sorted(answers) == ["A", "B"]
    assert {model for model, _ in answers.values()} == {MODEL, OTHER}
    for frames in (stage_frames, phone_frames):
        texts: dict[str, str] = {}
        for f in expand(frames):
            if f["type"] == "chat.delta":
                texts[f["stream"]] = texts.get(f["stream"], "") + f.get("content", "")
        assert texts == {f"0:{slot}": text for slot, (_, text) in answers.items()}
        ended = {f["slot"]: f["status"] for f in frames if f["type"] == "arena.slot"}
        assert ended == {"A": "done", "B": "done"}

    # The upstream received exactly each configuration's request: the prompt, its model and parameters.
    bodies = {r["body"]["model"]: r["body"] for r in emulator.state()["requests"] if r["body"]}
    assert bodies[MODEL]["messages"] == [{"role": "user", "content": PROMPT}]
    assert (bodies[MODEL]["temperature"], bodies[MODEL]["max_tokens"]) == (0.2, 24)
    assert (bodies[OTHER]["temperature"], bodies[OTHER]["max_tokens"]) == (1.3, 24)

    # Votes: the tally grows on the stage only; a second vote replaces the first.
    await phone.send({"type": "arena.vote", "prompt": 0, "choice": "A"})
    assert await phone.receive() == {"type": "arena.voted", "prompt": 0, "choice": "A"}
    tally = (await until(stage, lambda f: f["type"] == "arena.tally"))[-1]
    assert tally["counts"] == {"A": 1, "B": 0, "tie": 0, "bad": 0}
    await other_phone.send({"type": "arena.vote", "prompt": 0, "choice": "tie"})
    await other_phone.receive()
    await phone.send({"type": "arena.vote", "prompt": 0, "choice": "B"})
    await phone.receive()
    tallies = [
        f
        for f in await until(stage, lambda f: f.get("counts", {}).get("B") == 1)
        if f["type"] == "arena.tally"
    ]
    assert tallies[-1]["counts"] == {"A": 0, "B": 1, "tie": 1, "bad": 0}

    await stage.send({"type": "arena.close", "prompt": 0})
    closed = (await until(phone, lambda f: f["type"] == "arena.prompt"))[-1]
    assert closed["status"] == "closed" and closed["tally"] == {"A": 0, "B": 1, "tie": 1, "bad": 0}
    assert closed["void"] is False
    # Nothing any phone or the stage received so far says which configuration a slot is.
    assert_blind(phone.raw)
    assert_blind(other_phone.raw)
    assert_blind(stage.raw)
    # A phone never got the live tally before the close.
    assert not any(f["type"] == "arena.tally" for f in phone.frames + other_phone.frames)

    await phone.send({"type": "arena.vote", "prompt": 0, "choice": "A"})
    refused = await until(phone, lambda f: f["type"] == "chat.error")
    assert refused[-1]["code"] == "conflict" and "closed" in refused[-1]["message"]

    await stage.send({"type": "arena.reveal", "prompt": 0})
    revealed = (await until(phone, lambda f: f["type"] == "arena.prompt" and f["status"] == "revealed"))[-1]
    assert {slot: info["model"] for slot, info in revealed["reveal"].items()} == {
        slot: model for slot, (model, _) in answers.items()
    }
    for ws in (stage, phone, other_phone):
        await ws.disconnect()


async def test_an_answer_naming_its_own_model_voids_the_prompt_and_is_flagged(
    upstream_settings: Any, user: Any, presenter_cookie: bytes, emulator: Any, close_upstream: None
) -> None:
    # The emulator's reply quotes the prompt: the Llama configuration's answer then says "Llama".
    arena = await make_arena(user, ["Are you Llama or something else?"])
    stage = await arena_socket(presenter_cookie)
    await stage.send({"type": "arena.join", "arena": arena.pk})
    await stage.receive()
    await stage.send({"type": "arena.send", "prompt": 0})
    await until(stage, voting)
    await stage.send({"type": "arena.close", "prompt": 0})
    closed = (await until(stage, lambda f: f["type"] == "arena.prompt" and f["status"] == "closed"))[-1]
    llama_slot = await database_sync_to_async(lambda: ArenaAnswer.objects.get(config__model=MODEL).slot)()
    assert closed["void"] is True and closed["flagged"] == [llama_slot]
    await stage.send({"type": "arena.reveal", "prompt": 0})
    revealed = (await until(stage, lambda f: f["type"] == "arena.prompt" and f["status"] == "revealed"))[-1]
    assert revealed["reveal"][llama_slot]["self_named"] == ["llama"]
    await stage.disconnect()


async def test_a_phone_joining_mid_stream_gets_the_answers_so_far_then_the_rest(
    upstream_settings: Any, user: Any, presenter_cookie: bytes, emulator: Any, close_upstream: None
) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=60)
    arena = await make_arena(user)
    stage = await arena_socket(presenter_cookie)
    await stage.send({"type": "arena.join", "arena": arena.pk})
    await stage.receive()
    await stage.send({"type": "arena.send", "prompt": 0})
    await until(
        stage, lambda f: sum(1 for g in expand([f]) if g["type"] == "chat.delta") > 0 and f["stream"] == "0:A"
    )
    await until(stage, lambda f: f["type"] in ("chat.delta", "chat.deltas") and f["stream"] == "0:A")
    late = await arena_socket(voter_cookie("late"))
    await late.send({"type": "arena.join", "token": arena.share_token})
    frames = await until(late, voting)
    stage_frames = await until(stage, voting)
    snapshots = [f for f in frames if f["type"] == "arena.snapshot"]
    assert {s["slot"] for s in snapshots} <= {"A", "B"} and snapshots
    # Snapshot text plus the deltas after its index equals the stage's whole answer, slot by slot.
    for snap in snapshots:
        text = "".join(f.get("content", "") for f in expand(snap["frames"]) if f["type"] == "chat.delta")
        after = [
            f
            for f in expand(frames)
            if f["type"] == "chat.delta" and f["stream"] == snap["stream"] and f["i"] > snap["i"]
        ]
        text += "".join(f.get("content", "") for f in after)
        full = await database_sync_to_async(
            lambda s=snap: (
                ArenaAnswer.objects.select_related("run").get(slot=s["slot"]).run.output[0]["content"]
            )
        )()
        assert text == full
    assert_blind(late.raw)
    del stage_frames
    await stage.disconnect()
    await late.disconnect()


async def test_votes_are_refused_out_of_turn_without_a_cookie_and_beyond_the_rate(
    upstream_settings: Any, user: Any, presenter_cookie: bytes, emulator: Any, close_upstream: None
) -> None:
    arena = await make_arena(user)
    phone = await arena_socket(voter_cookie("p"))
    await phone.send({"type": "arena.join", "token": arena.share_token})
    await phone.receive()
    await phone.send({"type": "arena.vote", "prompt": 0, "choice": "A"})
    assert (await phone.receive())["code"] == "conflict"  # not sent yet
    await phone.send({"type": "arena.send", "prompt": 0})
    assert (await phone.receive())["code"] == "forbidden"  # only the presenter sends
    stage = await arena_socket(presenter_cookie)
    await stage.send({"type": "arena.join", "arena": arena.pk})
    await stage.receive()
    await stage.send({"type": "arena.send", "prompt": 0})
    await until(phone, voting)
    await phone.send({"type": "arena.vote", "prompt": 0, "choice": "C"})
    bad = await until(phone, lambda f: f["type"] == "chat.error")
    assert bad[-1]["code"] == "conflict" and bad[-1]["param"] == "choice"
    await stage.send({"type": "arena.vote", "prompt": 0, "choice": "A"})
    assert (await until(stage, lambda f: f["type"] == "chat.error"))[-1]["code"] == "forbidden"
    no_cookie = await arena_socket()
    await no_cookie.send({"type": "arena.join", "token": arena.share_token})
    await no_cookie.receive()
    await no_cookie.send({"type": "arena.vote", "prompt": 0, "choice": "A"})
    assert (await until(no_cookie, lambda f: f["type"] == "chat.error"))[-1]["code"] == "forbidden"
    # Every vote frame counts, refused ones too: after the two refused above, 18 more pass and the
    # 21st frame within the minute is refused.
    for _ in range(18):
        await phone.send({"type": "arena.vote", "prompt": 0, "choice": "B"})
        assert (await until(phone, lambda f: f["type"] in ("arena.voted", "chat.error")))[-1][
            "type"
        ] == "arena.voted"
    await phone.send({"type": "arena.vote", "prompt": 0, "choice": "A"})
    limited = (await until(phone, lambda f: f["type"] in ("arena.voted", "chat.error")))[-1]
    assert limited["code"] == "rate_limited" and re.search(r"\d+ seconds", limited["message"])
    count = await database_sync_to_async(lambda: ArenaPrompt.objects.get(position=0).votes.get().choice)()
    assert count == "B"
    wrong = await arena_socket()
    await wrong.send({"type": "arena.join", "token": "nope"})
    assert (await wrong.receive())["code"] == "not_found"
    for ws in (phone, stage, no_cookie, wrong):
        await ws.disconnect()


async def test_a_prompt_its_server_left_streaming_is_sent_again_to_its_unfinished_slot_only(
    upstream_settings: Any, user: Any, presenter_cookie: bytes, emulator: Any, close_upstream: None
) -> None:
    arena = await make_arena(user)
    stage = await arena_socket(presenter_cookie)
    await stage.send({"type": "arena.join", "arena": arena.pk})
    await stage.receive()
    await stage.send({"type": "arena.send", "prompt": 0})
    await until(stage, voting)
    before = await database_sync_to_async(saved_answers)()

    def die_mid_round() -> tuple[str, str]:
        """As if the round's process (another machine's, silent since) had died while slot B streamed."""
        from playground.models import Run

        ArenaPrompt.objects.filter(arena=arena, position=0).update(
            status="streaming", runner="gone-host:1:dead", heartbeat_at=None
        )
        b = ArenaAnswer.objects.select_related("config").get(prompt__arena=arena, slot="B")
        ArenaAnswer.objects.filter(pk=b.pk).update(status="streaming")
        Run.objects.filter(pk=b.run_id).update(status="streaming")
        return b.config.model, str(b.run_id)

    b_model, b_old_run = await database_sync_to_async(die_mid_round)()
    requests_before = len(emulator.state()["requests"])

    stage2 = await arena_socket(presenter_cookie)  # the stage reopened on a new process's socket
    await stage2.send({"type": "arena.join", "arena": arena.pk})
    await stage2.receive()
    await stage2.send({"type": "arena.send", "prompt": 0})
    frames = await until(stage2, voting)

    sent = [f for f in frames if f["type"] == "arena.prompt"]
    assert sent[0]["status"] == "streaming" and sent[0]["answers"]["A"]["status"] == "done"
    streams = {f["stream"] for f in frames if f["type"] in ("chat.delta", "chat.deltas", "chat.finish")}
    assert streams == {"0:B"}
    bodies = [r["body"] for r in emulator.state()["requests"][requests_before:] if r["body"]]
    assert [b["model"] for b in bodies] == [b_model]
    assert bodies[0]["messages"][-1] == {"role": "user", "content": PROMPT}
    after = await database_sync_to_async(saved_answers)()
    assert after["A"] == before["A"]  # the finished answer kept
    assert after["B"][0] == b_model and after["B"][1]
    new_run = await database_sync_to_async(
        lambda: str(ArenaAnswer.objects.get(prompt__arena=arena, slot="B").run_id)
    )()
    assert new_run != b_old_run
    for ws in (stage, stage2):
        await ws.disconnect()
