"""Live watching: a conversation's running streams, sent to everyone allowed to see it, on any process.

Every stream with a conversation sends each frame it sends its own browser to the channel-layer group
``conversation.<id>`` too, tagged ``watching: true``, with the conversation id and who started it. The
frame is encoded once per stream frame (never per viewer) and handed to a queue: one task per stream
does the ``group_send`` calls in order, so the relay loop never waits on the channel layer (Redis).

A socket that sends ``watch`` joins the group, then asks for snapshots (``snapshot.request``): on each
process, the ``SnapshotDesk`` of the conversation answers for every stream running there on it (whether
or not a socket is attached to it: ``proxy/resume.py``), through the same queue as the stream's frames,
with the frames so far and the last chunk index ``i``. The page ignores deltas with ``i`` at or below it,
so a watcher who joins mid-stream gets everything once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied

from playground.selectors.sharing import conversation_for_viewer
from playground.services.access import access_group
from proxy.dispatch import FrameConsumer, Handler
from proxy.protocol import FrameError
from proxy.relay import StreamRecord

logger = logging.getLogger(__name__)

# How many conversations one socket may watch at once, and the longest share token accepted.
MAX_WATCHED = 20
MAX_TOKEN = 200
# A stream whose watchers' channel layer falls this far behind drops frames for them, never the owner's.
MAX_QUEUED = 5000
# Seconds a finished stream waits for its last frames to reach the watchers.
CLOSE_WAIT = 5
# What a share link that hides the parameters keeps from its viewers (chat.opened, watch.snapshot).
HIDDEN_WITH_PARAMETERS = ("sampling_options", "requested", "headers")
PARAMETER_FRAMES = frozenset({"chat.opened", "watch.snapshot"})


def group_name(conversation_id: int) -> str:
    """The channel-layer group of a conversation's live watchers."""
    return f"conversation.{conversation_id}"


def streams_group_name(conversation_id: int) -> str:
    """The group of the consumers running a stream on a conversation (they answer snapshot requests)."""
    return f"conversation.{conversation_id}.streams"


@dataclass(frozen=True)
class Access:
    """How a socket may watch a conversation: what it must not see, and the channel-layer groups told
    when that access changes (``playground.services.access``)."""

    hide_parameters: bool
    groups: tuple[str, ...]


def _viewable(
    *, user: Any, conversation_id: int, share_token: str | None, comparison_id: int | None = None
) -> Access:
    """How the viewer may watch; raises when they may not watch at all.

    Members and share-link holders alike go through ``conversation_for_viewer`` (the one door); with
    ``comparison_id`` (or a comparison's link), the conversation is one of that comparison's columns.
    """
    conversation = conversation_for_viewer(
        user=user, conversation_id=conversation_id, share_token=share_token, comparison_id=comparison_id
    )
    link = getattr(conversation, "via_share_link", None)
    groups = [
        access_group("conversation", conversation.pk),
        access_group("workspace", conversation.workspace_id),
    ]
    if link is not None and link.comparison_id is not None:
        groups.append(access_group("comparison", link.comparison_id))
    if comparison_id is not None:
        groups.append(access_group("comparison", comparison_id))
    return Access(hide_parameters=bool(link is not None and link.hide_parameters), groups=tuple(groups))


def _without_parameters(text: str) -> str:
    """A frame for a share-link viewer whose link hides the parameters: the sampling options removed."""
    frame = json.loads(text)
    targets = frame.get("frames") or [] if frame["type"] == "watch.snapshot" else [frame]
    for target in targets:
        if isinstance(target, dict) and target.get("type") == "chat.opened":
            for key in HIDDEN_WITH_PARAMETERS:
                target.pop(key, None)
    return json.dumps(frame)


