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
        ada, 200, scorers=[{"kind": "contains", "text": "offline"}, {"kind": "latency", "ms": 60_000}], concurrency=8
    )
    layer = get_channel_layer()
    watcher = await layer.new_channel()
    await layer.group_add(group_name(eval_run.pk), watcher)
    runner = await EvalRunner.claim(eval_id=eval_run.pk, user=ada, layer=layer)
    assert await runner.run() == EvalRun.Status.DONE

    cells = await database_sync_to_async(lambda: list(EvalCell.objects.filter(eval_run=eval_run).select_related("run")))()
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
