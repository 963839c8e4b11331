"""Streams that outlive their socket: a reload, a dropped network or a second tab does not end them.

A ``StreamSession`` owns one running stream (its ``StreamRun`` task) on behalf of a user, not of a
socket: it is kept in this process's registry under (user id, stream id) and is the stream's hooks
(``proxy.stream.StreamHooks``). Every socket attached to it gets the stream's frames; the first is the
socket that sent ``chat.start``. A socket that drops without ``chat.stop`` detaches; when the last one
has gone, the stream keeps running for ``PLAYGROUND_RESUME_GRACE_SECONDS`` (default 30), and a socket of
the same user that sends ``chat.attach`` within it gets ``chat.attached`` (the frames sent so far, exactly
as they went out) and then the rest, each frame once and in order. With nobody attached when the grace
ends, the stream is stopped as ``chat.stop`` would: the upstream is closed at once and the partial
reply saved as stopped. ``chat.stop`` from any socket of the same user stops it at once.

The registry is per process: a page re-attaches on the process that runs its stream (one process, or
sticky sessions). Live watching (``proxy/watch.py``), which a second tab uses, crosses processes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from django.conf import settings

from proxy.stream import StreamRun
from proxy.watch import Broadcast, desk_for, streams_group_name

logger = logging.getLogger(__name__)


class Attachable(Protocol):
    """A socket a stream's frames go to (``proxy.consumers.ChatConsumer``)."""

    channel_name: str

    async def send_frame(self, frame: dict[str, Any], secrets: tuple[str, ...] = ()) -> None: ...


def timeline_entries(frame: dict[str, Any]) -> int:
    """How many of the record's timeline entries a frame sent carries (``chat.started`` is not one)."""
    kind = frame.get("type")
    if kind == "chat.deltas":
        return len(frame.get("items") or ())
    if kind == "chat.started" or (kind == "chat.error" and "timings" not in frame):
        return 0  # a refusal before the run opened is not kept either
    return 1


