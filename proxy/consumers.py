"""The chat websocket (``/ws/chat/``): hooks plus handlers, nothing of a stream's lifecycle.

``chat.start`` is checked (``proxy/frames.py``) and handed to a ``StreamRun`` (``proxy/stream.py``)
running as its own task, owned by a ``StreamSession`` (``proxy/resume.py``) rather than by this socket:
``chat.stop`` (from any socket of the same user) cancels the task at once, which closes the upstream
response (generation and billing stop) and saves the partial reply. A socket that drops without a stop
detaches from its streams, which keep running for the resume grace period; ``chat.attach`` re-attaches
a socket (after a reload or a reconnect) to a running stream of the same user. None is left running
after the grace period with nobody attached.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import traceback
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
from proxy.probe import parse_probe, run_probe
from proxy.protocol import FrameError
from proxy.resume import StreamSession, running_for, session_for
from proxy.stream import INTERNAL_ERROR, StreamRun, read, refusal, scrubber
from proxy.watch import WatchMixin

logger = logging.getLogger(__name__)

# Streams one socket may run at once (compare runs up to 12 columns of a sweep), and one user across all
# their sockets in this process (several tabs).
MAX_STREAMS_PER_SOCKET = 16
MAX_STREAMS_PER_USER = 32
# Probes (readiness checks, ramps) one socket may run at once; each sends at most 8 requests at a time.
MAX_PROBES_PER_SOCKET = 2


def probe_client(api_key: str, timeout_s: float) -> UpstreamClient:
    """The pooled client for a probe: its timeout is the first-byte limit (a probe is tiny)."""
    return shared_client(
        base_url=settings.FIREWORKS_BASE_URL,
        api_key=api_key or settings.FIREWORKS_API_KEY,
        connect_timeout=min(settings.FIREWORKS_CONNECT_TIMEOUT, timeout_s),
        first_byte_timeout=timeout_s,
        gap_timeout=min(settings.FIREWORKS_STREAM_GAP_TIMEOUT, timeout_s),
        keepalive=settings.FIREWORKS_KEEPALIVE_SECONDS,
    )


def upstream_client(api_key: str = "") -> UpstreamClient:
    """The pooled client for a key: a workspace's own key, when it has one, replaces the server's."""
    return shared_client(
        base_url=settings.FIREWORKS_BASE_URL,
        api_key=api_key or settings.FIREWORKS_API_KEY,
        connect_timeout=settings.FIREWORKS_CONNECT_TIMEOUT,
        first_byte_timeout=settings.FIREWORKS_FIRST_BYTE_TIMEOUT,
        gap_timeout=settings.FIREWORKS_STREAM_GAP_TIMEOUT,
        keepalive=settings.FIREWORKS_KEEPALIVE_SECONDS,
    )


class ChatConsumer(WatchMixin):
    """``/ws/chat/``: signed-in users start and stop streamed completions, list models, watch (README)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        # The streams this socket is attached to, by stream id (each owned by its StreamSession).
        self.attached: dict[str, StreamSession] = {}
        self.background: set[asyncio.Task[None]] = set()
        self.probes: dict[str, asyncio.Task[None]] = {}
        self.closed = False
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
        # Detached, not stopped: each stream runs on for the grace period, for a reload or a reconnect.
        sessions = list(self.attached.values())
        self.attached.clear()
        for session in sessions:
            session.detach(self)
        for task in self.background:
            task.cancel()
        # A stream stopped now (no grace period) is closed upstream and saved before the consumer goes.
        stopped = [s.task for s in sessions if s.stopping and s.task is not None]
        await asyncio.gather(*self.background, *stopped, return_exceptions=True)
        await self.leave_groups()

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
            "chat.attach": self.chat_attach,
            "models.list": self.models_list,
            "code.render": self.code_render,
            "watch": self.watch,
            "unwatch": self.unwatch,
            "probe.start": self.probe_start,
        }

    def _forget(self, stream: str, session: StreamSession) -> None:
        if self.attached.get(stream) is session:
            del self.attached[stream]

    def _room_for(self, stream: str) -> None:
        if len(self.attached) >= MAX_STREAMS_PER_SOCKET:
            raise FrameError(
                "too_many_streams",
                f"At most {MAX_STREAMS_PER_SOCKET} streams may run at once on one connection; "
                "stop one or wait for one to end.",
                stream=stream,
            )

    async def learn_conversation(self, run: StreamRun) -> None:
        """A stream this socket started opened its run: learn the conversation's access facts."""
        if run.conversation is not None and self.access.loaded and not self.closed:
            self.access.learn(run.conversation)
            await self.hold_groups({access_group("conversation", run.conversation.pk)})

    # --- handlers ---------------------------------------------------------------------------------

    async def chat_start(self, content: dict[str, Any]) -> None:
        """Validate, then run the stream as its own task (never awaited here)."""
        start = parse_start(content)
        user = self.scope["user"]
        if start.stream in self.attached or session_for(user.pk, start.stream) is not None:
            raise FrameError(
                "duplicate_stream", f"Stream {start.stream!r} is already running.", stream=start.stream
            )
        self._room_for(start.stream)
        if running_for(user.pk) >= MAX_STREAMS_PER_USER:
            raise FrameError(
                "too_many_streams",
                f"You have {MAX_STREAMS_PER_USER} streams running already (in all your tabs); "
                "stop one or wait for one to end.",
                stream=start.stream,
            )
        session = StreamSession(
            user_id=user.pk,
            started_by=user.get_username(),
            layer=self.channel_layer,
            opened=self.learn_conversation,
        )
        run = StreamRun(
            start,
            user=user,
            workspace_id=self.scope["session"].get("workspace_id"),
            hooks=session,
            client_factory=upstream_client,
            server_key=settings.FIREWORKS_API_KEY,
            access=self.check_access,
            personal_workspace_id=self.access.personal if self.access.loaded else None,
            prices=self.access.workspace_prices,
        )
        session.begin(run, self)
        self.attached[start.stream] = session
        assert session.task is not None
        session.when_ended(lambda: self._forget(start.stream, session))

    async def chat_stop(self, content: dict[str, Any]) -> None:
        """Stop the user's stream, whichever socket started it; a stop for a stream that already ended is
        ignored (it raced the end)."""
        session = session_for(self.scope["user"].pk, stream_id(content))
        if session is not None:
            session.stop()

    async def chat_attach(self, content: dict[str, Any]) -> None:
        """Attach this socket to a running stream of the same user: its frames so far, then the rest."""
        stream = stream_id(content)
        session = session_for(self.scope["user"].pk, stream)
        if session is None or session.task is None or session.task.done() or session.ended:
            raise FrameError(
                "not_found",
                "That stream is no longer running: it ended (and was saved) or was never started here.",
                stream=stream,
                param="stream",
            )
        if stream not in self.attached:
            self._room_for(stream)
            self.attached[stream] = session
            session.when_ended(lambda: self._forget(stream, session))
        await session.attach(self)

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

    async def probe_start(self, content: dict[str, Any]) -> None:
        """Check every configuration with a tiny request (``proxy/probe.py``), as a task of its own."""
        probe = parse_probe(content)
        if probe.probe in self.probes:
            raise FrameError(
                "duplicate_stream", f"Probe {probe.probe!r} is already running.", stream=probe.probe
            )
        if len(self.probes) >= MAX_PROBES_PER_SOCKET:
            raise FrameError(
                "too_many_streams",
                f"At most {MAX_PROBES_PER_SOCKET} checks may run at once on one connection; "
                "wait for one to end.",
                stream=probe.probe,
            )
        task = asyncio.create_task(self.run_probe(probe))
        self.probes[probe.probe] = task
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        task.add_done_callback(lambda _: self.probes.pop(probe.probe, None))

    # --- the work behind the handlers -----------------------------------------------------------

    async def run_probe(self, probe: Any) -> None:
        """Run a probe with the key the user's streams would use (the same access check), nothing saved."""
        try:
            api_key = await self.check_access(
                user=self.scope["user"],
                conversation_id=None,
                workspace_id=self.scope["session"].get("workspace_id")
                if probe.workspace is None
                else probe.workspace,
            )
        except Exception as exc:
            await self.send_frame(refusal(probe.probe, exc))
            return
        secrets = (api_key,) if api_key else ()
        scrub = scrubber(settings.FIREWORKS_API_KEY, *secrets)

        async def send(frame: dict[str, Any]) -> None:
            if not self.closed:
                await self.send_frame(frame, secrets)

        await run_probe(probe, probe_client(api_key, probe.timeout_s), send, scrub)

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
