"""The chat websocket (``/ws/chat/``): hooks plus handlers, nothing of a stream's lifecycle.

``chat.start`` is checked (``proxy/frames.py``) and handed to a ``StreamRun`` (``proxy/stream.py``)
running as its own task, so ``chat.stop`` and ``disconnect`` are handled at once: they cancel the task,
which closes the upstream response (generation and billing stop) and saves the partial reply. Whatever
way the socket ends, none of its streams is left running.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import traceback
from collections import Counter
from typing import Any

from django.conf import settings
from django.core.cache import cache

from playground import codegen
from playground.selectors.workspaces import workspace_api_key
from playground.services.access import access_group
from proxy.access import SocketAccess
from proxy.client.client import UpstreamClient, shared_client
from proxy.client.errors import UpstreamError
from proxy.dispatch import Handler, scrub_key
from proxy.frames import parse_start, stream_id
from proxy.protocol import FrameError
from proxy.stream import INTERNAL_ERROR, StreamRun, read
from proxy.watch import Broadcast, WatchMixin, streams_group_name

logger = logging.getLogger(__name__)

# Streams one socket may run at once (compare runs up to 12 columns of a sweep), and one user across all
# their sockets in this process (several tabs).
MAX_STREAMS_PER_SOCKET = 16
MAX_STREAMS_PER_USER = 32
# Streams running in this process, per user id.
RUNNING: Counter[int] = Counter()


def upstream_client(api_key: str = "") -> UpstreamClient:
    """The pooled client for a key: a workspace's own key, when it has one, replaces the server's."""
    return shared_client(
        base_url=settings.FIREWORKS_BASE_URL,
        api_key=api_key or settings.FIREWORKS_API_KEY,
        connect_timeout=settings.FIREWORKS_CONNECT_TIMEOUT,
        first_byte_timeout=settings.FIREWORKS_FIRST_BYTE_TIMEOUT,
        gap_timeout=settings.FIREWORKS_STREAM_GAP_TIMEOUT,
    )


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
        self.access = SocketAccess(user)
        await self.accept()
        try:
            await self.know_access()
        except Exception:  # the streams ask the database instead, as they did before
            logger.exception("Reading the user's access at connect failed")

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

    async def know_access(self) -> None:
        """Read the user's access, and join the groups told when it changes."""
        await self.access.load()
        await self.hold_groups(self.access.groups())

    async def access_changed(self, event: dict[str, Any]) -> None:
        """Access changed: forget what the socket knew (read again before the next stream); watches
        are checked again too."""
        self.access.forget()
        await super().access_changed(event)

    async def check_access(self, *, user: Any, conversation_id: int | None, workspace_id: int | None) -> str:
        """A stream's access check: what the socket knows, else the database (then it knows)."""
        if not self.access.loaded:
            await self.know_access()
        return await self.access.check(conversation_id=conversation_id, workspace_id=workspace_id)

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

    # --- a stream's hooks (proxy.stream.StreamHooks) -------------------------------------------

    async def send_stream_frame(self, run: StreamRun, frame: dict[str, Any]) -> None:
        """Send a frame of a running stream to the browser and to the conversation's live watchers."""
        broadcast = self.broadcasts.get(run.stream)
        if broadcast is not None:
            broadcast.send(frame, run.secrets)
        await self.send_frame(frame, run.secrets)

    async def stream_opened(self, run: StreamRun) -> None:
        """Learn the conversation's access facts; send this stream's frames to the conversation's live
        watchers too (none without a layer)."""
        if run.conversation is not None and self.access.loaded:
            self.access.learn(run.conversation)
            await self.hold_groups({access_group("conversation", run.conversation.pk)})
        if self.channel_layer is None or run.conversation_id is None or run.run_id is None:
            return
        conversation = run.conversation_id
        broadcast = Broadcast(
            self.channel_layer,
            conversation=conversation,
            run=run.run_id,
            model=run.start.model,
            started_by=self.scope["user"].get_username(),
            origin=self.channel_name,
            record=run.record,
        )
        self.broadcasts[run.stream] = broadcast
        if conversation not in self.live:
            # Before the first frame: a watcher joining from now on gets a snapshot or every frame.
            await self.channel_layer.group_add(streams_group_name(conversation), self.channel_name)
        self.live.setdefault(conversation, set()).add(broadcast)

    async def stream_closed(self, run: StreamRun) -> None:
        """Let the watchers' last frames go out, then forget the stream."""
        broadcast = self.broadcasts.pop(run.stream, None)
        if broadcast is None:
            return
        streams = self.live.get(broadcast.conversation)
        if streams is not None:
            streams.discard(broadcast)
            if not streams:
                del self.live[broadcast.conversation]
                group = streams_group_name(broadcast.conversation)
                await self.channel_layer.group_discard(group, self.channel_name)
        await broadcast.aclose()

    # --- handlers ---------------------------------------------------------------------------------

    async def chat_start(self, content: dict[str, Any]) -> None:
        """Validate, then run the stream as its own task (never awaited here)."""
        start = parse_start(content)
        if start.stream in self.streams:
            raise FrameError(
                "duplicate_stream", f"Stream {start.stream!r} is already running.", stream=start.stream
            )
        if len(self.streams) >= MAX_STREAMS_PER_SOCKET:
            raise FrameError(
                "too_many_streams",
                f"At most {MAX_STREAMS_PER_SOCKET} streams may run at once on one connection; "
                "stop one or wait for one to end.",
                stream=start.stream,
            )
        user = self.scope["user"]
        if RUNNING[user.pk] >= MAX_STREAMS_PER_USER:
            raise FrameError(
                "too_many_streams",
                f"You have {MAX_STREAMS_PER_USER} streams running already (in all your tabs); "
                "stop one or wait for one to end.",
                stream=start.stream,
            )
        run = StreamRun(
            start,
            user=user,
            workspace_id=self.scope["session"].get("workspace_id"),
            hooks=self,
            client_factory=upstream_client,
            server_key=settings.FIREWORKS_API_KEY,
            access=self.check_access,
        )
        task = asyncio.create_task(run(), name=f"chat-stream-{start.stream}")
        self.streams[start.stream] = task
        RUNNING[user.pk] += 1

        def ended(_: asyncio.Task[None]) -> None:
            self.streams.pop(start.stream, None)
            RUNNING[user.pk] -= 1
            if RUNNING[user.pk] <= 0:
                del RUNNING[user.pk]

        task.add_done_callback(ended)

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
        api_key = await read(workspace_api_key)(
            user=self.scope["user"],
            conversation_id=None,
            workspace_id=self.scope["session"].get("workspace_id"),
        )
        key = "playground:models:" + hashlib.sha256(settings.FIREWORKS_BASE_URL.encode()).hexdigest()[:16]
        if api_key:
            key += ":" + hashlib.sha256(api_key.encode()).hexdigest()[:16]
        secrets = (api_key,) if api_key else ()
        if not refresh:
            models = await cache.aget(key)
            if models is not None:
                await self.send_frame({"type": "models.list", "models": models, "cached": True}, secrets)
                return
        try:
            models = await upstream_client(api_key).list_models()
        except Exception as exc:
            if isinstance(exc, UpstreamError):
                error = exc.as_dict()
            else:
                error = {**INTERNAL_ERROR, "message": "The server failed while listing the models."}
                logger.error(
                    "Listing models failed:\n%s",
                    scrub_key("".join(traceback.format_exception(exc)), *secrets),
                )
            fallback = [{"id": settings.PLAYGROUND_DEFAULT_MODEL}]
            frame = {"type": "models.list", "models": fallback, "cached": False, "error": error}
            await self.send_frame(frame, secrets)
            return
        await cache.aset(key, models, timeout=settings.PLAYGROUND_MODELS_CACHE_SECONDS)
        await self.send_frame({"type": "models.list", "models": models, "cached": False}, secrets)