class StreamSession:
    """One running stream, owned beyond any socket: the sockets attached to it, its live watchers' fan-out
    and, while no socket is attached, its grace period."""

    def __init__(
        self,
        *,
        user_id: int,
        started_by: str,
        layer: Any,
        opened: Callable[[StreamRun], Awaitable[None]] | None = None,
    ) -> None:
        self.user_id = user_id
        # Told when the run is open (the starting socket learns the conversation's access facts).
        self.opened = opened
        self.started_by = started_by
        self.layer = layer
        self.sockets: list[Attachable] = []
        self.run: StreamRun | None = None
        self.task: asyncio.Task[None] | None = None
        self.broadcast: Broadcast | None = None
        # Held while a frame goes out to every attached socket, and while a socket attaches: a snapshot
        # is exactly the frames sent so far, and every later frame follows it.
        self.lock = asyncio.Lock()
        self.sent = 0  # timeline entries sent so far
        self.grace: asyncio.TimerHandle | None = None
        self.stopping = False
        self.ended = False
        self.on_end: list[Callable[[], None]] = []

    @property
    def key(self) -> tuple[int, str]:
        """The registry's key: (user id, stream id)."""
        return self._key

    def begin(self, run: StreamRun, socket: Attachable) -> None:
        """Run the stream as a task, attached to the socket that started it, registered until it ends."""
        self.run = run
        self._key = (self.user_id, run.stream)
        self.sockets.append(socket)
        SESSIONS[self.key] = self
        self.task = asyncio.create_task(run(), name=f"chat-stream-{run.stream}")
        self.task.add_done_callback(self._finished)

    def _finished(self, _: asyncio.Task[None]) -> None:
        self._ended()
        # The run holds this session (its hooks) and this session held the run: a reference cycle that
        # left every finished stream, its record and frames, to the garbage collector (whose full
        # passes then paused every stream). Nothing needs the run once its task is done.
        self.run = None

    def when_ended(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the stream has ended (at once if it has)."""
        if self.ended:
            callback()
        else:
            self.on_end.append(callback)

    def _ended(self) -> None:
        # The stream's last frame went out (or its task is done): from now on its id is free again and it
        # no longer counts against the caps, though its task may still be letting watchers go. A user who
        # got chat.done and at once starts the next stream must not be told it still runs.
        if self.ended:
            return
        self.ended = True
        self._cancel_grace()
        if SESSIONS.get(self.key) is self:
            del SESSIONS[self.key]
        callbacks, self.on_end = self.on_end, []
        for callback in callbacks:
            callback()

    def stop(self) -> None:
        """Stop the stream (upstream closed at once, partial reply saved); a second stop is ignored."""
        if self.task is not None and not self.task.done() and not self.stopping:
            self.stopping = True
            self.task.cancel()

    # --- sockets ------------------------------------------------------------------------------------

    def origins(self) -> tuple[str, ...]:
        """The channels of the attached sockets (they get the frames directly, never as watched ones)."""
        return tuple(socket.channel_name for socket in self.sockets)

    async def attach(self, socket: Attachable) -> None:
        """Attach a socket: ``chat.attached`` with the frames sent so far, then every later frame."""
        self._cancel_grace()
        async with self.lock:
            snapshot = self.snapshot()
            if socket not in self.sockets:
                self.sockets.append(socket)
            if self.broadcast is not None:
                self.broadcast.origins = self.origins()
            assert self.run is not None
            await socket.send_frame(snapshot, self.run.secrets)

    def detach(self, socket: Attachable) -> None:
        """The socket is gone (no ``chat.stop``): with nobody left, the grace period starts."""
        if socket in self.sockets:
            self.sockets.remove(socket)
        if self.broadcast is not None:
            self.broadcast.origins = self.origins()
        if self.sockets or self.task is None or self.task.done():
            return
        grace = float(settings.PLAYGROUND_RESUME_GRACE_SECONDS)
        if grace <= 0:
            self.stop()
            return
        self._cancel_grace()
        self.grace = asyncio.get_running_loop().call_later(grace, self._expire)

    def _expire(self) -> None:
        self.grace = None
        if not self.sockets:
            logger.info("Stream %s: nobody re-attached within the grace period; stopped.", self.key[1])
            self.stop()

    def _cancel_grace(self) -> None:
        if self.grace is not None:
            self.grace.cancel()
            self.grace = None

    def snapshot(self) -> dict[str, Any]:
        """The ``chat.attached`` frame: the stream's frames sent so far (``chat.started`` with the exact
        request, then the record's timeline as it went out) and the last delta index ``i`` among them."""
        run = self.run
        assert run is not None
        record = run.record
        frames: list[dict[str, Any]] = []
        if run.run_id is not None:
            started = {"type": "chat.started", "conversation": run.conversation_id, "run": run.run_id}
            # As they went out, without the stream id (the page's own); a delta keeps its logprobs here.
            sent = [{k: v for k, v in f.items() if k != "stream"} for f in record.timeline[: self.sent]]
            frames = [{**started, "request": run.start.body}, *sent]
        last = -1
        for entry in frames:
            if entry.get("type") == "chat.delta" and isinstance(entry.get("i"), int):
                last = entry["i"]
        return {
            "type": "chat.attached",
            "stream": run.stream,
            "conversation": run.conversation_id,
            "run": run.run_id,
            "i": last,
            "t": record.now(),
            "frames": frames,
        }

    # --- the stream's hooks (proxy.stream.StreamHooks) ---------------------------------------------

    async def send_stream_frame(self, run: StreamRun, frame: dict[str, Any]) -> None:
        """Send a frame of the stream to every attached socket and to the conversation's live watchers."""
        async with self.lock:
            if self.broadcast is not None:
                self.broadcast.send(frame, run.secrets)
            self.sent += timeline_entries(frame)
            for socket in list(self.sockets):
                await socket.send_frame(frame, run.secrets)
            if frame.get("type") in ("chat.done", "chat.error"):  # a stream's error frame is its last
                self._ended()

    async def stream_opened(self, run: StreamRun) -> None:
        """Send this stream's frames to the conversation's live watchers too (none without a layer)."""
        if self.opened is not None:
            await self.opened(run)
        if self.layer is None or run.conversation_id is None or run.run_id is None:
            return
        self.broadcast = Broadcast(
            self.layer,
            conversation=run.conversation_id,
            run=run.run_id,
            model=run.start.model,
            started_by=self.started_by,
            origins=self.origins(),
            record=run.record,
        )
        # Before the first frame: a watcher joining from now on gets a snapshot or every frame.
        await desk_for(self.layer, streams_group_name(run.conversation_id)).add(self.broadcast)

    async def stream_closed(self, run: StreamRun) -> None:
        """Let the watchers' last frames go out, then forget the stream."""
        broadcast, self.broadcast = self.broadcast, None
        if broadcast is None:
            return
        await desk_for(self.layer, streams_group_name(broadcast.conversation)).remove(broadcast)
        await broadcast.aclose()


# This process's running streams, by (user id, stream id).
SESSIONS: dict[tuple[int, str], StreamSession] = {}


def running_for(user_id: int) -> int:
    """How many streams the user runs on this process (attached to a socket or not)."""
    return sum(1 for user, _ in SESSIONS if user == user_id)


def session_for(user_id: int, stream: str) -> StreamSession | None:
    """The user's running stream with this id on this process, if any."""
    return SESSIONS.get((user_id, stream))
