"""The chat websocket: validates ``chat.start`` frames, relays each upstream stream as ``chat.*`` frames.

The consumer is hooks plus dispatch. Each stream runs as its own asyncio task, so ``chat.stop`` and
``disconnect`` are handled at once: they cancel the task, which closes the upstream HTTP response
(generation and billing stop). The relay loop touches no database: the run is opened before the
request and saved once after the stream ends, through ``database_sync_to_async`` services.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import time
import traceback
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.cache import cache

from playground import services
from playground.models import Conversation
from playground.params import Mode, ParamError, to_request_fields, validate
from proxy.events import Delta, Done, Event, Finish, Opened, Perf, UpstreamError, Usage
from proxy.upstream import UpstreamClient, prepare_body, shared_client

logger = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant", "tool")
PART_TYPES = ("text", "image_url")
MAX_STREAM_ID = 200
# Response headers the page has no use for (session state of the upstream, not facts about the reply).
HIDDEN_HEADERS = frozenset({"set-cookie"})


class FrameError(Exception):
    """A frame the server cannot act on; becomes a ``chat.error`` and the socket stays open."""

    def __init__(
        self, code: str, message: str, *, stream: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.stream = stream
        self.param = param


def error_frame(
    *,
    stream: str | None,
    code: str,
    message: str,
    retryable: bool = False,
    status: int | None = None,
    request_id: str | None = None,
    param: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A ``chat.error`` frame with every documented field present."""
    return {
        "type": "chat.error",
        "stream": stream,
        "code": code,
        "message": message,
        "retryable": retryable,
        "status": status,
        "request_id": request_id,
        "param": param,
        **more,
    }


@dataclasses.dataclass
class StartRequest:
    """A validated ``chat.start``: what to save and the exact body to send."""

    stream: str
    mode: Mode
    model: str
    messages: list[dict[str, Any]]
    prompt: str | None
    system: str
    params: dict[str, Any]
    extra: dict[str, Any]
    conversation: int | None
    body: dict[str, Any]


def _stream_id(content: dict[str, Any]) -> str:
    stream = content.get("stream")
    if not isinstance(stream, str) or not stream or len(stream) > MAX_STREAM_ID:
        raise FrameError(
            "invalid_frame", f"'stream' must be a non-empty string of at most {MAX_STREAM_ID} characters."
        )
    return stream


def _check_message(index: int, message: Any, stream: str) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise FrameError(
            "invalid_frame", f"{where} must be an object with a role and a content.", stream=stream
        )
    if message.get("role") not in ROLES:
        raise FrameError("invalid_frame", f"{where}.role must be one of {', '.join(ROLES)}.", stream=stream)
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in PART_TYPES:
                raise FrameError(
                    "invalid_frame", f"{where}.content parts must be text or image_url.", stream=stream
                )
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise FrameError(
                    "invalid_frame", f"{where}: a text part needs a 'text' string.", stream=stream
                )
            url = part.get("image_url")
            if part["type"] == "image_url" and not (
                isinstance(url, dict) and isinstance(url.get("url"), str)
            ):
                raise FrameError(
                    "invalid_frame", f"{where}: an image_url part needs image_url.url.", stream=stream
                )
    elif not isinstance(content, str) and not (content is None and message.get("tool_calls")):
        raise FrameError(
            "invalid_frame", f"{where}.content must be a string or a list of parts.", stream=stream
        )
    if message.get("tool_calls") is not None and not isinstance(message["tool_calls"], list):
        raise FrameError("invalid_frame", f"{where}.tool_calls must be a list.", stream=stream)
    for key in ("tool_call_id", "name", "reasoning_content"):
        if message.get(key) is not None and not isinstance(message[key], str):
            raise FrameError("invalid_frame", f"{where}.{key} must be a string.", stream=stream)
    # Only the fields the API knows go upstream; anything else the page attached stays behind.
    return {
        k: message[k]
        for k in ("role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content")
        if message.get(k) is not None or k == "content"
    }


