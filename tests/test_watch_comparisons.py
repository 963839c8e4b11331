"""Watching a comparison live: a holder of the comparison's share link (signed out, on /ws/watch/) and a
member the comparison is shared with (on /ws/chat/, ``watch {conversation, comparison}``) watch every
column's conversation while the owner runs the comparison again, and nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from playground.models import Membership, Role, Run
from tests.proxy.test_consumers import MODEL
from tests.proxy.test_watch import (
    anonymous_watcher,
    connect,
    expand,
    new_conversation,
    session_cookie,
    upstream_settings,
    user,
    watch,
)

__all__ = ["connect", "session_cookie", "upstream_settings", "user"]

pytestmark = pytest.mark.django_db(transaction=True)


def setup_comparison(conversations: list[int]) -> dict[str, Any]:
    """alice's comparison of the last run of each conversation, a share link to it, a revoked one, and
    bob, a viewer in alice's workspace (the comparison is shared with it; its conversations stay private)."""
    from playground.services.comparisons import comparison_create
    from playground.services.sharing import (
        comparison_set_visibility,
        comparison_share_link_create,
        share_link_revoke,
    )

    alice = get_user_model().objects.get(username="alice")
    runs = [Run.objects.filter(conversation_id=c).latest("pk") for c in conversations]
    comparison = comparison_create(
        owner=alice,
        messages=[{"role": "user", "content": "Hello"}],
        columns=[{"label": f"c{i}", "model": MODEL, "run": r.pk} for i, r in enumerate(runs)],
    )
    link = comparison_share_link_create(user=alice, comparison_id=comparison.pk)
    revoked = comparison_share_link_create(user=alice, comparison_id=comparison.pk)
    share_link_revoke(user=alice, share_link_id=revoked.pk)
    bob = get_user_model().objects.create_user("bob")
    Membership.objects.create(workspace=comparison.workspace, user=bob, role=Role.VIEWER)
    comparison_set_visibility(user=alice, comparison_id=comparison.pk, visibility="workspace")
    return {"comparison": comparison.pk, "token": link.token, "revoked": revoked.token}


async def test_a_comparison_link_holder_and_a_member_watch_every_column_and_nothing_else(
    connect: Any, emulator: Any
) -> None:
    from tests.proxy.test_watch import cookie_for

    owner = await connect()
    columns = [await new_conversation(owner) for _ in range(2)]
    other = await new_conversation(owner)  # alice's, but in no comparison
    world = await database_sync_to_async(setup_comparison)(columns)
    token, comparison = world["token"], world["comparison"]

    # The link holder: each column's conversation, but not another conversation of the owner's.
    holder, ok = await anonymous_watcher(columns[0], token)
    assert ok == {"type": "watch.ok", "conversation": columns[0]}
    await holder.send_to(text_data=json.dumps({"type": "watch", "conversation": columns[1], "share": token}))
    assert json.loads(await holder.receive_from()) == {"type": "watch.ok", "conversation": columns[1]}
    for conversation in (other, 10**9):
        await holder.send_to(
            text_data=json.dumps({"type": "watch", "conversation": conversation, "share": token})
        )
        assert json.loads(await holder.receive_from())["code"] == "not_found"
    revoked, refused = await anonymous_watcher(columns[0], world["revoked"])
    assert refused["code"] == "not_found"

    # bob, a member the comparison is shared with: through the comparison only, and only its columns.
    bob = await connect(await cookie_for_existing("bob"))
    assert (await watch(bob, columns[0]))["code"] == "not_found"  # the conversation itself is private
    assert (await watch(bob, other, comparison=comparison))["code"] == "not_found"
    assert (await watch(bob, columns[0], comparison=comparison + 1))["code"] == "not_found"
    assert (await watch(bob, columns[0], comparison="1"))["code"] == "invalid_frame"
    for conversation in columns:
        assert await watch(bob, conversation, comparison=comparison) == {
            "type": "watch.ok",
            "conversation": conversation,
        }
    # A stranger naming the comparison gets nothing.
    mallory = await connect(await cookie_for("mallory"))
    assert (await watch(mallory, columns[0], comparison=comparison))["code"] == "not_found"

    # alice runs the comparison again: both columns at once, each in its own conversation.
    for i, conversation in enumerate(columns):
        await owner.start(f"again{i}", conversation=conversation, params={"max_tokens": 8, "seed": i})
    frames: list[dict[str, Any]] = []
    while len({f["stream"] for f in frames if f["type"] in ("chat.done", "chat.error")}) < 2:
        frames.append(await owner.receive(10))
    sent = expand(frames)
    # Then a stream on a conversation of alice's that is in no comparison: neither watcher gets it.
    await owner.start("elsewhere", conversation=other, params={"max_tokens": 3})
    await owner.until_end("elsewhere")

    def texts(got: list[dict[str, Any]], stream: str) -> list[str]:
        return [f.get("content") for f in got if f["type"] == "chat.delta" and f.get("stream") == stream]

    async def watched(receive: Any) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        done = 0
        while done < 2:
            frame = await receive()
            got.append(frame)
            done += frame["type"] in ("chat.done", "chat.error")
        return expand(got)

    for got in (
        await watched(lambda: _receive(holder)),
        await watched(lambda: bob.receive(10)),
    ):
        assert {f["conversation"] for f in got if f.get("watching")} == set(columns)
        for i in range(2):
            assert texts(got, f"again{i}") == texts(sent, f"again{i}") and texts(got, f"again{i}")
        assert next(f for f in got if f["type"] == "chat.done")["watching"] is True
    # The unrelated conversation's stream reached neither.
    assert await holder.receive_nothing(0.2)
    assert await bob.communicator.receive_nothing(0.1)
    for communicator in (holder, revoked):
        await communicator.disconnect()


async def _receive(communicator: Any) -> dict[str, Any]:
    return json.loads(await communicator.receive_from(10))


async def cookie_for_existing(username: str) -> bytes:
    from django.test import Client

    def login() -> bytes:
        client = Client()
        client.force_login(get_user_model().objects.get(username=username))
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    return await database_sync_to_async(login)()
