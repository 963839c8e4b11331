"""Live watching through the in-memory channel layer: watch, the live frames, unwatch, the snapshot."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from playground.asgi import application
from playground.models import Membership, Role, Run
from tests.frames import expand
from tests.proxy.conftest import MODEL, ORIGIN, Socket

# The chat socket fixtures (signed-in "alice", the emulator as upstream, the API key check).

pytestmark = pytest.mark.django_db(transaction=True)


async def cookie_for(username: str) -> bytes:
    def login() -> bytes:
        client = Client()
        client.force_login(get_user_model().objects.create_user(username))
        return f"sessionid={client.cookies['sessionid'].value}".encode()

    return await database_sync_to_async(login)()


async def until_watched_end(ws: Socket, stream: str, wait: float = 10) -> list[dict[str, Any]]:
    """The frames a watcher receives until the watched stream's chat.done or chat.error."""
    got = []
    while True:
        frame = await ws.receive(wait)
        got.append(frame)
        if frame.get("stream") == stream and frame["type"] in ("chat.done", "chat.error"):
            return expand(got)


async def new_conversation(ws: Socket) -> int:
    await ws.start("first", params={"max_tokens": 3})
    frames = await ws.until_end("first")
    assert frames[-1]["type"] == "chat.done"
    return int(frames[0]["conversation"])


async def watch(ws: Socket, conversation: int, **more: Any) -> dict[str, Any]:
    await ws.send({"type": "watch", "conversation": conversation, **more})
    return await ws.receive()


async def test_a_second_socket_watches_a_stream_live_with_its_metrics(connect: Any, emulator: Any) -> None:
    owner, watcher = await connect(), await connect()
    conversation = await new_conversation(owner)
    assert await watch(watcher, conversation) == {"type": "watch.ok", "conversation": conversation}

    await owner.start("s1", conversation=conversation, params={"max_tokens": 30})
    sent = expand(await owner.until_end("s1"))
    seen = await until_watched_end(watcher, "s1")

    assert not any(f.get("watching") for f in sent)
    assert all(f["watching"] is True and f["conversation"] == conversation for f in seen)
    assert {f["started_by"] for f in seen} == {"alice"}
    kinds = [f["type"] for f in seen]
    assert kinds[0] == "chat.started" and kinds[-1] == "chat.done"
    assert {"chat.opened", "chat.usage", "chat.delta"} <= set(kinds)
    started = seen[0]
    assert "request" not in started and started["model"] and started["run"] == sent[0]["run"]
    # Token by token: the same deltas, same indexes, same text, as the owner's socket got.
    mine = [(f["i"], f["choice"], f.get("content")) for f in sent if f["type"] == "chat.delta"]
    theirs = [(f["i"], f["choice"], f.get("content")) for f in seen if f["type"] == "chat.delta"]
    assert theirs == mine and len(mine) > 5
    assert seen[-1]["message_id"] == sent[-1]["message_id"]


async def test_the_owner_watching_its_own_conversation_gets_each_frame_once(
    connect: Any, emulator: Any
) -> None:
    owner = await connect()
    conversation = await new_conversation(owner)
    assert (await watch(owner, conversation))["type"] == "watch.ok"
    await owner.start("s1", conversation=conversation, params={"max_tokens": 10})
    frames = await owner.until_end("s1")
    assert not any(f.get("watching") for f in frames)
    assert await owner.communicator.receive_nothing(0.2)


async def test_strangers_and_anonymous_sockets_may_not_watch(connect: Any, emulator: Any) -> None:
    owner = await connect()
    conversation = await new_conversation(owner)
    stranger = await connect(await cookie_for("mallory"))
    refused = await watch(stranger, conversation)
    assert refused["type"] == "chat.error"
    assert (refused["code"], refused["param"]) == ("not_found", "conversation")
    assert (await watch(stranger, 10**9))["code"] == "not_found"
    assert (await watch(stranger, "1"))["code"] == "invalid_frame"  # type: ignore[arg-type]

    anonymous = WebsocketCommunicator(application, "/ws/watch/", headers=[ORIGIN])
    connected, _ = await anonymous.connect()
    assert connected
    await anonymous.send_to(text_data=json.dumps({"type": "watch", "conversation": conversation}))
    assert json.loads(await anonymous.receive_from())["code"] == "not_found"
    await anonymous.send_to(text_data=json.dumps({"type": "chat.start", "stream": "x"}))
    assert json.loads(await anonymous.receive_from())["code"] == "unknown_type"

    await owner.start("s1", conversation=conversation, params={"max_tokens": 10})
    await owner.until_end("s1")
    assert await stranger.communicator.receive_nothing(0.2)
    assert await anonymous.receive_nothing(0.1)
    await anonymous.disconnect()


async def test_unwatch_stops_the_frames(connect: Any, emulator: Any) -> None:
    owner, watcher = await connect(), await connect()
    conversation = await new_conversation(owner)
    await watch(watcher, conversation)
    await watcher.send({"type": "unwatch", "conversation": conversation})
    assert await watcher.receive() == {"type": "unwatch.ok", "conversation": conversation}
    await owner.start("s1", conversation=conversation, params={"max_tokens": 10})
    await owner.until_end("s1")
    assert await watcher.communicator.receive_nothing(0.3)


