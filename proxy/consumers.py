"""The chat websocket: validates ``chat.start`` frames, relays each upstream stream as ``chat.*`` frames.

The consumer is hooks plus dispatch. Each stream runs as its own asyncio task, so ``chat.stop`` and
``disconnect`` are handled at once: they cancel the task, which closes the upstream HTTP response
(generation and billing stop). The relay loop touches no database: a read checks the frame before
anything is sent (``run_access``), the run is opened while the request goes out (its events wait for
it) and saved once after the stream ends, through ``database_sync_to_async`` services.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import logging
import time
import traceback
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connections

from playground import codegen
from playground.models import Conversation
from playground.selectors.workspaces import run_access, workspace_api_key
from playground.services import runs
from proxy.client.client import UpstreamClient, shared_client
from proxy.client.errors import UpstreamError
from proxy.client.events import Event
from proxy.dispatch import Handler, scrub_key
from proxy.frames import FrameError, StartRequest, error_frame, parse_start, stream_id
from proxy.relay import Relay
from proxy.watch import Broadcast, WatchMixin, streams_group_name

logger = logging.getLogger(__name__)
T = TypeVar("T")


def _client(api_key: str = "") -> UpstreamClient:
    # A workspace's own key, when it has one, replaces the server's (one pooled client per key).
    return shared_client(
        base_url=settings.FIREWORKS_BASE_URL,
        api_key=api_key or settings.FIREWORKS_API_KEY,
        connect_timeout=settings.FIREWORKS_CONNECT_TIMEOUT,
        first_byte_timeout=settings.FIREWORKS_FIRST_BYTE_TIMEOUT,
        gap_timeout=settings.FIREWORKS_STREAM_GAP_TIMEOUT,
    )


def _read(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``func`` (a read) on a thread of the pool rather than Channels' one database thread, so that
    a stream's first request never queues behind other streams' writes (SQLite in WAL mode, as the
    settings open it, reads beside the writer)."""

    @functools.wraps(func)
    def read_and_close(*args: Any, **kwargs: Any) -> T:
        try:
            return func(*args, **kwargs)
        finally:
            # A pool thread is not Channels' database thread. Unless connections are kept (CONN_MAX_AGE,
            # as for SQLite: reopening one costs its pragmas and function registrations, ~1 ms per
            # stream), close what this read opened, or it outlives the call (on PostgreSQL it kept test
            # databases from dropping).
            if not connections["default"].settings_dict.get("CONN_MAX_AGE"):
                connections.close_all()

    return database_sync_to_async(read_and_close, thread_sensitive=False)  # type: ignore[no-any-return]


def _uncancel() -> None:
    # The cancellation was handled (the stream is being stopped); let later awaits (closing, saving) run.
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


INTERNAL_ERROR: dict[str, Any] = {
    "code": "internal_error",
    "message": "The server failed while relaying the stream.",
    "status": None,
    "request_id": None,
    "retryable": False,
    "param": None,
}


@dataclasses.dataclass
class EarlyUpstream:
    """A request sent before its run was opened, and the task waiting for its first events."""

    events: AsyncGenerator[list[Event], None]
    first: asyncio.Future[list[Event] | None]


