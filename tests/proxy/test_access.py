"""proxy/access.py: the socket knows who may start what, so a stream's request leaves without a query;
any access change makes it forget, and the database decides again."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from playground.models import Conversation, Membership, Role, Visibility, Workspace
from proxy import access as access_module
from proxy import stream as stream_module
from tests.proxy.conftest import MODEL, Socket

pytestmark = pytest.mark.django_db(transaction=True)


def forbid(monkeypatch: pytest.MonkeyPatch, module: Any, read: str) -> list[dict[str, Any]]:
    """Make a read of the database (``module.read``) fail loudly; returns the calls it saw."""
    calls: list[dict[str, Any]] = []

    def refuse(**kwargs: Any) -> Any:
        calls.append(kwargs)
        raise AssertionError(f"{read} read the database")

    monkeypatch.setattr(module, read, refuse)
    return calls


def forbid_reads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The database access check fails loudly."""
    return forbid(monkeypatch, access_module, "run_access")


async def test_a_known_conversation_starts_its_stream_without_a_query(
    connect: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws: Socket = await connect()
    await ws.start("one", params={"max_tokens": 3})
    first = await ws.until_end("one")
    conversation = first[0]["conversation"]
    assert first[-1]["type"] == "chat.done"
    calls = forbid_reads(monkeypatch)
    # A new conversation in the personal workspace and the one just run: both decided by the socket.
    await ws.start("two", conversation=conversation, params={"max_tokens": 3})
    await ws.start("three", params={"max_tokens": 3})
    for stream in ("two", "three"):
        frames = await ws.until_end(stream)
        assert frames[-1]["type"] == "chat.done", frames[-1]
    assert calls == []


async def test_a_lowered_role_is_refused_at_once_though_the_socket_knew_better(
    connect: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playground.services.workspaces import membership_set_role

    def team() -> tuple[int, int]:
        alice = get_user_model().objects.get(username="alice")
        owner = get_user_model().objects.create_user("olga")
        workspace = Workspace.objects.create(name="Team")
        Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
        membership = Membership.objects.create(workspace=workspace, user=alice, role=Role.EDITOR)
        return workspace.pk, membership.pk

    workspace, membership = await database_sync_to_async(team)()
    ws: Socket = await connect()
    await ws.start("one", params={"max_tokens": 3})
    conversation = (await ws.until_end("one"))[0]["conversation"]

    def into_team() -> None:
        Conversation.objects.filter(pk=conversation).update(
            workspace_id=workspace, visibility=Visibility.WORKSPACE
        )

    await database_sync_to_async(into_team)()
    olga = await database_sync_to_async(get_user_model().objects.get)(username="olga")
    await database_sync_to_async(membership_set_role)(user=olga, membership_id=membership, role=Role.VIEWER)
    await ws.start("two", conversation=conversation, params={"max_tokens": 3})
    refused = (await ws.until_end("two"))[-1]
    assert (refused["type"], refused["code"]) == ("chat.error", "forbidden")
    assert "viewer" in refused["message"]


def forbid_price_reads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Reading a run's price from the database fails loudly."""
    return forbid(monkeypatch, stream_module, "price_for")


async def test_the_socket_knows_its_workspaces_prices_and_learns_a_change(
    connect: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playground.pricing.services import model_price_set

    alice = await database_sync_to_async(get_user_model().objects.get)(username="alice")
    personal = await database_sync_to_async(Workspace.objects.get)(personal_for=alice)

    async def price(output: str) -> None:
        await database_sync_to_async(model_price_set)(
            user=alice, workspace_id=personal.pk, model=MODEL, kind="override", input="2", output=output
        )

    await price("10")
    ws: Socket = await connect()
    calls = forbid_price_reads(monkeypatch)
    await ws.start("one", params={"max_tokens": 3})
    one = await ws.until_end("one")
    opened = next(f for f in one if f["type"] == "chat.opened")
    assert opened["price"] == {"input": 2.0, "cached_input": 2.0, "output": 10.0}
    # The owner changes the price (here, from another tab): the next stream is costed at the new one.
    await price("30")
    await ws.start("two", conversation=one[0]["conversation"], params={"max_tokens": 3})
    two = await ws.until_end("two")
    opened = next(f for f in two if f["type"] == "chat.opened")
    assert opened["price"] == {"input": 2.0, "cached_input": 2.0, "output": 30.0}
    usage = next(f for f in two if f["type"] == "chat.usage")
    assert two[-1]["timings"]["cost"]["output"] == pytest.approx(usage["completion_tokens"] * 30 / 1e6)
    assert calls == []
