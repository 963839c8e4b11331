"""playground/evals/consumers.py: /ws/eval/ follows, runs and stops an eval; refusals say why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from playground.evals import services
from playground.evals.models import EvalCell, EvalRun
from tests.playground.evals.conftest import make_eval

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("close_upstream")]
ORIGIN = (b"origin", b"http://127.0.0.1")


def cookie_of(user: Any) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.fixture
async def open_socket() -> AsyncIterator[Callable[..., Awaitable[WebsocketCommunicator]]]:
    from playground.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def connect(user: Any = None) -> WebsocketCommunicator:
        headers = [ORIGIN]
        if user is not None:
            headers.append((b"cookie", await database_sync_to_async(cookie_of)(user)))
        communicator = WebsocketCommunicator(application, "/ws/eval/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        opened.append(communicator)
        return communicator

    yield connect
    for communicator in opened:
        await communicator.disconnect()


async def frames_until(
    socket: WebsocketCommunicator, done: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    got = []
    while True:
        frame = json.loads(await socket.receive_from(20))
        got.append(frame)
        if done(frame):
            return got


async def test_a_member_runs_an_eval_and_a_second_socket_follows_it_live(
    ada: Any, upstream: Any, open_socket: Any
) -> None:
    eval_run = await database_sync_to_async(make_eval)(
        ada, 5, scorers=[{"kind": "regex", "pattern": "emulator"}]
    )
    watcher = await open_socket(ada)
    await watcher.send_to(text_data=json.dumps({"type": "eval.watch", "eval": eval_run.pk}))
    assert json.loads(await watcher.receive_from()) == {
        "type": "eval.watching",
        "eval": eval_run.pk,
        "status": "queued",
        "progress": {"total": 10, "done": 0, "failed": 0},
    }
    runner = await open_socket(ada)
    await runner.send_to(text_data=json.dumps({"type": "eval.run", "eval": eval_run.pk}))
    frames = await frames_until(watcher, lambda f: f["type"] == "eval.status" and f["status"] == "done")
    assert frames[0]["type"] == "eval.status" and frames[0]["status"] == "running"
    cells = [f for f in frames if f["type"] == "eval.cell"]
    assert [f["progress"]["done"] for f in cells] == list(range(1, 11))
    assert all(
        f["cell"]["passed"] is True and f["cell"]["answer"].startswith("[offline emulator]") for f in cells
    )
    assert frames[-1]["eta_s"] == 0.0
    # Running it again while it is done runs nothing new; while running it is refused.
    await EvalRun.objects.filter(pk=eval_run.pk).aupdate(status="running")
    await runner.send_to(text_data=json.dumps({"type": "eval.run", "eval": eval_run.pk}))
    refused = json.loads(await runner.receive_from())
    assert (refused["code"], refused["message"]) == ("conflict", "This eval is running already.")


async def test_refusals_not_found_forbidden_and_signed_out(ada: Any, upstream: Any, open_socket: Any) -> None:
    eval_run = await database_sync_to_async(make_eval)(ada, 1)
    bob = await database_sync_to_async(get_user_model().objects.create_user)("bob")
    other = await open_socket(bob)
    for kind in ("eval.watch", "eval.run", "eval.stop"):
        await other.send_to(text_data=json.dumps({"type": kind, "eval": eval_run.pk}))
        frame = json.loads(await other.receive_from())
        assert (frame["type"], frame["code"], frame["param"]) == ("chat.error", "not_found", "eval")
    anonymous = await open_socket()
    await anonymous.send_to(text_data=json.dumps({"type": "eval.run", "eval": eval_run.pk}))
    assert json.loads(await anonymous.receive_from())["code"] == "forbidden"
    await anonymous.send_to(text_data=json.dumps({"type": "eval.watch", "eval": "1"}))
    assert json.loads(await anonymous.receive_from())["code"] == "invalid_frame"
    # With a share link of the eval, a signed-out visitor may follow it (never run it).
    link = await database_sync_to_async(services.eval_share_link_create)(user=ada, eval_id=eval_run.pk)
    await anonymous.send_to(
        text_data=json.dumps({"type": "eval.watch", "eval": eval_run.pk, "share": link.token})
    )
    assert json.loads(await anonymous.receive_from())["type"] == "eval.watching"
    assert await EvalCell.objects.filter(eval_run=eval_run, status="pending").acount() == 2


async def test_stop_from_a_socket_keeps_finished_cells(ada: Any, upstream: Any, open_socket: Any) -> None:
    upstream.configure(ttft_ms=5, tokens_per_second=100, chunk_tokens=1)
    eval_run = await database_sync_to_async(make_eval)(ada, 30, concurrency=2)
    socket = await open_socket(ada)
    await socket.send_to(text_data=json.dumps({"type": "eval.watch", "eval": eval_run.pk}))
    await socket.send_to(text_data=json.dumps({"type": "eval.run", "eval": eval_run.pk}))
    await frames_until(socket, lambda f: f["type"] == "eval.cell" and f["progress"]["done"] == 3)
    await socket.send_to(text_data=json.dumps({"type": "eval.stop", "eval": eval_run.pk}))
    frames = await frames_until(socket, lambda f: f["type"] == "eval.status" and f["status"] != "running")
    assert frames[-1]["status"] == "stopped"
    done = await EvalCell.objects.filter(eval_run=eval_run, status="done").acount()
    assert done == frames[-1]["progress"]["done"] >= 3
    assert await EvalCell.objects.filter(eval_run=eval_run, status="pending").acount() > 0