class ChatConsumer(WatchMixin):
    """``/ws/chat/``: signed-in users start and stop streamed completions, list models, watch (README)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.streams: dict[str, asyncio.Task[None]] = {}
        self.background: set[asyncio.Task[None]] = set()
        # Tasks told to stop: each is cancelled at most once, so its closing and saving run undisturbed.
        self.stopping: set[asyncio.Task[None]] = set()
        self.closed = False
        # The live-watching fan-out of each running stream, by stream id (proxy/watch.py).
        self.broadcasts: dict[str, Broadcast] = {}
        self.init_watching()
        if user is None or not user.is_authenticated:
            self.closed = True
            await self.close(code=4401)
            return
        await self.accept()

    async def disconnect(self, code: int) -> None:
        self.closed = True
        tasks = [*self.streams.values(), *self.background]
        for task in tasks:
            self.cancel(task)
        # Wait, so that each stopped stream is closed upstream and saved before the consumer goes away.
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.leave_groups()

    def cancel(self, task: asyncio.Task[None]) -> None:
        """Cancel a task once; a second stop while it closes and saves is ignored."""
        if task not in self.stopping and not task.done():
            self.stopping.add(task)
            task.add_done_callback(self.stopping.discard)
            task.cancel()

    def handlers(self) -> dict[str, Handler]:
        """Frame type → handler (README, the websocket protocol)."""
        return {
            "chat.start": self.chat_start,
            "chat.stop": self.chat_stop,
            "models.list": self.models_list,
            "code.render": self.code_render,
            "watch": self.watch,
            "unwatch": self.unwatch,
        }

    async def send_stream_frame(self, frame: dict[str, Any]) -> None:
        """Send a frame of a running stream to the browser and to the conversation's live watchers."""
        broadcast = self.broadcasts.get(frame["stream"])
        if broadcast is not None:
            broadcast.send(frame)
        await self.send_frame(frame)

    # --- handlers ---------------------------------------------------------------------------------

    async def chat_start(self, content: dict[str, Any]) -> None:
        """Validate, then run the stream as its own task (never awaited here)."""
        start = parse_start(content)
        if start.stream in self.streams:
            raise FrameError(
                "duplicate_stream", f"Stream {start.stream!r} is already running.", stream=start.stream
            )
        task = asyncio.create_task(self.run_stream(start), name=f"chat-stream-{start.stream}")
        self.streams[start.stream] = task
        task.add_done_callback(lambda _: self.streams.pop(start.stream, None))

    async def chat_stop(self, content: dict[str, Any]) -> None:
        """Cancel the stream's task; a stop for a stream that already ended is ignored (it raced the end)."""
        task = self.streams.get(stream_id(content))
        if task is not None:
            self.cancel(task)

    async def models_list(self, content: dict[str, Any]) -> None:
        """Reply with the upstream's model list, from the cache unless ``refresh`` is true."""
        refresh = content.get("refresh", False)
        if not isinstance(refresh, bool):
            raise FrameError("invalid_frame", "'refresh' must be true or false.")
        task = asyncio.create_task(self.send_models(refresh=refresh))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def code_render(self, content: dict[str, Any]) -> None:
        """Reply with code that sends what a ``chat.start`` with these fields would send (nothing is sent)."""
        start = parse_start(content)
        snippets = codegen.snippets(start.body, endpoint=start.mode, **codegen.codegen_urls())
        frame = {"type": "code.rendered", "stream": start.stream, "request": start.body, "snippets": snippets}
        await self.send_frame(frame)

    # --- the work behind the handlers -----------------------------------------------------------

    async def send_models(self, *, refresh: bool) -> None:
        """Fetch (or recall) the model list and send it as a ``models.list`` frame.

        With the current workspace's own key the list is that key's (an account may see other models),
        so the cache is per key: its entry is named by a hash of the key, never the key itself.
        """
        api_key = await _read(workspace_api_key)(
            user=self.scope["user"],
            conversation_id=None,
            workspace_id=self.scope["session"].get("workspace_id"),
        )
        key = "playground:models:" + hashlib.sha256(settings.FIREWORKS_BASE_URL.encode()).hexdigest()[:16]
        if api_key:
            key += ":" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
        if not refresh:
            models = await cache.aget(key)
            if models is not None:
                await self.send_frame({"type": "models.list", "models": models, "cached": True})
                return
        try:
            models = await _client(api_key).list_models()
        except Exception as exc:
            if isinstance(exc, UpstreamError):
                error = exc.as_dict()
            else:
                error = {**INTERNAL_ERROR, "message": "The server failed while listing the models."}
                logger.error(
                    "Listing models failed:\n%s", scrub_key("".join(traceback.format_exception(exc)))
                )
            fallback = [{"id": settings.PLAYGROUND_DEFAULT_MODEL}]
            await self.send_frame(
                {"type": "models.list", "models": fallback, "cached": False, "error": error}
            )
            return
        await cache.aset(key, models, timeout=settings.PLAYGROUND_MODELS_CACHE_SECONDS)
        await self.send_frame({"type": "models.list", "models": models, "cached": False})

    async def run_stream(self, start: StartRequest) -> None:
        """Open the run, relay the upstream stream, and save the outcome once, whatever the ending."""
        workspace_id = self.scope["session"].get("workspace_id")
        user = self.scope["user"]
        try:
            # A read: a frame the user may not run is refused here, before anything goes upstream.
            start.api_key = await _read(run_access)(
                user=user, conversation_id=start.conversation, workspace_id=workspace_id
            )
        except Exception as exc:
            await self.refuse(start, exc)
            return
        opening = asyncio.ensure_future(
            database_sync_to_async(runs.run_start)(
                user=user,
                conversation_id=start.conversation,
                mode=start.mode,
                model=start.model,
                messages=start.messages,
                prompt=start.prompt,
                params=start.params,
                extra=start.extra,
                request=start.body,
                system_prompt=start.system,
                workspace_id=workspace_id,
            )
        )
        relay = Relay(start.stream)
        # The request goes upstream at once instead of after the write (time to first token without
        # the database's queue); its events wait for the run, so the frames keep their order.
        early = self.open_upstream(start, relay)
        stopped = False
        try:
            try:
                # Shielded: a stop during this short write still yields the run, to be closed as stopped.
                run = await asyncio.shield(opening)
            except asyncio.CancelledError:
                _uncancel()
                stopped = True
                run = await opening
        except Exception as exc:
            # Allowed a moment ago (run_access), refused now: e.g. the conversation was just deleted.
            await self.close_upstream(early)
            await self.refuse(start, exc)
            return
        started = {
            "type": "chat.started",
            "stream": start.stream,
            "conversation": run.conversation_id,
            "run": run.pk,
        }
        broadcast = await self.open_broadcast(start, relay, run.conversation_id, run.pk)
        try:
            if stopped:
                await self.close_upstream(early)
                await self.send_stream_frame({**started, "request": start.body})
                status, error = "stopped", None
            else:
                status, error = await self.relay(start, relay, started, run.requested_options, early)
            await self.finish_stream(relay, run.pk, status, error)
        finally:
            await self.close_broadcast(broadcast)

    async def open_broadcast(
        self, start: StartRequest, relay: Relay, conversation: int, run: int
    ) -> Broadcast | None:
        """Send this stream's frames to the conversation's live watchers too (none without a layer)."""
        if self.channel_layer is None:
            return None
        broadcast = Broadcast(
            self.channel_layer,
            conversation=conversation,
            run=run,
            model=start.model,
            started_by=self.scope["user"].get_username(),
            origin=self.channel_name,
            relay=relay,
        )
        self.broadcasts[start.stream] = broadcast
        if conversation not in self.live:
            # Before the first frame: a watcher joining from now on gets a snapshot or every frame.
            await self.channel_layer.group_add(streams_group_name(conversation), self.channel_name)
        self.live.setdefault(conversation, set()).add(broadcast)
        return broadcast

    async def close_broadcast(self, broadcast: Broadcast | None) -> None:
        """Let the watchers' last frames go out, then forget the stream."""
        if broadcast is None:
            return
        self.broadcasts.pop(broadcast.relay.stream, None)
        streams = self.live.get(broadcast.conversation)
        if streams is not None:
            streams.discard(broadcast)
            if not streams:
                del self.live[broadcast.conversation]
                group = streams_group_name(broadcast.conversation)
                await self.channel_layer.group_discard(group, self.channel_name)
        await broadcast.aclose()

    def open_upstream(self, start: StartRequest, relay: Relay) -> EarlyUpstream:
        """Send the request now; a task waits for the first events (Opened) while the run is opened."""
        relay.started = time.monotonic()
        events = _client(start.api_key).stream_batches(start.body, endpoint=start.mode)
        return EarlyUpstream(events, asyncio.ensure_future(anext(events, None)))

    async def close_upstream(self, early: EarlyUpstream | None) -> None:
        """Close an early request that will not be relayed (the stream stopped or failed to open)."""
        if early is not None:
            early.first.cancel()
            await asyncio.gather(early.first, return_exceptions=True)
            await early.events.aclose()

    async def refuse(self, start: StartRequest, exc: Exception) -> None:
        """Say why a stream was not started (run_access or run_start raised)."""
        if isinstance(exc, Conversation.DoesNotExist):
            frame = error_frame(
                stream=start.stream, code="not_found", message="No such conversation.", param="conversation"
            )
        elif isinstance(exc, PermissionDenied):
            frame = error_frame(stream=start.stream, code="forbidden", message=str(exc), param="conversation")
        else:
            logger.error("Opening a run failed:\n%s", scrub_key("".join(traceback.format_exception(exc))))
            frame = error_frame(stream=start.stream, **INTERNAL_ERROR)
        await self.send_frame(frame)

    async def relay(
        self,
        start: StartRequest,
        relay: Relay,
        started: dict[str, Any],
        requested: dict[str, Any],
        early: EarlyUpstream | None = None,
    ) -> tuple[str, dict[str, Any] | None]:
        """Send the upstream's events as frames until the stream ends; return (status, error)."""
        events = None
        try:
            await self.send_stream_frame({**started, "request": start.body})
            if early is None:
                relay.started = time.monotonic()
                events = _client(start.api_key).stream_batches(start.body, endpoint=start.mode)
            else:
                events = early.events
                first = await early.first
                if first is not None:
                    await self.send_batch(relay, first, requested)
            async for batch in events:
                await self.send_batch(relay, batch, requested)
            return "done", None
        except asyncio.CancelledError:
            _uncancel()
            return "stopped", None
        except UpstreamError as exc:
            return "error", exc.as_dict()
        except Exception as exc:
            logger.error(
                "Stream %s failed:\n%s", start.stream, scrub_key("".join(traceback.format_exception(exc)))
            )
            return "error", dict(INTERNAL_ERROR)
        finally:
            # Close the upstream response (generation and billing stop) before anything is saved.
            if events is not None:
                await events.aclose()

    async def send_batch(self, relay: Relay, events: list[Event], requested: dict[str, Any]) -> None:
        """Send the frames of the events that came in one read (consecutive deltas as one frame)."""
        for frame in relay.frames(events):
            if frame["type"] == "chat.opened":
                frame["requested"] = requested
            await self.send_stream_frame(frame)

    async def finish_stream(
        self, relay: Relay, run_id: int, status: str, error: dict[str, Any] | None
    ) -> None:
        """Save the run and reply once, then send ``chat.done`` or ``chat.error``."""
        total_ms = relay.now()
        done = relay.done
        timings = relay.timings(total_ms)
        saving = asyncio.ensure_future(
            database_sync_to_async(runs.run_finish)(
                run_id=run_id,
                status="error" if error else status,
                opened=dataclasses.asdict(relay.opened) if relay.opened else None,
                output=relay.output(),
                usage=relay.usage,
                perf=relay.perf,
                timings=timings,
                timeline=relay.timeline,
                error=error,
                response_model=done.model if done else None,
                finish_reasons=relay.finish_reasons,
            )
        )
        try:
            # Shielded: a disconnect arriving now must not lose what the user saw.
            result = await asyncio.shield(saving)
        except asyncio.CancelledError:
            _uncancel()
            await saving
            return
        if error is not None:
            extra = {
                "run": run_id,
                "message_id": result.message_id,
                "message_ids": result.message_ids,
                "t": total_ms,
            }
            await self.send_stream_frame({**error_frame(stream=relay.stream, **error), **extra})
            return
        await self.send_stream_frame(
            {
                "type": "chat.done",
                "stream": relay.stream,
                "status": status,
                "finish_reasons": relay.finish_reasons,
                "model": done.model if done else None,
                "response_id": done.response_id if done else None,
                "saw_done_marker": done.saw_done_marker if done else False,
                "run": run_id,
                "message_id": result.message_id,
                "message_ids": result.message_ids,
                "timings": timings,
                "t": total_ms,
            }
        )
