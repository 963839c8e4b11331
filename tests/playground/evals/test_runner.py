"""playground/evals/runner.py: whole evals on the emulator, counted at the upstream."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from playground.evals import services
from playground.evals.models import EvalCell, EvalRun
from playground.evals.runner import EvalRunner, RetryingClient, group_name
from playground.evals.selectors import eval_data
from playground.models import Run
from proxy.client.errors import UpstreamHTTPError
from tests.playground.evals.conftest import MODEL, OTHER, make_eval

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_upstream")]


def generation_requests(upstream: Any) -> list[dict[str, Any]]:
    return [r for r in upstream.state()["requests"] if r["path"].endswith("/chat/completions")]


STREAMING = {"stream": True, "stream_options": {"include_usage": True}, "perf_metrics_in_response": True}


def expected_body(model: str, question: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        **STREAMING,
        "model": model,
        "messages": [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": f"What is {question}?"},
        ],
        **params,
    }


async def test_200_rows_by_2_configurations_fill_every_cell_once(ada: Any, upstream: Any) -> None:
    eval_run = await database_sync_to_async(make_eval)(
        ada,
        200,
        scorers=[{"kind": "contains", "text": "offline"}, {"kind": "latency", "ms": 60_000}],
        concurrency=8,
    )
    layer = get_channel_layer()
    watcher = await layer.new_channel()
    await layer.group_add(group_name(eval_run.pk), watcher)
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada, layer=layer)
    assert await runner.run() == EvalRun.Status.DONE

    cells = await database_sync_to_async(
        lambda: list(EvalCell.objects.filter(eval_run=eval_run).select_related("run"))
    )()
    assert len(cells) == 400
    assert {c.status for c in cells} == {"done"}
    assert all(c.answer.startswith("[offline emulator]") for c in cells)
    assert all(c.passed is True and [s["kind"] for s in c.scores] == ["contains", "latency"] for c in cells)
    assert all(c.figures["tokens"] and c.figures["ttft_ms"] is not None for c in cells)
    # Each cell links its own saved run, whose request is the exact body the upstream received.
    assert len({c.run_id for c in cells}) == 400
    assert all(c.run.status == Run.Status.DONE and c.attempts == 1 for c in cells)
    received = generation_requests(upstream)
    assert len(received) == 400
    llama = {"max_tokens": 12, "temperature": 0}
    wanted = [expected_body(MODEL, f"q{i}", llama) for i in range(200)]
    wanted += [expected_body(OTHER, f"q{i}", {"max_tokens": 12}) for i in range(200)]

    def key(body: dict[str, Any]) -> str:
        return repr(sorted(body.items()))

    sorted_received = sorted((r["body"] for r in received), key=lambda b: json.dumps(b, sort_keys=True))
    sorted_wanted = sorted(wanted, key=lambda b: json.dumps(b, sort_keys=True))
    assert sorted_received == sorted_wanted
    # Each cell's run record keeps the body its own row and configuration sent.
    for cell in cells:
        assert cell.run.request == wanted[cell.column * 200 + cell.row]
    # Each configuration's summary: every cell passed, each run costed at its model's price.
    data = await database_sync_to_async(eval_data)(await EvalRun.objects.aget(pk=eval_run.pk))
    for column, price in zip(data["columns"], (0.2, 0.9), strict=True):
        summary = column["summary"]
        assert (summary["pass_rate"], summary["finished"], summary["errors"]) == (1.0, 200, 0)
        assert summary["cost"]["runs"] == 200 and summary["cost"]["unpriced"] == 0
        mine = [c for c in cells if c.column == column["index"]]
        # The cell keeps its run's figures; the column sums each run's saved cost, at most the
        # uncached price of every token (cached prompt tokens are cheaper).
        assert all(c.figures == c.run.timings for c in mine)
        tokens = sum(c.usage["prompt_tokens"] + c.usage["completion_tokens"] for c in mine)
        assert summary["cost"]["total"] == pytest.approx(sum(c.run.timings["cost"]["total"] for c in mine))
        assert 0 < summary["cost"]["total"] <= tokens * price / 1e6
        assert summary["ttft_ms"]["p95"] >= summary["ttft_ms"]["mean"] > 0
    # The watchers saw every cell end, the progress counting up to 400.
    frames = []
    while True:
        try:
            message = await asyncio.wait_for(layer.receive(watcher), 0.2)
        except TimeoutError:
            break
        frames.append(message["text"])
    decoded = [json.loads(f) for f in frames]
    cell_frames = [f for f in decoded if f["type"] == "eval.cell"]
    assert len(cell_frames) == 400
    assert [f["progress"]["done"] for f in cell_frames] == list(range(1, 401))
    assert decoded[-1] == {**decoded[-1], "type": "eval.status", "status": "done"}


async def test_a_temperature_sweep_sends_each_value_to_the_upstream(ada: Any, upstream: Any) -> None:
    eval_run = await database_sync_to_async(make_eval)(
        ada,
        2,
        samples=2,
        configs=[
            {"model": MODEL, "params": {"max_tokens": 12}},
            {"model": OTHER, "params": {"max_tokens": 12}},
        ],
        sweep={"config": 1, "param": "temperature", "values": [0, 0.7, 1.4]},
    )
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada, layer=get_channel_layer())
    assert await runner.run() == EvalRun.Status.DONE
    # The first configuration as it was; the second, once per value, each row twice (2 samples).
    wanted = [expected_body(MODEL, f"q{i}", {"max_tokens": 12}) for i in range(2) for _ in range(2)]
    wanted += [
        expected_body(OTHER, f"q{i}", {"max_tokens": 12, "temperature": t})
        for t in (0.0, 0.7, 1.4)
        for i in range(2)
        for _ in range(2)
    ]

    def ordered(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(bodies, key=lambda b: json.dumps(b, sort_keys=True))

    assert ordered([r["body"] for r in generation_requests(upstream)]) == ordered(wanted)
    data = await database_sync_to_async(eval_data)(await EvalRun.objects.aget(pk=eval_run.pk))
    assert [c["label"] for c in data["columns"]] == [
        "llama-v3p1-8b-instruct",
        "temperature=0",
        "temperature=0.7",
        "temperature=1.4",
    ]
    assert "samples" not in data["columns"][0]
    assert [[s["finished"] for s in c["samples"]] for c in data["columns"][1:]] == [[2, 2]] * 3


async def test_stop_half_way_keeps_finished_cells_and_closes_running_requests(
    ada: Any, upstream: Any
) -> None:
    upstream.configure(ttft_ms=5, tokens_per_second=100, chunk_tokens=1)
    configs = [
        {"label": "long", "model": MODEL, "params": {"max_tokens": 20}},
        {"model": OTHER, "params": {"max_tokens": 20}},
    ]
    eval_run = await database_sync_to_async(make_eval)(ada, 20, configs=configs, concurrency=4)
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada)
    task = runner.start()
    done = 0
    while done < 10:
        await asyncio.sleep(0.02)
        done = await EvalCell.objects.filter(eval_run=eval_run, status="done").acount()
    runner.stop()
    assert await task == EvalRun.Status.STOPPED
    cells = await database_sync_to_async(
        lambda: list(EvalCell.objects.filter(eval_run=eval_run).select_related("run"))
    )()
    statuses = Counter(c.status for c in cells)
    assert statuses["done"] >= 10 and statuses["stopped"] >= 1
    assert statuses["done"] + statuses["stopped"] + statuses["pending"] == 40
    # The finished cells keep their answers; the stopped ones' runs were saved as stopped, and the
    # upstream saw each of their connections close before the end.
    assert all(c.answer and c.run.status == "done" for c in cells if c.status == "done")
    stopped = [c for c in cells if c.status == "stopped"]
    assert all(c.run.status == "stopped" for c in stopped)
    ids = {c.run.request_id for c in stopped if c.run.request_id}
    for _ in range(100):  # the emulator notices a closed connection a moment later
        ends = {s["request_id"]: s["end"] for s in upstream.state()["streams"] if s["request_id"] in ids}
        if None not in ends.values():
            break
        await asyncio.sleep(0.02)
    # Each was closed (a stream whose last bytes were already sent may count as completed there).
    assert None not in ends.values() and "client_disconnected" in ends.values()
    assert upstream.state()["open_streams"] == 0
    assert (await EvalRun.objects.aget(pk=eval_run.pk)).status == "stopped"
    # A re-run of the unfinished cells runs only those, and completes the eval.
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada)
    assert len(runner.cells) == 40 - statuses["done"]
    assert await runner.run() == EvalRun.Status.DONE
    assert await EvalCell.objects.filter(eval_run=eval_run, status="done").acount() == 40


async def test_a_server_restart_marks_the_run_interrupted_and_keeps_finished_cells(
    ada: Any, upstream: Any
) -> None:
    eval_run = await database_sync_to_async(make_eval)(ada, 3)
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada)
    # The process that claimed it "dies" after two cells: one done, one mid-request.
    cells = await database_sync_to_async(lambda: list(EvalCell.objects.filter(eval_run=eval_run)))()
    await database_sync_to_async(services.cell_finish)(
        cell_id=cells[0].pk,
        status="done",
        answer="kept",
        figures={"ttft_ms": 5},
        usage=None,
        scores=[],
        passed=None,
        error=None,
        attempts=1,
    )
    await EvalCell.objects.filter(pk=cells[1].pk).aupdate(status="running")
    await EvalRun.objects.filter(pk=eval_run.pk).aupdate(
        runner=runner.eval_run.runner.rsplit(":", 1)[0] + ":oldboot"
    )
    # The next server start.
    assert await database_sync_to_async(services.eval_interrupt_orphans)() == 1
    fresh = await EvalRun.objects.aget(pk=eval_run.pk)
    assert fresh.status == "interrupted"
    after = await database_sync_to_async(
        lambda: {c.pk: c for c in EvalCell.objects.filter(eval_run=eval_run)}
    )()
    assert after[cells[0].pk].status == "done" and after[cells[0].pk].answer == "kept"
    assert after[cells[1].pk].status == "stopped"
    assert Counter(c.status for c in after.values())["pending"] == 4
    # A live runner's eval is left alone.
    assert await database_sync_to_async(services.eval_interrupt_orphans)() == 0


async def test_a_429_is_tried_again_after_retry_after(ada: Any, upstream: Any) -> None:
    upstream.inject({"kind": "status", "status": 429, "retry_after": 2, "shape": "object"})
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    eval_run = await database_sync_to_async(make_eval)(ada, 1, concurrency=1)
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada, sleep=sleep)
    assert await runner.run() == EvalRun.Status.DONE
    assert waits == [2.0]
    cells = await database_sync_to_async(
        lambda: list(EvalCell.objects.filter(eval_run=eval_run).select_related("run"))
    )()
    assert {c.status for c in cells} == {"done"}
    assert sorted(c.attempts for c in cells) == [1, 2]
    received = generation_requests(upstream)
    assert len(received) == 3
    retried = next(c for c in cells if c.attempts == 2)
    assert [r["body"] for r in received].count(retried.run.request) == 2


async def test_the_retrying_client_gives_up_on_other_errors() -> None:
    class Refusing:
        calls = 0

        async def stream_batches(self, body: dict[str, Any], *, endpoint: str = "chat") -> Any:
            Refusing.calls += 1
            raise UpstreamHTTPError("bad", status=400, code="bad_request")
            yield []

    client = RetryingClient(Refusing())
    with pytest.raises(UpstreamHTTPError):
        await anext(client.stream_batches({}))
    assert Refusing.calls == 1


async def test_two_prompt_versions_by_one_configuration(ada: Any, upstream: Any) -> None:
    from playground.models import personal_workspace_of
    from playground.prompts.services import prompt_create, version_create

    def setup() -> EvalRun:
        workspace = personal_workspace_of(ada.pk)
        first = prompt_create(
            user=ada,
            workspace_id=workspace.pk,
            name="support",
            version={
                "model": MODEL,
                "messages": [{"role": "user", "content": "Q: {{question}}"}],
                "params": {"temperature": 0.5, "max_tokens": 9},
            },
        )
        second = version_create(
            user=ada,
            prompt_id=first.prompt_id,
            version={
                "model": MODEL,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": "{{question}}?"}],
                "params": {"temperature": 0.5, "max_tokens": 9},
            },
            note="shorter",
        )
        return services.eval_create(
            user=ada,
            workspace_id=workspace.pk,
            name="versions",
            variables=["question"],
            rows=[{"values": {"question": "why"}, "expected": None}],
            prompts=[{"version": first.pk}, {"version": second.pk}],
            configs=[{"label": "cold", "model": OTHER, "params": {"temperature": 0}}],
        )

    eval_run = await database_sync_to_async(setup)()
    assert [c["label"] for c in eval_run.columns] == ["support v1 · cold", "support v2 · cold"]
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada)
    assert await runner.run() == EvalRun.Status.DONE
    bodies = sorted((r["body"] for r in generation_requests(upstream)), key=lambda b: len(b["messages"]))
    # The version's parameters, the configuration's model and temperature over them.
    assert bodies == [
        {
            **STREAMING,
            "model": OTHER,
            "messages": [{"role": "user", "content": "Q: why"}],
            "temperature": 0.0,
            "max_tokens": 9,
        },
        {
            **STREAMING,
            "model": OTHER,
            "temperature": 0.0,
            "max_tokens": 9,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "why?"}],
        },
    ]


async def test_a_cell_that_fails_unexpectedly_ends_as_an_error_and_the_others_run(
    ada: Any, upstream: Any
) -> None:
    from playground.evals.runner import default_client_factory

    calls = {"n": 0}

    def flaky(api_key: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("a bug")
        return default_client_factory(api_key)

    eval_run = await database_sync_to_async(make_eval)(ada, 2, concurrency=1)
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada, client_factory=flaky)
    assert await runner.run() == EvalRun.Status.DONE
    statuses = Counter(
        await database_sync_to_async(lambda: [c.status for c in EvalCell.objects.filter(eval_run=eval_run)])()
    )
    assert statuses == Counter({"done": 3, "error": 1})
    failed = await EvalCell.objects.aget(eval_run=eval_run, status="error")
    assert failed.error["message"] == "The server failed while running this cell."


async def test_a_key_echoed_by_the_upstream_never_reaches_a_cell(
    ada: Any, upstream: Any, settings: Any
) -> None:
    settings.FIREWORKS_API_KEY = "fw_SERVERKEY42"
    upstream.inject({"kind": "reply", "content": "your key is fw_SERVERKEY42"})
    eval_run = await database_sync_to_async(make_eval)(ada, 1, concurrency=1, configs=[{"model": MODEL}])
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada, server_key="fw_SERVERKEY42")
    assert await runner.run() == EvalRun.Status.DONE
    cell = await EvalCell.objects.select_related("run").aget(eval_run=eval_run)
    assert cell.answer.endswith("your key is [redacted]")
    assert "fw_SERVERKEY42" not in json.dumps(cell.run.output)