def parse_start(content: dict[str, Any]) -> StartRequest:
    """Check a ``chat.start`` frame and build the request body; raises FrameError naming what is wrong."""
    stream = _stream_id(content)
    mode: Mode = content.get("mode", "chat")
    if mode not in ("chat", "completions"):
        raise FrameError("invalid_frame", "'mode' must be chat or completions.", stream=stream)
    model = content.get("model") or settings.PLAYGROUND_DEFAULT_MODEL
    if not isinstance(model, str):
        raise FrameError("invalid_frame", "'model' must be a string.", stream=stream)
    system = content.get("system") or ""
    if not isinstance(system, str):
        raise FrameError("invalid_frame", "'system' must be a string.", stream=stream)
    conversation = content.get("conversation")
    if conversation is not None and (isinstance(conversation, bool) or not isinstance(conversation, int)):
        raise FrameError(
            "invalid_frame", "'conversation' must be a conversation id (a number).", stream=stream
        )
    params = content.get("params") or {}
    extra = content.get("extra") or {}
    for name, value in (("params", params), ("extra", extra)):
        if not isinstance(value, dict):
            raise FrameError("invalid_frame", f"'{name}' must be an object.", stream=stream)
    try:
        cleaned = validate(params, mode=mode)
    except ParamError as exc:
        raise FrameError("invalid_param", exc.message, stream=stream, param=exc.param) from None
    messages: list[dict[str, Any]] = []
    prompt: str | None = None
    if mode == "chat":
        raw = content.get("messages")
        if not isinstance(raw, list) or not raw:
            raise FrameError(
                "invalid_frame", "'messages' must be a non-empty list in chat mode.", stream=stream
            )
        messages = [_check_message(i, m, stream) for i, m in enumerate(raw)]
        sent = [{"role": "system", "content": system}, *messages] if system else messages
        body: dict[str, Any] = {"model": model, "messages": sent}
    else:
        prompt = content.get("prompt")
        if not isinstance(prompt, str):
            raise FrameError("invalid_frame", "'prompt' must be a string in completions mode.", stream=stream)
        body = {"model": model, "prompt": prompt}
    body = {**body, **to_request_fields(cleaned), **extra}
    return StartRequest(
        stream=stream,
        mode=mode,
        model=model,
        messages=messages,
        prompt=prompt,
        system=system,
        params=cleaned,
        extra=extra,
        conversation=conversation,
        body=prepare_body(body, endpoint=mode),
    )


def _merge_logprobs(into: dict[str, Any], fragment: dict[str, Any]) -> None:
    # Both formats (token list under "content", or the legacy parallel lists) grow by concatenation.
    for key, value in fragment.items():
        if isinstance(value, list) and isinstance(into.get(key), list):
            into[key].extend(value)
        else:
            into[key] = list(value) if isinstance(value, list) else value


def _merge_tool_calls(into: dict[int, dict[str, Any]], fragments: list[dict[str, Any]]) -> None:
    for position, fragment in enumerate(fragments):
        if not isinstance(fragment, dict):
            continue
        index = fragment.get("index", position)
        call = into.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if fragment.get("id"):
            call["id"] = fragment["id"]
        if fragment.get("type"):
            call["type"] = fragment["type"]
        function = fragment.get("function") or {}
        if function.get("name") and not call["function"]["name"]:
            call["function"]["name"] = function["name"]
        if function.get("arguments"):
            call["function"]["arguments"] += function["arguments"]


