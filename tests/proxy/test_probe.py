"""Probes (proxy/probe.py): the readiness check's logic with a fake client, then the whole frame over the
socket against the emulator (cold deployment warmed, an unknown model failing with its exact error)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from channels.db import database_sync_to_async

from playground.models import Run
from proxy.client.errors import UpstreamHTTPError
from proxy.client.events import Delta, Done, Event, Finish, Opened, Usage
from proxy.probe import Probe, check, headroom, parse_probe, run_probe
from proxy.protocol import FrameError
from tests.proxy.conftest import API_KEY, MODEL

HELLO = [{"role": "user", "content": "Say hello"}]
LIMITS = {
    "x-ratelimit-limit-requests": "600",
    "x-ratelimit-remaining-requests": "450",
    "x-ratelimit-limit-tokens-generated": "60000",
    "x-ratelimit-remaining-tokens-generated": "59990",
    "x-ratelimit-over-limit": "no",
}


def config(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": HELLO, **fields}


def probe_frame(*configs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"type": "probe.start", "probe": "p1", "configs": list(configs), **fields}


# --- the frame -------------------------------------------------------------------------------------------


def test_each_configuration_becomes_its_exact_tiny_body() -> None:
    probe = parse_probe(
        probe_frame(
            config(label="Fast", params={"temperature": 0.2, "max_tokens": 500}),
            config(model="m2", extra={"prompt_cache_key": "k"}, system="Be brief.", conversation=7),
            max_tokens=2,
        )
    )
    first, second = (s.body for s in probe.starts)
    assert first["max_tokens"] == 2 and first["temperature"] == 0.2 and first["stream"] is True
    assert second["model"] == "m2" and second["prompt_cache_key"] == "k" and second["max_tokens"] == 2
    assert second["messages"][0] == {"role": "system", "content": "Be brief."}
    assert probe.labels == ["Fast", "m2"]
    assert all(s.conversation is None for s in probe.starts)  # nothing is saved, so no conversation
    assert (probe.concurrency, probe.warm, probe.timeout_s, probe.cold_ms) == (4, True, 20.0, 1500)


@pytest.mark.parametrize(
    ("frame", "code", "words"),
    [
        (probe_frame(), "invalid_frame", "1 to 16 configurations"),
        (probe_frame(*[config()] * 17), "invalid_frame", "1 to 16 configurations"),
        (probe_frame(config(), max_tokens=9), "invalid_param", "'max_tokens' must be a number from 1 to 8"),
        (probe_frame(config(), concurrency=0), "invalid_param", "'concurrency'"),
        (probe_frame(config(), timeout_ms=10**9), "invalid_param", "'timeout_ms'"),
        (probe_frame(config(), config(params={"temperature": 9})), "invalid_param", "configs[1]: "),
        (probe_frame(config(messages=[])), "invalid_frame", "configs[0]: 'messages'"),
        ({"type": "probe.start", "configs": [config()]}, "invalid_frame", "'probe'"),
    ],
)
def test_a_bad_probe_is_refused_naming_what_is_wrong(frame: dict[str, Any], code: str, words: str) -> None:
    with pytest.raises(FrameError) as refused:
        parse_probe(frame)
    assert refused.value.code == code and words in refused.value.message


def test_headroom_pairs_each_limit_with_what_remains() -> None:
    assert headroom(LIMITS) == {
        "requests": {"limit": 600.0, "remaining": 450.0, "share": 0.75},
        "tokens-generated": {"limit": 60000.0, "remaining": 59990.0, "share": 0.9998},
    }
    assert headroom({"x-ratelimit-limit-requests": "many"}) == {}


# --- the checks, with a fake client ---------------------------------------------------------------------


class FakeClient:
    """Answers each request after ``delays`` (popped per model) or raises its error; counts overlap."""

    def __init__(self, delays: dict[str, list[float]], errors: dict[str, Exception] | None = None) -> None:
        self.delays = delays
        self.errors = errors or {}
        self.bodies: list[dict[str, Any]] = []
        self.running = 0
        self.most = 0
        self.closed = 0

    async def stream_batches(
        self, body: dict[str, Any], *, endpoint: str = "chat"
    ) -> AsyncGenerator[list[Event], None]:
        self.bodies.append(body)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if body["model"] in self.errors:
                raise self.errors[body["model"]]
            yield [Opened(200, {}, "req-1", None, LIMITS)]
            await asyncio.sleep(self.delays[body["model"]].pop(0))
            yield [Delta(0, content="Hi"), Delta(0, content=" there")]
            yield [Finish(0, "length"), Usage(12, 2, 14), Done({0: "length"}, True)]
        finally:
            self.running -= 1
            self.closed += 1


def parsed(*configs: dict[str, Any], **fields: Any) -> Probe:
    return parse_probe(probe_frame(*configs, **fields))


async def test_a_slow_first_token_is_cold_and_is_warmed_with_a_second_request() -> None:
    client = FakeClient({"dep": [0.25, 0.01]})
    result = await check(client, parsed(config(model="dep"), cold_ms=150), 0, str)
    assert result["status"] == "ready" and result["cold"] is True
    assert result["ttft_ms"] >= 240 and result["warm_ttft_ms"] < 100
    assert len(client.bodies) == 2 and client.closed == 2
    assert result["headroom"]["requests"]["share"] == 0.75
    assert result["tokens"] == 2 and result["error"] is None


async def test_a_fast_first_token_is_warm_and_sent_once() -> None:
    client = FakeClient({"m": [0.01]})
    result = await check(client, parsed(config(model="m"), cold_ms=150), 0, str)
    assert (result["cold"], result["warm_ttft_ms"], len(client.bodies)) == (False, None, 1)


async def test_a_failing_configuration_carries_the_clients_exact_error() -> None:
    refusal = UpstreamHTTPError(
        "Fireworks refused the request (404 not found): Model not found, inaccessible, and/or not deployed",
        status=404,
        code="not_found",
    )
    client = FakeClient({}, {"gone": refusal})
    result = await check(client, parsed(config(model="gone")), 0, str)
    assert result["status"] == "failed" and result["ttft_ms"] is None
    assert result["error"] == refusal.as_dict()
    assert client.closed == 1


async def test_a_configuration_that_hangs_times_out_and_its_request_is_closed() -> None:
    client = FakeClient({"slow": [5]})
    result = await check(client, parsed(config(model="slow"), timeout_ms=200), 0, str)
    assert result["error"]["code"] == "timeout" and "0.2 s" in result["error"]["message"]
    assert client.closed == 1 and client.running == 0


async def test_probes_run_concurrently_but_bounded_and_one_failure_spares_the_others() -> None:
    client = FakeClient(
        {"m": [0.05] * 6}, {"bad": UpstreamHTTPError("Refused.", status=400, code="bad_request")}
    )
    sent: list[dict[str, Any]] = []

    async def send(frame: dict[str, Any]) -> None:
        sent.append(frame)

    probe = parsed(*[config(model="m")] * 6, config(model="bad"), concurrency=3)
    await run_probe(probe, client, send, str)
    assert client.most == 3
    results = [f for f in sent if f["type"] == "probe.result"]
    assert sorted(r["index"] for r in results) == list(range(7))
    assert sent[-1] == {
        "type": "probe.done",
        "probe": "p1",
        "ready": 6,
        "failed": 1,
        "total_ms": sent[-1]["total_ms"],
    }


# --- over the socket, against the emulator --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_readiness_over_the_socket(connect: Any, emulator: Any) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=1000, cold_start_ms=400)
    ws = await connect()
    deployment = f"{MODEL}#stage-demo"
    await ws.send(
        probe_frame(
            config(label="Serverless"),
            config(label="Dedicated", model=deployment),
            config(label="Typo", model="accounts/fireworks/models/no-such-model"),
            cold_ms=300,
            max_tokens=3,
        )
    )
    frames = []
    while not frames or frames[-1]["type"] != "probe.done":
        frames.append(await ws.receive())
    results = {f["label"]: f for f in frames if f["type"] == "probe.result"}
    assert frames[-1]["ready"] == 2 and frames[-1]["failed"] == 1
    ready, cold, typo = results["Serverless"], results["Dedicated"], results["Typo"]
    assert ready["status"] == "ready" and ready["cold"] is False and ready["ttft_ms"] < 300
    assert ready["headroom"]["requests"]["limit"] == 600
    assert cold["status"] == "ready" and cold["cold"] is True
    assert cold["ttft_ms"] >= 400 and cold["warm_ttft_ms"] < 300
    assert (
        typo["status"] == "failed" and typo["error"]["code"] == "not_found" and typo["error"]["status"] == 404
    )
    assert "Model not found, inaccessible, and/or not deployed" in typo["error"]["message"]
    # The exact bodies the upstream received: tiny, and the deployment twice (cold, then warmed).
    bodies = [r["body"] for r in emulator.state()["requests"]]
    assert sorted(b["model"] for b in bodies) == sorted([MODEL, deployment, deployment, typo["model"]])
    assert all(b["max_tokens"] == 3 and b["stream"] is True for b in bodies)
    assert ready["request"] == next(b for b in bodies if b["model"] == MODEL)
    assert all(r["auth_last4"] == API_KEY[-4:] for r in emulator.state()["requests"])
    # Nothing saved.
    assert await database_sync_to_async(Run.objects.count)() == 0


@pytest.mark.django_db(transaction=True)
async def test_a_bad_probe_frame_is_refused_and_the_socket_stays_open(connect: Any, emulator: Any) -> None:
    ws = await connect()
    await ws.send(probe_frame(config(params={"temperature": 7})))
    refused = await ws.receive()
    assert (
        refused["type"] == "chat.error" and refused["stream"] == "p1" and refused["code"] == "invalid_param"
    )
    assert refused["message"].startswith("configs[0]: ")
    await ws.start("s1")
    assert (await ws.until_end("s1"))[-1]["type"] == "chat.done"
    assert [r["body"]["model"] for r in emulator.state()["requests"]] == [MODEL]


@pytest.mark.django_db(transaction=True)
async def test_a_probe_in_a_named_workspace_uses_that_workspaces_key_and_a_strangers_is_refused(
    connect: Any, emulator: Any, user: Any
) -> None:
    from django.contrib.auth import get_user_model

    from playground.services.workspaces import workspace_create, workspace_update

    team_key = "fw_team_key_0000000000000000wxyz"

    def workspaces() -> tuple[int, int]:
        team = workspace_create(user=user, name="Stage team")
        workspace_update(user=user, workspace_id=team.pk, api_key=team_key)
        stranger = get_user_model().objects.create_user("mallory")
        return team.pk, workspace_create(user=stranger, name="Not yours").pk

    team, theirs = await database_sync_to_async(workspaces)()
    ws = await connect()
    await ws.send(probe_frame(config(label="Team"), workspace=team))
    frames = []
    while not frames or frames[-1]["type"] != "probe.done":
        frames.append(await ws.receive())
    assert frames[-1]["ready"] == 1
    assert [r["auth_last4"] for r in emulator.state()["requests"]] == [
        "wxyz"
    ]  # the team's key, not the server's

    await ws.send(probe_frame(config(), probe="p2", workspace=theirs))
    refused = await ws.receive()
    assert (refused["type"], refused["stream"], refused["code"]) == ("chat.error", "p2", "not_found")
    assert refused["message"] == "No such workspace."
    await ws.send(probe_frame(config(), probe="p3", workspace="1"))
    bad = await ws.receive()
    assert bad["code"] == "invalid_frame" and "'workspace'" in bad["message"]
    assert len(emulator.state()["requests"]) == 1