class Outbox:
    """Frames for a channel-layer group, in order, sent by a task off the relay loop: the one way a
    stream's frames reach viewers (a conversation's watchers here, an arena's audience in
    ``proxy/arena.py``). Each frame is encoded once, whatever the number of viewers; a failing or lagging
    layer costs the viewers frames, never the stream. ``answer`` is a snapshot for one late viewer."""

    def __init__(
        self, layer: Any, *, group: str, record: StreamRecord, origins: tuple[str, ...] = ()
    ) -> None:
        self.layer = layer
        self.group = group
        self.record = record
        # The channels of the sockets attached to the stream: they get its frames directly, not watched.
        self.origins = origins
        self.secrets: tuple[str, ...] = ()
        self.queue: asyncio.Queue[tuple[str | None, str, str, str | None, tuple[str, ...]]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.broken = False
        # Added to every layer message (a conversation's id, for the watchers' parameter filter).
        self.tags: dict[str, Any] = {}

    def watched(self) -> bool:
        """Whether anyone may be watching: with the in-memory layer every watcher is in this process, and
        a group nobody here watches costs its streams no encoding, queue or ``group_send`` per frame. A
        watcher who joins later gets a snapshot of what it missed (``answer``), as always. With Redis the
        watchers may be on another process: always true."""
        return JOINED[self.group] > 0 or not isinstance(self.layer, InMemoryChannelLayer)

    def put(self, kind: str, frame: dict[str, Any]) -> None:
        """Queue a frame for the group (no await), unless the layer broke or fell too far behind."""
        if self.broken or self.queue.qsize() >= MAX_QUEUED or not self.watched():
            return
        self._queue(None, kind, self._encode(frame), None)

    def answer(self, reply_to: str, to: str) -> None:
        """Queue a snapshot of the stream so far for one watcher (``to``), through its process's hub."""
        if not self.broken:
            snapshot = self.snapshot()
            self._queue(reply_to, snapshot["type"], self._encode(snapshot), to)

    def snapshot(self) -> dict[str, Any]:
        """The stream so far, for one late viewer."""
        raise NotImplementedError

    def _encode(self, frame: dict[str, Any]) -> str:
        text = json.dumps(frame)
        for key in self.secrets:
            if key in text:
                text = text.replace(key, "[redacted]")
        return text

    def _queue(self, reply_to: str | None, kind: str, text: str, to: str | None) -> None:
        self.queue.put_nowait((reply_to, kind, text, to, self.origins))
        if self.task is None:
            self.task = asyncio.create_task(self._drain(), name=f"watch-{self.record.stream}")

    async def _drain(self) -> None:
        while True:
            reply_to, kind, text, to, origins = await self.queue.get()
            if not text:
                return
            message = {"type": "watch.frame", "text": text, "kind": kind, "origin": list(origins), "to": to}
            message.update(self.tags)
            try:
                if reply_to is None:
                    await self.layer.group_send(self.group, message)
                else:
                    await self.layer.send(reply_to, message)
            except Exception as exc:  # the watchers lose the stream; the stream goes on
                self.broken = True
                logger.warning("Live watchers of %s lost a stream: %r", self.group, exc)
                return

    async def aclose(self) -> None:
        """Send what is queued (the final frame included), then stop the task."""
        if self.task is None:
            return
        self.queue.put_nowait((None, "", "", None, ()))
        try:
            await asyncio.wait_for(asyncio.shield(self.task), CLOSE_WAIT)
        except TimeoutError:
            logger.warning("Live watchers of %s: the layer is too slow", self.group)
        finally:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class Broadcast(Outbox):
    """One stream's frames to its conversation's group (its live watchers)."""

    def __init__(
        self,
        layer: Any,
        *,
        conversation: int,
        run: int,
        model: str,
        started_by: str,
        origins: tuple[str, ...],
        record: StreamRecord,
    ) -> None:
        super().__init__(layer, group=group_name(conversation), record=record, origins=origins)
        self.model = model
        self.conversation = conversation
        self.run = run
        self.started_by = started_by
        self.tags = {"conversation": conversation}

    def send(self, frame: dict[str, Any], secrets: tuple[str, ...] = ()) -> None:
        """Queue a frame for the watchers (no await: the relay loop goes on at once)."""
        self.secrets = secrets
        if self.broken or self.queue.qsize() >= MAX_QUEUED or not self.watched():
            return
        tagged = {"watching": True, "conversation": self.conversation, "started_by": self.started_by}
        if frame["type"] == "chat.started":
            # Watchers get what the page shows, not the exact request body (a system prompt may be hidden).
            frame = {k: v for k, v in frame.items() if k != "request"}
            frame["model"] = self.model
        self.put(frame["type"], {**frame, **tagged})

    def snapshot(self) -> dict[str, Any]:
        """The stream so far, as the frames sent (``chat.started`` then the record's timeline): the page
        folds them as it folds live frames; ``i`` is the last delta's index, so none is applied twice."""
        record = self.record
        started = {
            "type": "chat.started",
            "stream": record.stream,
            "conversation": self.conversation,
            "run": self.run,
            "model": self.model,
        }
        return {
            "type": "watch.snapshot",
            "watching": True,
            "conversation": self.conversation,
            "started_by": self.started_by,
            "stream": record.stream,
            "run": self.run,
            "model": self.model,
            "i": record.deltas - 1,
            "t": record.now(),
            "frames": [started, *record.saved_timeline()],
        }


class Viewer(Protocol):
    """A socket a hub hands frames to (a watcher, an arena's viewer)."""

    channel_name: str

    async def watch_frame(self, event: dict[str, Any]) -> None: ...


class Hub:
    """This process's one member of a conversation's group: it hands each frame to the local watchers.

    Without it every watcher's consumer would be a member itself, and each frame would cost one channel
    layer delivery per viewer (with the in-memory layer about 100 µs each at 200 viewers, most of it the
    layer's scan for expired messages on every receive). With it, a frame crosses the layer once per
    process and goes to each local socket as a plain websocket write. Snapshot answers come through the
    hub too (addressed ``to`` one watcher), so they keep their place among the frames.
    """

    def __init__(self, layer: Any, group: str) -> None:
        self.layer = layer
        self.group = group
        self.watchers: dict[str, Viewer] = {}
        self.channel = ""
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    async def add(self, watcher: Viewer) -> None:
        """Deliver this group's frames to the watcher; the first one makes the hub join the group."""
        async with self.lock:
            if self.task is None:
                HUBS.setdefault((asyncio.get_running_loop(), self.group), self)
                JOINED[self.group] += 1  # from now on this process's streams send to the group
                # The default prefix: channels-redis reads every "specific." channel of a process together.
                self.channel = await self.layer.new_channel()
                await self.layer.group_add(self.group, self.channel)
                self.task = asyncio.create_task(self.run(), name=f"hub-{self.group}")
            self.watchers[watcher.channel_name] = watcher

    async def remove(self, watcher: Viewer) -> None:
        """Stop delivering to the watcher; the last one out makes the hub leave the group."""
        async with self.lock:
            self.watchers.pop(watcher.channel_name, None)
            if self.watchers or self.task is None:
                return
            key = (asyncio.get_running_loop(), self.group)
            if HUBS.get(key) is self:
                del HUBS[key]
            task, self.task = self.task, None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.layer.group_discard(self.group, self.channel)
            JOINED[self.group] -= 1
            if JOINED[self.group] <= 0:
                del JOINED[self.group]

    async def run(self) -> None:
        """Receive the group's messages and hand each to its watchers, in order."""
        while True:
            message = await self.layer.receive(self.channel)
            to = message.get("to")
            if to is None:
                targets = list(self.watchers.values())
            else:
                targets = [self.watchers[to]] if to in self.watchers else []
            for watcher in targets:
                try:
                    await watcher.watch_frame(message)
                except Exception as exc:  # one broken socket must not stop the others' frames
                    logger.warning("A live watcher of %s missed a frame: %r", self.group, exc)


# This process's hubs, by event loop and group (tests run several loops in one process).
HUBS: dict[tuple[asyncio.AbstractEventLoop, str], Hub] = {}
# How many hubs of this process are in each group (Broadcast.watched).
JOINED: Counter[str] = Counter()


def hub_for(layer: Any, group: str) -> Hub:
    """The hub of this group in this process (made on first use)."""
    key = (asyncio.get_running_loop(), group)
    hub = HUBS.get(key)
    if hub is None:
        hub = HUBS[key] = Hub(layer, group)
    return hub


class SnapshotDesk:
    """This process's member of a conversation's streams group: it answers a new watcher's snapshot
    request for every stream running here on the conversation, whichever socket (if any) is attached to
    the stream (``proxy/resume.py``); a socket attached to a stream gets no snapshot of it as a watcher."""

    def __init__(self, layer: Any, group: str) -> None:
        self.layer = layer
        self.group = group
        self.broadcasts: set[Outbox] = set()
        self.channel = ""
        self.task: asyncio.Task[None] | None = None
        self.lock = asyncio.Lock()

    async def add(self, broadcast: Outbox) -> None:
        """Answer for this stream from now on; the first one makes the desk join the group."""
        async with self.lock:
            if self.task is None:
                DESKS.setdefault((asyncio.get_running_loop(), self.group), self)
                self.channel = await self.layer.new_channel()
                await self.layer.group_add(self.group, self.channel)
                self.task = asyncio.create_task(self.run(), name=f"desk-{self.group}")
            self.broadcasts.add(broadcast)

    async def remove(self, broadcast: Outbox) -> None:
        """Stop answering for the stream; the last one out makes the desk leave the group."""
        async with self.lock:
            self.broadcasts.discard(broadcast)
            if self.broadcasts or self.task is None:
                return
            key = (asyncio.get_running_loop(), self.group)
            if DESKS.get(key) is self:
                del DESKS[key]
            task, self.task = self.task, None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.layer.group_discard(self.group, self.channel)

    async def run(self) -> None:
        """Answer each snapshot request with every stream's snapshot, in the stream's own queue."""
        while True:
            message = await self.layer.receive(self.channel)
            if message.get("type") != "snapshot.request":
                continue
            reply_to, to = message.get("reply_to"), message.get("to")
            if not isinstance(reply_to, str) or not isinstance(to, str):
                continue
            for broadcast in list(self.broadcasts):
                if to not in broadcast.origins:
                    broadcast.answer(reply_to, to)


# This process's snapshot desks, by event loop and group.
DESKS: dict[tuple[asyncio.AbstractEventLoop, str], SnapshotDesk] = {}


def desk_for(layer: Any, group: str) -> SnapshotDesk:
    """The snapshot desk of this streams group in this process (made on first use)."""
    key = (asyncio.get_running_loop(), group)
    desk = DESKS.get(key)
    if desk is None:
        desk = DESKS[key] = SnapshotDesk(layer, group)
    return desk


class WatchMixin(FrameConsumer):
    """``watch`` / ``unwatch`` frames and the channel-layer handlers of live watching, for a consumer."""

    channel_layer: Any
    channel_name: str
    scope: dict[str, Any]
    watched: set[int]
    # Conversations watched through a share link that hides the parameters.
    restricted: set[int]

    def init_watching(self) -> None:
        """Start with no conversation watched and no stream running."""
        self.watched = set()
        self.restricted = set()
        # What each watch was allowed with, to check it again when access changes.
        self.watch_access: dict[int, tuple[str | None, int | None, Access]] = {}
        self.access_groups: Counter[str] = Counter()
        # The access groups held for the socket's own access knowledge (proxy/access.py).
        self.held_groups: set[str] = set()

    async def watch(self, content: dict[str, Any]) -> None:
        """Join a conversation's group if the viewer may see it; then ask its running streams to catch up."""
        conversation = content.get("conversation")
        if isinstance(conversation, bool) or not isinstance(conversation, int):
            raise FrameError("invalid_frame", "'conversation' must be a conversation id (a number).")
        share = content.get("share")
        if share is not None and (not isinstance(share, str) or not share or len(share) > MAX_TOKEN):
            raise FrameError("invalid_frame", "'share' must be a share link's token.")
        comparison = content.get("comparison")
        if comparison is not None and (isinstance(comparison, bool) or not isinstance(comparison, int)):
            raise FrameError("invalid_frame", "'comparison' must be a comparison id (a number).")
        if self.channel_layer is None:
            raise FrameError("unavailable", "Live watching needs a channel layer.")
        if conversation not in self.watched and len(self.watched) >= MAX_WATCHED:
            raise FrameError("invalid_frame", f"A socket may watch at most {MAX_WATCHED} conversations.")
        access = await self._may_watch(conversation, share, comparison)
        if access is None:
            raise FrameError(
                "not_found", "No such conversation, or not one you may watch.", param="conversation"
            )
        hub = hub_for(self.channel_layer, group_name(conversation))
        await hub.add(self)
        self.watched.add(conversation)
        await self._set_access(conversation, (share, comparison, access))
        await self.send_frame({"type": "watch.ok", "conversation": conversation})
        await self.channel_layer.group_send(
            streams_group_name(conversation),
            {
                "type": "snapshot.request",
                "conversation": conversation,
                "reply_to": hub.channel,
                "to": self.channel_name,
            },
        )

    async def unwatch(self, content: dict[str, Any]) -> None:
        """Leave a conversation's group (no error when it was not watched)."""
        conversation = content.get("conversation")
        if isinstance(conversation, bool) or not isinstance(conversation, int):
            raise FrameError("invalid_frame", "'conversation' must be a conversation id (a number).")
        await self._end_watch(conversation)
        await self.send_frame({"type": "unwatch.ok", "conversation": conversation})

    async def leave_groups(self) -> None:
        """Leave every group (on disconnect)."""
        for conversation in list(self.watched):
            await self._end_watch(conversation)
        if self.channel_layer is not None:
            for group in self.access_groups:
                await self.channel_layer.group_discard(group, self.channel_name)
        self.access_groups.clear()
        self.held_groups.clear()

    async def _set_access(
        self, conversation: int, allowed: tuple[str | None, int | None, Access] | None
    ) -> None:
        """Remember how a watch is allowed (None: it ended), joining and leaving the access groups."""
        before = self.watch_access.pop(conversation, None)
        if allowed is not None:
            self.watch_access[conversation] = allowed
            if allowed[2].hide_parameters:
                self.restricted.add(conversation)
            else:
                self.restricted.discard(conversation)
            for group in allowed[2].groups:
                self.access_groups[group] += 1
                if self.access_groups[group] == 1:
                    await self.channel_layer.group_add(group, self.channel_name)
        else:
            self.restricted.discard(conversation)
        for group in before[2].groups if before else ():
            self.access_groups[group] -= 1
            if self.access_groups[group] <= 0:
                del self.access_groups[group]
                await self.channel_layer.group_discard(group, self.channel_name)

    async def hold_groups(self, groups: set[str]) -> None:
        """Stay in these access groups for as long as the socket lives (its own access knowledge)."""
        if self.channel_layer is None:
            return
        for group in groups - self.held_groups:
            self.held_groups.add(group)
            self.access_groups[group] += 1
            if self.access_groups[group] == 1:
                await self.channel_layer.group_add(group, self.channel_name)

    async def _end_watch(self, conversation: int) -> None:
        if conversation in self.watched:
            self.watched.discard(conversation)
            await hub_for(self.channel_layer, group_name(conversation)).remove(self)
        await self._set_access(conversation, None)

    async def _may_watch(self, conversation: int, share: str | None, comparison: int | None) -> Access | None:
        """How this socket's viewer may watch the conversation (one read), or None when they may not."""
        try:
            access: Access = await database_sync_to_async(_viewable)(
                user=self.scope.get("user"),
                conversation_id=conversation,
                share_token=share,
                comparison_id=comparison,
            )
        except (ObjectDoesNotExist, PermissionDenied):
            return None
        return access

    async def access_changed(self, event: dict[str, Any]) -> None:
        """Access changed somewhere this socket watches: check each affected watch again, and end (and
        say so) those no longer allowed, within the time of one database read."""
        group = event.get("group")
        for conversation, (share, comparison, access) in list(self.watch_access.items()):
            if group not in access.groups:
                continue
            now = await self._may_watch(conversation, share, comparison)
            if now is None:
                await self._end_watch(conversation)
                await self.send_frame(
                    {
                        "type": "watch.ended",
                        "conversation": conversation,
                        "reason": "access",
                        "message": "You may no longer watch this conversation: its share link was revoked, "
                        "or your access to it changed.",
                    }
                )
                continue
            if conversation in self.watch_access:
                await self._set_access(conversation, (share, comparison, now))

    # --- channel-layer handlers -----------------------------------------------------------------------

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Watched frames skip Channels' per-message ``close_old_connections`` (a hop to the database thread).

        Channels runs it before every handler; these handlers touch no database, and with many viewers
        the hop, serialised on the one database thread, was most of the cost of each delivered frame.
        """
        if message.get("type") == "watch.frame":
            await self.watch_frame(message)
        else:
            await super().dispatch(message)

    async def watch_frame(self, event: dict[str, Any]) -> None:
        """A frame of a watched stream (from the hub): to the browser as it is, unless it started it."""
        if self.channel_name in (event.get("origin") or ()):
            return  # a socket attached to the stream gets its frames directly
        text = event["text"]
        if event.get("conversation") in self.restricted and event.get("kind") in PARAMETER_FRAMES:
            text = _without_parameters(text)
        await self.send_text(text)


class WatchConsumer(WatchMixin):
    """``/ws/watch/``: watch-only sockets, for share-link holders who may not be signed in (README)."""

    unknown_type_hint = " (this socket only watches)"

    async def connect(self) -> None:
        self.init_watching()
        self.closed = False
        await self.accept()

    async def disconnect(self, code: int) -> None:
        self.closed = True
        await self.leave_groups()

    def handlers(self) -> dict[str, Handler]:
        """Frame type → handler: watching only."""
        return {"watch": self.watch, "unwatch": self.unwatch}