class Relay:
    """One stream's state in memory: per-choice text, the timeline and the timings."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.chunks = 0
        self.first_ms: float | None = None
        self.last_ms: float | None = None
        self.choices: dict[int, dict[str, Any]] = {}
        self.tool_calls: dict[int, dict[int, dict[str, Any]]] = {}
        self.timeline: list[list[Any]] = []
        self.opened: Opened | None = None
        self.usage: dict[str, Any] | None = None
        self.perf: dict[str, Any] | None = None
        self.finish_reasons: dict[int, str] = {}
        self.done: Done | None = None

    def now(self) -> float:
        """Milliseconds since the request was sent (monotonic clock)."""
        return round((time.monotonic() - self.started) * 1000, 2)

    def choice(self, index: int) -> dict[str, Any]:
        """The accumulated output of one choice."""
        return self.choices.setdefault(
            index,
            {"content": "", "reasoning": "", "tool_calls": None, "finish_reason": None, "logprobs": None},
        )

    def frame(self, event: Event) -> dict[str, Any] | None:
        """Fold an event into the state and return the frame to send for it (None: nothing to say)."""
        t = self.now()
        base = {"stream": self.stream, "t": t}
        if isinstance(event, Delta):
            if not (event.content or event.reasoning or event.tool_calls or event.logprobs):
                return None  # the role-only first chunk carries nothing to show
            out = self.choice(event.choice)
            frame: dict[str, Any] = {"type": "chat.delta", **base, "i": self.chunks, "choice": event.choice}
            if event.content:
                out["content"] += event.content
                frame["content"] = event.content
            if event.reasoning:
                out["reasoning"] += event.reasoning
                frame["reasoning"] = event.reasoning
            if event.tool_calls:
                _merge_tool_calls(self.tool_calls.setdefault(event.choice, {}), event.tool_calls)
                frame["tool_calls"] = event.tool_calls
            if event.logprobs:
                out["logprobs"] = out["logprobs"] or {}
                _merge_logprobs(out["logprobs"], event.logprobs)
                frame["logprobs"] = event.logprobs
            self.timeline.append([self.chunks, t, event.choice, event.content, event.reasoning])
            self.chunks += 1
            if self.first_ms is None:
                self.first_ms = t
            self.last_ms = t
            return frame
        if isinstance(event, Opened):
            self.opened = event
            headers = {k: v for k, v in event.headers.items() if k.lower() not in HIDDEN_HEADERS}
            return {
                "type": "chat.opened",
                **base,
                "status": event.status,
                "request_id": event.request_id,
                "sampling_options": event.sampling_options,
                "rate_limits": event.rate_limits,
                "headers": headers,
                "prompt_tokens": event.prompt_tokens,
                "cached_prompt_tokens": event.cached_prompt_tokens,
                "server_ttft": event.server_ttft,
            }
        if isinstance(event, Finish):
            self.finish_reasons[event.choice] = event.reason
            self.choice(event.choice)["finish_reason"] = event.reason
            return {"type": "chat.finish", **base, "choice": event.choice, "reason": event.reason}
        if isinstance(event, Usage):
            self.usage = {
                "prompt_tokens": event.prompt_tokens,
                "completion_tokens": event.completion_tokens,
                "total_tokens": event.total_tokens,
                "cached_tokens": event.cached_tokens,
            }
            return {"type": "chat.usage", **base, **self.usage}
        if isinstance(event, Perf):
            self.perf = event.metrics
            return {"type": "chat.perf", **base, "metrics": event.metrics}
        if isinstance(event, Done):
            self.done = event
            for index, reason in event.finish_reasons.items():
                self.finish_reasons.setdefault(index, reason)
                self.choice(index)["finish_reason"] = self.finish_reasons[index]
            return None  # chat.done goes out after the run is saved, with its ids
        return None  # pragma: no cover - a new event kind; ignoring it beats killing the stream

    def output(self) -> list[dict[str, Any]]:
        """Per choice, in index order: content, reasoning, assembled tool calls, finish reason, logprobs."""
        for index, calls in self.tool_calls.items():
            self.choice(index)["tool_calls"] = [calls[k] for k in sorted(calls)]
        if not self.choices:
            return []
        return [self.choice(i) for i in range(max(self.choices) + 1)]

    def timings(self, total_ms: float) -> dict[str, Any]:
        """ttft_ms (request sent to first content), total_ms, chunks, chunks per second after the first."""
        rate = None
        if self.chunks > 1 and self.first_ms is not None and self.last_ms and self.last_ms > self.first_ms:
            rate = round((self.chunks - 1) / ((self.last_ms - self.first_ms) / 1000), 2)
        return {
            "ttft_ms": self.first_ms,
            "total_ms": total_ms,
            "chunks": self.chunks,
            "chunks_per_second": rate,
        }


def _client() -> UpstreamClient:
    return shared_client(
        base_url=settings.FIREWORKS_BASE_URL,
        api_key=settings.FIREWORKS_API_KEY,
        connect_timeout=settings.FIREWORKS_CONNECT_TIMEOUT,
        first_byte_timeout=settings.FIREWORKS_FIRST_BYTE_TIMEOUT,
        gap_timeout=settings.FIREWORKS_STREAM_GAP_TIMEOUT,
    )


def _scrub(text: str) -> str:
    key = settings.FIREWORKS_API_KEY
    return text.replace(key, "[redacted]") if key else text


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


class ChatConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """``/ws/chat/``: signed-in users start and stop streamed completions and list models (README)."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.streams: dict[str, asyncio.Task[None]] = {}
        self.background: set[asyncio.Task[None]] = set()
        # Tasks told to stop: each is cancelled at most once, so its closing and saving run undisturbed.
        self.stopping: set[asyncio.Task[None]] = set()
        self.closed = False
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

    def cancel(self, task: asyncio.Task[None]) -> None:
        """Cancel a task once; a second stop while it closes and saves is ignored."""
        if task not in self.stopping and not task.done():
            self.stopping.add(task)
            task.add_done_callback(self.stopping.discard)
            task.cancel()

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if text_data is None:
            await self.send_frame(
                error_frame(stream=None, code="invalid_frame", message="Frames must be JSON text.")
            )
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_frame(
                error_frame(stream=None, code="invalid_json", message="The frame is not valid JSON.")
            )
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        handlers = {
            "chat.start": self.chat_start,
            "chat.stop": self.chat_stop,
            "models.list": self.models_list,
        }
        stream = content.get("stream") if isinstance(content, dict) else None
        stream = stream if isinstance(stream, str) else None
        try:
            if not isinstance(content, dict):
                raise FrameError("invalid_frame", "A frame must be a JSON object with a 'type'.")
            handler = handlers.get(content.get("type"))  # type: ignore[arg-type]
            if handler is None:
                kind = str(content.get("type"))[:50]
                raise FrameError("unknown_type", f"Unknown frame type {kind!r}.", stream=stream)
            await handler(content)
        except FrameError as exc:
            frame = error_frame(
                stream=exc.stream or stream, code=exc.code, message=exc.message, param=exc.param
            )
            await self.send_frame(frame)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        """Send one frame, unless the socket is gone; the API key can never leave in one."""
        if self.closed:
            return
        text = json.dumps(frame)
        key = settings.FIREWORKS_API_KEY
        if key and key in text:
            logger.error("A %s frame held the API key; it was redacted before sending.", frame.get("type"))
            text = _scrub(text)
        await self.send(text_data=text)

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
        task = self.streams.get(_stream_id(content))
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

    # --- the work behind the handlers -----------------------------------------------------------

    async def send_models(self, *, refresh: bool) -> None:
        """Fetch (or recall) the model list and send it as a ``models.list`` frame."""
        key = "playground:models:" + hashlib.sha256(settings.FIREWORKS_BASE_URL.encode()).hexdigest()[:16]
        if not refresh:
            models = await cache.aget(key)
            if models is not None:
                await self.send_frame({"type": "models.list", "models": models, "cached": True})
                return
        try:
            models = await _client().list_models()
        except Exception as exc:
            if isinstance(exc, UpstreamError):
                error = exc.as_dict()
            else:
                error = {**INTERNAL_ERROR, "message": "The server failed while listing the models."}
                logger.error("Listing models failed:\n%s", _scrub("".join(traceback.format_exception(exc))))
            fallback = [{"id": settings.PLAYGROUND_DEFAULT_MODEL}]
            await self.send_frame(
                {"type": "models.list", "models": fallback, "cached": False, "error": error}
            )
            return
        await cache.aset(key, models, timeout=settings.PLAYGROUND_MODELS_CACHE_SECONDS)
        await self.send_frame({"type": "models.list", "models": models, "cached": False})

    async def run_stream(self, start: StartRequest) -> None:
        """Open the run, relay the upstream stream, and save the outcome once, whatever the ending."""
        opening = asyncio.ensure_future(
            database_sync_to_async(services.run_start)(
                user=self.scope["user"],
                conversation_id=start.conversation,
                mode=start.mode,
                model=start.model,
                messages=start.messages,
                prompt=start.prompt,
                params=start.params,
                extra=start.extra,
                request=start.body,
                system_prompt=start.system,
            )
        )
        relay = Relay(start.stream)
        stopped = False
        try:
            try:
                # Shielded: a stop during this short write still yields the run, to be closed as stopped.
                run = await asyncio.shield(opening)
            except asyncio.CancelledError:
                _uncancel()
                stopped = True
                run = await opening
        except Conversation.DoesNotExist:
            message = "No such conversation."
            await self.send_frame(
                error_frame(stream=start.stream, code="not_found", message=message, param="conversation")
            )
            return
        except Exception as exc:
            logger.error("Opening a run failed:\n%s", _scrub("".join(traceback.format_exception(exc))))
            await self.send_frame(error_frame(stream=start.stream, **INTERNAL_ERROR))
            return
        started = {
            "type": "chat.started",
            "stream": start.stream,
            "conversation": run.conversation_id,
            "run": run.pk,
        }
        if stopped:
            await self.send_frame({**started, "request": start.body})
            status, error = "stopped", None
        else:
            status, error = await self.relay(start, relay, started, run.requested_options)
        await self.finish_stream(relay, run.pk, status, error)

    async def relay(
        self, start: StartRequest, relay: Relay, started: dict[str, Any], requested: dict[str, Any]
    ) -> tuple[str, dict[str, Any] | None]:
        """Send the upstream's events as frames until the stream ends; return (status, error)."""
        events = None
        try:
            await self.send_frame({**started, "request": start.body})
            relay.started = time.monotonic()
            events = _client().stream_chat(start.body, endpoint=start.mode)
            async for event in events:
                frame = relay.frame(event)
                if frame is not None:
                    if isinstance(event, Opened):
                        frame["requested"] = requested
                    await self.send_frame(frame)
            return "done", None
        except asyncio.CancelledError:
            _uncancel()
            return "stopped", None
        except UpstreamError as exc:
            return "error", exc.as_dict()
        except Exception as exc:
            logger.error(
                "Stream %s failed:\n%s", start.stream, _scrub("".join(traceback.format_exception(exc)))
            )
            return "error", dict(INTERNAL_ERROR)
        finally:
            # Close the upstream response (generation and billing stop) before anything is saved.
            if events is not None:
                await events.aclose()

    async def finish_stream(
        self, relay: Relay, run_id: int, status: str, error: dict[str, Any] | None
    ) -> None:
        """Save the run and reply once, then send ``chat.done`` or ``chat.error``."""
        total_ms = relay.now()
        done = relay.done
        timings = relay.timings(total_ms)
        saving = asyncio.ensure_future(
            database_sync_to_async(services.run_finish)(
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
                "message": result.message_id,
                "message_ids": result.message_ids,
                "t": total_ms,
            }
            await self.send_frame({**error_frame(stream=relay.stream, **error), **extra})
            return
        await self.send_frame(
            {
                "type": "chat.done",
                "stream": relay.stream,
                "status": status,
                "finish_reasons": relay.finish_reasons,
                "model": done.model if done else None,
                "response_id": done.response_id if done else None,
                "saw_done_marker": done.saw_done_marker if done else False,
                "run": run_id,
                "message": result.message_id,
                "message_ids": result.message_ids,
                "timings": timings,
                "t": total_ms,
            }
        )