async def test_joining_mid_stream_gets_the_snapshot_then_the_rest_once(connect: Any, emulator: Any) -> None:
    emulator.configure(ttft_ms=5, tokens_per_second=100)
    owner, watcher = await connect(), await connect()
    conversation = await new_conversation(owner)
    await owner.start("s1", conversation=conversation, params={"max_tokens": 60})
    sent = []
    while sum(f["type"] == "chat.delta" for f in sent) < 10:
        sent += expand([await owner.receive()])
    assert (await watch(watcher, conversation))["type"] == "watch.ok"
    sent += expand(await owner.until_end("s1"))
    seen = await until_watched_end(watcher, "s1")

    snapshots = [f for f in seen if f["type"] == "watch.snapshot"]
    assert len(snapshots) == 1
    snapshot = snapshots[0]
    assert snapshot["stream"] == "s1" and snapshot["started_by"] == "alice"
    assert snapshot["run"] == sent[0]["run"]
    # The snapshot is the frames sent so far: chat.started, chat.opened, then the deltas up to ``i``.
    kinds = [f["type"] for f in snapshot["frames"]]
    assert kinds[:2] == ["chat.started", "chat.opened"] and snapshot["frames"][1]["request_id"]
    snapped = [f for f in snapshot["frames"] if f["type"] == "chat.delta"]
    assert [f["i"] for f in snapped] == list(range(snapshot["i"] + 1))
    last = max(f["i"] for f in sent if f["type"] == "chat.delta")
    assert 9 <= snapshot["i"] < last
    # The page's rule: fold the snapshot's frames, then each delta with an index above the last applied.
    text, applied = "".join(f.get("content", "") for f in snapped), snapshot["i"]
    after = seen[seen.index(snapshot) + 1 :]
    indexes = [f["i"] for f in after if f["type"] == "chat.delta"]
    assert indexes == list(range(snapshot["i"] + 1, last + 1))
    for frame in after:
        if frame["type"] == "chat.delta" and frame["i"] > applied:
            text, applied = text + frame.get("content", ""), frame["i"]
    assert text == "".join(f.get("content", "") for f in sent if f["type"] == "chat.delta")
    assert seen[-1]["type"] == "chat.done"


async def anonymous_watcher(conversation: int, token: str) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    communicator = WebsocketCommunicator(application, "/ws/watch/", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    frame = {"type": "watch", "conversation": conversation, "share": token}
    await communicator.send_to(text_data=json.dumps(frame))
    return communicator, json.loads(await communicator.receive_from())


async def test_a_share_link_holder_watches_without_signing_in(connect: Any, emulator: Any) -> None:
    from playground.services.sharing import share_link_create, share_link_revoke

    owner = await connect()
    conversation = await new_conversation(owner)
    alice = await database_sync_to_async(get_user_model().objects.get)(username="alice")
    create = database_sync_to_async(share_link_create)
    link = await create(user=alice, conversation_id=conversation)
    hiding = await create(user=alice, conversation_id=conversation, hide_parameters=True)
    revoked = await create(user=alice, conversation_id=conversation)
    await database_sync_to_async(share_link_revoke)(user=alice, share_link_id=revoked.pk)

    plain, ok = await anonymous_watcher(conversation, link.token)
    assert ok == {"type": "watch.ok", "conversation": conversation}
    hidden, ok = await anonymous_watcher(conversation, hiding.token)
    assert ok["type"] == "watch.ok"
    gone, refused = await anonymous_watcher(conversation, revoked.token)
    assert refused["code"] == "not_found"
    wrong, refused = await anonymous_watcher(conversation + 1, link.token)
    assert refused["code"] == "not_found"

    await owner.start("s1", conversation=conversation, params={"max_tokens": 10, "temperature": 0.3})
    sent = expand(await owner.until_end("s1"))
    for communicator, hides in ((plain, False), (hidden, True)):
        got = []
        while not got or got[-1]["type"] != "chat.done":
            got += expand([json.loads(await communicator.receive_from())])
        assert [f.get("content") for f in got if f["type"] == "chat.delta"] == [
            f.get("content") for f in sent if f["type"] == "chat.delta"
        ]
        opened = next(f for f in got if f["type"] == "chat.opened")
        assert ("sampling_options" in opened) is not hides and ("requested" in opened) is not hides
        assert opened["request_id"]
    for communicator in (gone, wrong):
        assert await communicator.receive_nothing(0.1)
    for communicator in (plain, hidden, gone, wrong):
        await communicator.disconnect()


# --- watching a comparison live ----------------------------------------------------------------
# Watching a comparison live: a holder of the comparison's share link (signed out, on /ws/watch/) and a
# member the comparison is shared with (on /ws/chat/, ``watch {conversation, comparison}``) watch every
# column's conversation while the owner runs the comparison again, and nothing else.


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
