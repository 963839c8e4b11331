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
from tests import test_consumers
from tests.frames import expand
from tests.test_consumers import ORIGIN, Socket

# The chat socket fixtures (signed-in "alice", the emulator as upstream, the API key check).
user = test_consumers.user
session_cookie = test_consumers.session_cookie
upstream_settings = test_consumers.upstream_settings
connect = test_consumers.connect

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
