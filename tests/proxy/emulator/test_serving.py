"""The emulator's serving paths (proxy/emulator/serving.py): load, priority, cold deployments, LoRA
add-ons and the prompt cache per replica, through the pure model and over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from proxy.emulator.api import resolve_model
from proxy.emulator.app import EmulatorConfig, create_app
from proxy.emulator.serving import Serving, serving_path
from tests.emulator_fixture import EmulatorServer

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DEPLOYMENT = f"{MODEL}#demo-dedicated"
LORA = "accounts/acme/models/llama-v3p1-8b-instruct-lora-support"


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, **fields}


# --- the pure model --------------------------------------------------------------------------------------


def test_paths_are_told_apart() -> None:
    assert serving_path(chat(), {}).pool == "serverless"
    dedicated = serving_path(chat(model=DEPLOYMENT), {})
    assert (dedicated.pool, dedicated.deployment) == ("deployment:demo-dedicated", "demo-dedicated")
    assert serving_path(chat(model="accounts/acme/deployments/d7"), {}).deployment == "d7"
    assert serving_path(chat(model=LORA), {}).lora is True
    assert serving_path(chat(service_tier="priority"), {}).priority is True
    assert serving_path(chat(service_tier="auto"), {}).priority is False
    assert serving_path(chat(prompt_cache_key="k1"), {}).cache_route == "k1"
    assert serving_path(chat(), {"x-session-affinity": "s"}).cache_route == "s"


def test_a_lora_add_on_runs_on_its_base_model_and_an_unknown_one_is_not_found() -> None:
    base = resolve_model(LORA)
    assert base is not None and base.id == MODEL
    assert resolve_model("accounts/acme/models/no-such-base-lora") is None
    assert resolve_model("accounts/acme/models/llama-v3p1-8b-instruct") is None


def test_load_queues_standard_requests_and_priority_pays_a_quarter() -> None:
    serving, config = Serving(), EmulatorConfig(queue_ms_per_stream=40)
    waits = []
    for _ in range(3):
        admission = serving.admit(serving_path(chat(), {}), config)
        serving.opened(admission)
        waits.append(admission.queue_ms)
    assert waits == [0, 40, 80]
    priority = serving.admit(serving_path(chat(service_tier="priority"), {}), config)
    assert (priority.concurrent, priority.queue_ms) == (3, 30)
    # A dedicated deployment is its own pool: the serverless load does not reach it.
    assert serving.admit(serving_path(chat(model=DEPLOYMENT), {}), config).queue_ms == 0


def test_a_deployment_is_cold_on_first_use_and_after_idling() -> None:
    serving, config = Serving(), EmulatorConfig(cold_start_ms=3000, cold_after_s=300)
    path = serving_path(chat(model=DEPLOYMENT), {})
    first = serving.admit(path, config)
    serving.opened(first)
    serving.closed(first)
    assert first.cold_ms == 3000
    assert serving.admit(path, config).cold_ms == 0
    serving.last_used["demo-dedicated"] -= 301
    assert serving.admit(path, config).cold_ms == 3000
    # Serverless is never cold.
    assert serving.admit(serving_path(chat(), {}), config).cold_ms == 0


def test_a_cache_key_picks_one_replica_and_no_key_follows_the_first_message_until_under_load() -> None:
    serving, config = Serving(), EmulatorConfig(cache_replicas=4)
    path = serving_path(chat(prompt_cache_key="user-42"), {})
    assert len({serving.admit(path, config).replica for _ in range(6)}) == 1
    # Idle: the first message picks the replica, every time (a conversation's turns stay together).
    unkeyed = serving_path(chat(), {})
    idle = {serving.admit(unkeyed, config).replica for _ in range(6)}
    assert len(idle) == 1
    # Under load: spread round-robin, wherever the prefix was; a key still picks its replica.
    serving.opened(serving.admit(unkeyed, config))
    assert [serving.admit(unkeyed, config).replica for _ in range(5)] == [0, 1, 2, 3, 0]
    assert len({serving.admit(path, config).replica for _ in range(6)}) == 1


# --- over HTTP -------------------------------------------------------------------------------------------


def post(emu: EmulatorServer, body: dict[str, Any]) -> httpx.Response:
    return emu.client.post(emu.base_url + "/chat/completions", json=body)


def test_a_repeated_prefix_is_cached_and_a_cached_prompt_is_prefilled_faster(
    emulator: EmulatorServer,
) -> None:
    emulator.configure(ttft_ms=40, tokens_per_second=2000, cache_replicas=4)
    with_key = [post(emulator, chat(prompt_cache_key="demo")) for _ in range(3)]
    assert [r.headers["fireworks-cached-prompt-tokens"] for r in with_key] == ["0", "12", "12"]
    assert with_key[1].json()["usage"]["prompt_tokens_details"] == {"cached_tokens": 12}
    emulator.reset()
    emulator.configure(ttft_ms=40, tokens_per_second=2000, cache_replicas=4)
    # One after another without a key: the same replica (the first message's), so cached too.
    without = [post(emulator, chat()) for _ in range(2)]
    assert [r.headers["fireworks-cached-prompt-tokens"] for r in without] == ["0", "12"]
    # A cached prompt shortens the prefill (half of the cached share, by default).
    assert float(without[0].headers["fireworks-server-processing-time"]) == pytest.approx(0.042, abs=0.002)
    assert float(without[1].headers["fireworks-server-processing-time"]) == pytest.approx(0.022, abs=0.002)


def test_under_load_only_a_cache_key_keeps_finding_the_prefix() -> None:
    """Eight identical requests at once after one that filled the cache: with a key all eight land on its
    replica; without one the burst is spread round-robin and most miss."""
    app = create_app(EmulatorConfig(ttft_ms=10, tokens_per_second=5000, cache_replicas=4))

    async def burst(extra: dict[str, Any]) -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            await client.post("/_emulator/reset")
            url = "/inference/v1/chat/completions"
            await client.post(url, json=chat(**extra))  # fills the cache of the replica it lands on
            answers = await asyncio.gather(
                *(client.post(url, json=chat(stream=True, **extra)) for _ in range(8))
            )
        return [a.headers["fireworks-cached-prompt-tokens"] for a in answers]

    keyed, unkeyed = asyncio.run(burst({"prompt_cache_key": "demo"})), asyncio.run(burst({}))
    assert keyed == ["12"] * 8
    assert 1 <= unkeyed.count("12") < 8


def test_a_cold_deployment_reports_its_wait_and_is_warm_next(emulator: EmulatorServer) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=2000, cold_start_ms=300)
    body = chat(model=DEPLOYMENT, perf_metrics_in_response=True, stream=True)
    cold = emulator.client.post(emulator.base_url + "/chat/completions", json=body)
    warm = emulator.client.post(emulator.base_url + "/chat/completions", json=body)
    assert cold.headers["fireworks-prefill-queue-duration"] == "0.3"
    assert warm.headers["fireworks-prefill-queue-duration"] == "0.0"
    assert float(cold.headers["fireworks-server-time-to-first-token"]) == pytest.approx(0.32, abs=0.01)
    last = json.loads([d for d in cold.text.split("\n\n") if d.startswith("data: {")][-1][6:])
    perf = last["perf_metrics"]
    assert perf["deployment"] == "demo-dedicated"
    assert perf["prefill-queue-duration"] == 0.3 and perf["prefill-duration"] == 0.02
    assert {"generation-queue-duration", "generation-duration", "num-concurrent-requests"} <= perf.keys()
    streams = emulator.state()["streams"]
    assert [s["serving"]["cold_ms"] for s in streams] == [300, 0]
    # Serverless answers report no breakdown (Fireworks sends it on dedicated deployments only).
    plain = post(emulator, chat(perf_metrics_in_response=True)).json()["perf_metrics"]
    assert "prefill-queue-duration" not in plain and "deployment" not in plain


def test_a_lora_add_on_is_served_a_little_slower(emulator: EmulatorServer) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=1000)
    base = post(emulator, chat(stream=True, max_tokens=8))
    lora = post(emulator, chat(model=LORA, stream=True, max_tokens=8))
    assert lora.status_code == 200 and base.status_code == 200
    paces = [s["pace"] for s in emulator.state()["streams"]]
    assert paces[0]["ttft_ms"] == 20 and paces[1]["ttft_ms"] == 60
    assert paces[1]["tokens_per_second"] == pytest.approx(850)
    missing = post(emulator, chat(model="accounts/acme/models/unknown-adapter"))
    assert missing.status_code == 404


def test_priority_is_faster_than_standard_under_the_same_load() -> None:
    """Eight requests at once per tier, in one ASGI app: each tier's k-th arrival waits for the k
    streams open before it, priority a quarter as long (the prompt cache's saving off: the fifth
    lands on the first one's replica)."""
    pace = {"ttft_ms": 10, "tokens_per_second": 5000, "queue_ms_per_stream": 20, "cached_prefill_saving": 0}
    app = create_app(EmulatorConfig(**pace))

    async def burst(tier: str) -> list[float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            await client.post("/_emulator/reset")
            body = chat(stream=True, service_tier=tier)
            await asyncio.gather(
                *(client.post("/inference/v1/chat/completions", json=body) for _ in range(8))
            )
            state = (await client.get("/_emulator/state")).json()
        return sorted(s["pace"]["ttft_ms"] for s in state["streams"])

    standard, priority = asyncio.run(burst("auto")), asyncio.run(burst("priority"))
    assert standard == pytest.approx([10 + 20 * k for k in range(8)])
    assert priority == pytest.approx([10 + 5 * k for k in range(8)])


def test_a_fault_for_one_model_waits_for_that_models_request(emulator: EmulatorServer) -> None:
    other = "accounts/fireworks/models/llama-v3p3-70b-instruct"
    emulator.inject({"kind": "status", "status": 503, "model": other})
    assert post(emulator, chat()).status_code == 200  # another model passes the fault by
    assert post(emulator, chat(model=other)).status_code == 503
    assert post(emulator, chat(model=other)).status_code == 200  # used once
    bad = emulator.client.post("/_emulator/faults", json={"faults": [{"kind": "cut", "model": 3}]})
    assert bad.status_code == 400 and "model" in bad.json()["detail"]
