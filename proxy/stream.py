"""``StreamRun``: the one owner of one stream's lifecycle.

access → request → relay → save → done | stopped | error. The socket's consumer makes one per
``chat.start`` and runs it as a task; ``chat.stop`` (or a disconnect) cancels the task, which closes
the upstream response at once and saves the partial reply as stopped. Whatever happens, the stream
ends with exactly one ``chat.done`` or ``chat.error`` (unless the socket is gone) and its run is saved.

The upstream client comes from a factory, so tests drive a whole stream with a fake client and no
HTTP. The database is touched twice, through ``database_sync_to_async``: the run is opened once the
request has left, while it is in flight, and saved once at the end. The relay loop itself never waits
on the database.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import traceback
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import asdict
from typing import Any, Protocol, TypeVar

from channels.db import database_sync_to_async
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import connections

from playground.pricing.selectors import price_for, price_from
from playground.selectors.workspaces import run_access
from playground.services import runs
from proxy.client.client import Endpoint
from proxy.client.dialect import without
from proxy.client.errors import UpstreamError
from proxy.client.events import Event
from proxy.client.transport import REQUEST_SENT
from proxy.frames import StartRequest
from proxy.pricing import Price
from proxy.protocol import error_frame
from proxy.relay import StreamRecord

logger = logging.getLogger(__name__)
T = TypeVar("T")

# The longest the run's opening waits for the request to leave (a new connection's handshake, or a
# client that does not tell) before it starts anyway.
SEND_WAIT_S = 0.05

INTERNAL_ERROR: dict[str, Any] = {
    "code": "internal_error",
    "message": "The server failed while relaying the stream.",
    "status": None,
    "request_id": None,
    "retryable": False,
    "param": None,
}


class StreamingClient(Protocol):
    """What a stream needs of the upstream client (``proxy.client.client.UpstreamClient``)."""

    def stream_batches(
        self, body: dict[str, Any], *, endpoint: Endpoint = "chat"
    ) -> AsyncGenerator[list[Event], None]: ...


class StreamHooks(Protocol):
    """What the socket does for a stream: send its frames, and open and close its live watching."""

    async def send_stream_frame(self, run: StreamRun, frame: dict[str, Any]) -> None: ...

    async def stream_opened(self, run: StreamRun) -> None: ...

    async def stream_closed(self, run: StreamRun) -> None: ...


def scrubber(*keys: str) -> Callable[[str], str]:
    """A function that replaces every given key (the server's, a workspace's) in a text."""
    secrets = [key for key in keys if key]

    def scrub(text: str) -> str:
        for key in secrets:
            text = text.replace(key, "[redacted]")
        return text

    return scrub


def read(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
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


def refusal(stream: str, exc: BaseException) -> dict[str, Any]:
    """The ``chat.error`` for a stream the user may not start (or whose run could not be opened)."""
    if isinstance(exc, ObjectDoesNotExist):
        what = "workspace" if type(exc).__qualname__.startswith("Workspace") else "conversation"
        logger.info("A stream was refused: no such %s (or not the user's).", what)
        return error_frame(stream=stream, code="not_found", message=f"No such {what}.", param=what)
    if isinstance(exc, PermissionDenied):
        logger.info("A stream was refused: %s", exc)
        return error_frame(stream=stream, code="forbidden", message=str(exc), param="conversation")
    logger.error("Opening a run failed:\n%s", "".join(traceback.format_exception(exc)))
    return error_frame(stream=stream, **INTERNAL_ERROR)


class StreamRun:
    """One stream, from the access check to its last frame."""

    def __init__(
        self,
        start: StartRequest,
        *,
        user: Any,
        workspace_id: int | None,
        hooks: StreamHooks,
        client_factory: Callable[[str], StreamingClient],
        server_key: str = "",
        access: Callable[..., Awaitable[str]] | None = None,
        personal_workspace_id: int | None = None,
        prices: Callable[[int], Mapping[str, Price] | None] | None = None,
    ) -> None:
        self.start = start
        self.user = user
        self.workspace_id = workspace_id
        self.hooks = hooks
        self.client_factory = client_factory
        self.server_key = server_key
        # Who may start it and with which key: the socket's knowledge, else a read (run_access).
        self.access = access or read(run_access)
        # The user's personal workspace, when the socket knows it (a new conversation's home by default).
        self.personal_workspace_id = personal_workspace_id
        # A workspace's own prices when the socket knows them (else None: the run's price is read).
        self.prices = prices
        self.conversation: Any = None
        echo = start.mode == "chat" and start.body.get("echo") is True
        self.record = StreamRecord(start.stream, choices=start.choices, dropped=start.dropped, echo=echo)
        self.run_id: int | None = None
        # Where the reply goes (``runs.RunPlace``), so the end is written without reading anything back.
        self.place: runs.RunPlace | None = None
        self.conversation_id: int | None = None
        # Every key this stream may use: none may leave in a frame, a log line or the saved run.
        self.secrets: tuple[str, ...] = (server_key,) if server_key else ()
        self.scrub = scrubber(*self.secrets)

    @property
    def stream(self) -> str:
        """The page's id of this stream."""
        return self.start.stream

    async def send(self, frame: dict[str, Any]) -> None:
        """Send a frame of this stream to its socket (and its watchers)."""
        await self.hooks.send_stream_frame(self, frame)

    async def __call__(self) -> None:
        """Run the stream to its end; never raises (a failure ends it with ``chat.error``)."""
        try:
            api_key = await self.access(
                user=self.user, conversation_id=self.start.conversation, workspace_id=self.workspace_id
            )
        except asyncio.CancelledError:
            return  # stopped before anything was sent or saved
        except Exception as exc:
            await self.send(refusal(self.stream, exc))
            return
        self.secrets = tuple(key for key in (self.server_key, api_key) if key)
        self.scrub = scrubber(*self.secrets)
        # The request goes upstream first, then the run is opened while it is in flight; its events wait
        # for the run, so the frames keep their order.
        events = self.client_factory(api_key).stream_batches(self.start.body, endpoint=self.start.mode)
        sent = asyncio.Event()
        told = REQUEST_SENT.set(sent)  # the request's task (and aiohttp's writer in it) sees the event
        try:
            first = asyncio.ensure_future(anext(events, None))
        finally:
            REQUEST_SENT.reset(told)
        opening = asyncio.ensure_future(self._open_once_sent(sent, first))
        stopped = False
        try:
            try:
                # Shielded: a stop during this short write still yields the run, to be closed as stopped.
                run, price = await asyncio.shield(opening)
            except asyncio.CancelledError:
                _uncancel()
                stopped = True
                run, price = await opening
        except Exception as exc:
            # Allowed a moment ago, refused now: e.g. the conversation was just deleted.
            await self._close(first, events)
            await self.send(refusal(self.stream, exc))
            return
        self.run_id, self.conversation_id, self.conversation = run.pk, run.conversation_id, run.conversation
        # Known before any event is folded (events wait for the run): every frame and figure has it.
        self.record.price = price
        self.place = run.place
        self.record.requested = dict(run.requested_options)
        await self.hooks.stream_opened(self)
        try:
            await self.send(
                {
                    "type": "chat.started",
                    "stream": self.stream,
                    "conversation": run.conversation_id,
                    "run": run.pk,
                    "request": self.start.body,
                }
            )
            if stopped:
                await self._close(first, events)
                status, error = "stopped", None
            else:
                status, error = await self._relay(first, events)
            await self._finish(status, error)
        finally:
            await self.hooks.stream_closed(self)

    async def _open_once_sent(
        self, sent: asyncio.Event, first: asyncio.Future[Any]
    ) -> tuple[Any, Price | None]:
        """Open the run once the request has left (or failed, or answered, or ``SEND_WAIT_S`` passed).

        The opening runs on a thread; started earlier, it held the interpreter while the event loop
        waited to write the request, and the request left only after the write (4 ms on SQLite).
        """
        waiting = asyncio.ensure_future(sent.wait())
        try:
            await asyncio.wait((waiting, first), timeout=SEND_WAIT_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        opened: tuple[Any, Price | None] = await database_sync_to_async(self._open_run)()
        return opened

    def _open_run(self) -> tuple[Any, Price | None]:
        """Open the run (while the request is in flight) and find the price it is costed at (known to
        the socket, else read)."""
        start = self.start
        run = self._create_run()
        try:
            workspace_id = run.conversation.workspace_id
            own = self.prices(workspace_id) if self.prices is not None else None
            if own is not None:
                price = price_from(own, start.model)
            else:
                price = price_for(workspace_id=workspace_id, model=start.model)
        except Exception:  # a broken pricing file costs the run nothing, it does not stop it
            logger.exception("Reading the price of %s failed; the run is not costed.", start.model)
            price = None
        return run, price

    def _create_run(self) -> Any:
        """The run record, with its ``place`` (``runs.run_start``; an eval's cell opens its own)."""
        start = self.start
        return runs.run_start(
            user=self.user,
            conversation_id=start.conversation,
            mode=start.mode,
            model=start.model,
            messages=start.messages,
            prompt=start.prompt,
            params=start.params,
            extra=start.extra,
            request=start.body,
            system_prompt=start.system,
            workspace_id=self.workspace_id,
            personal_workspace_id=self.personal_workspace_id,
        )

    async def _close(self, first: asyncio.Future[Any], events: AsyncGenerator[Any, None]) -> None:
        """Close a request that will not be relayed (the stream stopped or its run failed to open)."""
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await events.aclose()

    async def _relay(
        self, first: asyncio.Future[list[Event] | None], events: AsyncGenerator[list[Event], None]
    ) -> tuple[str, dict[str, Any] | None]:
        """Send the upstream's events as frames until the stream ends; return (status, error)."""
        try:
            batch = await first
            if batch is not None:
                await self._send_batch(batch)
            async for batch in events:
                await self._send_batch(batch)
            return "done", None
        except asyncio.CancelledError:
            _uncancel()
            return "stopped", None
        except UpstreamError as exc:
            return "error", exc.as_dict()
        except Exception as exc:
            logger.error(
                "Stream %s failed:\n%s", self.stream, self.scrub("".join(traceback.format_exception(exc)))
            )
            return "error", dict(INTERNAL_ERROR)
        finally:
            # Close the upstream response (generation and billing stop) before anything is saved.
            await events.aclose()

    async def _send_batch(self, events: list[Event]) -> None:
        for frame in self.record.frames(events):
            await self.send(frame)

    def _outcome(self, status: str, error: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The last frame, and what ``run_finish`` saves, with every key in use scrubbed (an upstream
        may echo one)."""
        record = self.record
        end = record.end(status, error)
        done = record.done
        outcome = {
            "status": "error" if error else status,
            "opened": asdict(record.opened) if record.opened else None,
            "output": record.output(),
            "usage": record.usage,
            "perf": record.perf,
            "timings": end["timings"],
            "timeline": record.saved_timeline(),
            "error": error,
            "response_model": done.model if done else None,
            "finish_reasons": record.finish_reasons,
        }
        if record.opened is not None and record.opened.dropped:
            # The server refused fields by name and answered the request sent again without them:
            # the run keeps the body it answered.
            outcome["request"] = without(self.start.body, record.opened.dropped)
        # One encoding to look: scrubbing string by string only when a key is really there.
        if self.secrets and any(key in json.dumps(outcome, default=str) for key in self.secrets):
            logger.warning("Stream %s: the upstream echoed an API key; it was redacted.", self.stream)
            outcome = scrub_json(outcome, self.scrub)
        return end, outcome

    async def _finish(self, status: str, error: dict[str, Any] | None) -> None:
        """Save the run and its reply once, then send ``chat.done`` or ``chat.error``."""
        try:
            end, outcome = self._outcome(status, error)
        except Exception as exc:  # a record that cannot be summed up still ends the stream as failed
            logger.error(
                "Stream %s could not be summed up:\n%s",
                self.stream,
                self.scrub("".join(traceback.format_exception(exc))),
            )
            end = error_frame(stream=self.stream, **INTERNAL_ERROR)
            outcome = {
                "status": "error",
                "opened": None,
                "output": [],
                "usage": None,
                "perf": None,
                "timings": {},
                "timeline": [],
                "error": dict(INTERNAL_ERROR),
                "response_model": None,
                "finish_reasons": {},
            }
        finish = database_sync_to_async(runs.run_finish)
        saving = asyncio.ensure_future(finish(run_id=self.run_id, place=self.place, **outcome))
        try:
            # Shielded: a disconnect arriving now must not lose what the user saw.
            result = await asyncio.shield(saving)
        except asyncio.CancelledError:
            _uncancel()
            await asyncio.gather(saving, return_exceptions=True)
            return
        except ObjectDoesNotExist:
            # The conversation was deleted while the reply streamed: the page keeps the text it showed.
            logger.info(
                "Stream %s: its conversation was deleted while it streamed; nothing saved.", self.stream
            )
            message = "The conversation was deleted while this reply streamed; the reply was not saved."
            await self.send(
                error_frame(
                    stream=self.stream,
                    **{**INTERNAL_ERROR, "code": "not_found", "message": message, "param": "conversation"},
                )
            )
            return
        except Exception as exc:
            logger.error(
                "Stream %s could not be saved:\n%s",
                self.stream,
                self.scrub("".join(traceback.format_exception(exc))),
            )
            message = "The reply could not be saved (the server failed); the text shown is kept on this page."
            await self.send(error_frame(stream=self.stream, **{**INTERNAL_ERROR, "message": message}))
            return
        ids = {"run": self.run_id, "message_id": result.message_id, "message_ids": result.message_ids}
        await self.send({**end, **ids})


def scrub_json(value: Any, scrub: Callable[[str], str]) -> Any:
    """``value`` with ``scrub`` applied to every string in it, keys included."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_json(k, scrub): scrub_json(v, scrub) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_json(v, scrub) for v in value]
    return value
