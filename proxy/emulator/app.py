"""The offline Fireworks emulator: a plain ASGI app with Fireworks' wire format, pace and faults.

``create_app()`` serves ``/inference/v1`` (``POST chat/completions``, ``POST completions``, ``GET models``)
and the control endpoints under ``/_emulator`` (README, "The emulator"). It imports neither Django nor
Channels. The shapes live in ``emulator_wire``, validation and the catalogue in ``emulator_api``, the
text in ``emulator_text``, the faults in ``emulator_faults`` and the ASGI plumbing in ``emulator_http``.

The schedule of a stream is known in advance, so that a benchmark can compare what it saw with what
was sent. With ``t0`` the moment the request body was read, ``ttft = ttft_ms / 1000`` and
``tps = tokens_per_second``: the headers and the role chunk go at ``t0 + ttft``; a chunk whose first
token is token ``k`` (0-based) of its choice at ``t0 + ttft + k / tps``; a choice's final chunk at
``t0 + ttft + n / tps`` for its ``n`` tokens, followed at once by ``[DONE]``. These are absolute
deadlines, so a late write does not delay the next one. A stall fault shifts every later deadline by
its ``seconds``. Each stream's entry in ``GET /_emulator/state`` lists the planned offset of every
``data:`` line it sent (``schedule_ms``, from ``t0``) with ``started_at`` (``time.time()`` at ``t0``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from playground.params import sampling_options_for
from proxy.emulator.api import (
    CATALOGUE,
    ApiError,
    check_request,
    error_body,
    invalid,
)
from proxy.emulator.faults import FaultSet, parse_faults
from proxy.emulator.http import (
    Receive,
    Scope,
    Send,
    abandon_response,
    admitted_model,
    bad_key,
    disconnected,
    dumps,
    read_body,
    redacted,
    request_headers,
    send_error,
    send_head,
    send_json,
    send_response,
    unauthorized,
    wait_until,
    write,
)
from proxy.emulator.responses import ResponsesEndpoint
from proxy.emulator.serving import Serving, serving_path
from proxy.emulator.template import prompt_fragments
from proxy.emulator.text import chat_prompt_tokens, completion_prompt_tokens, plan_choice
from proxy.emulator.wire import Generation

USAGE_PLACEMENTS = ("final_chunk", "extra_chunk", "none")
RATE_LIMITS = {"requests": 600, "tokens-prompt": 600_000, "tokens-generated": 60_000}
RATE_WINDOW_S = 60.0


@dataclass(frozen=True)
class EmulatorConfig:
    """The emulator's pace and seed: ``POST /_emulator/config`` changes it, ``reset`` restores it."""

    ttft_ms: float = 250.0
    tokens_per_second: float = 60.0
    chunk_tokens: int = 1
    seed: int = 0
    usage_placement: str = "final_chunk"
    # Serving paths (proxy/emulator/serving.py): the wait per other open stream of the pool (priority
    # pays a quarter), a cold deployment's first-token delay and after how long idle it is cold again,
    # the replicas whose prompt caches are separate, and how much of the prefill a cached share saves.
    queue_ms_per_stream: float = 40.0
    cold_start_ms: float = 3000.0
    cold_after_s: float = 300.0
    cache_replicas: int = 4
    cached_prefill_saving: float = 0.5

    def updated(self, changes: Any) -> EmulatorConfig:
        """A copy with ``changes`` applied; ``ValueError`` names a bad key or value."""
        if not isinstance(changes, dict):
            raise ValueError("the config must be a JSON object")
        known = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown config key {key!r}; known: {', '.join(known)}")
            ok = {
                "ttft_ms": isinstance(value, (int, float)) and value >= 0,
                "tokens_per_second": isinstance(value, (int, float)) and value > 0,
                "chunk_tokens": isinstance(value, int) and value >= 1,
                "seed": isinstance(value, int),
                "usage_placement": value in USAGE_PLACEMENTS,
                "queue_ms_per_stream": isinstance(value, (int, float)) and value >= 0,
                "cold_start_ms": isinstance(value, (int, float)) and value >= 0,
                "cold_after_s": isinstance(value, (int, float)) and value >= 0,
                "cache_replicas": isinstance(value, int) and value >= 1,
                "cached_prefill_saving": isinstance(value, (int, float)) and 0 <= value <= 1,
            }[key]
            if not ok or isinstance(value, bool):
                raise ValueError(f"bad value for {key}: {value!r}")
        return replace(self, **changes)


class Emulator:
    """The ASGI application and its state: config, queued faults, request log, stream records."""

    def __init__(
        self, config: EmulatorConfig, *, stream_history: int = 200, request_history: int = 50
    ) -> None:
        self.defaults = config
        # How many stream records ``/_emulator/state`` keeps (the benchmark needs one per stream).
        self.stream_history = stream_history
        # How many requests it keeps (a test of a ramp reads every body it sent).
        self.request_history = request_history
        self.reset()

    def reset(self) -> None:
        """Forget everything and go back to the config the app was created with."""
        self.config = self.defaults
        self.faults: deque[dict[str, Any]] = deque()
        self.requests: deque[dict[str, Any]] = deque(maxlen=self.request_history)
        self.streams: deque[dict[str, Any]] = deque(maxlen=self.stream_history)
        self.open_streams = 0
        self.usage_window: deque[tuple[float, int, int]] = deque()
        self.prompt_cache: OrderedDict[str, None] = OrderedDict()
        self.serving = Serving()  # open streams per pool, deployments' last use, cache routing
        self.responses = ResponsesEndpoint(self)  # POST /responses and its stored responses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route one ASGI connection."""
        if scope["type"] == "lifespan":
            while (await receive())["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"].rstrip("/"), scope["method"]
        if path in ("/inference/v1/chat/completions", "/inference/v1/completions") and method == "POST":
            await self.generate(
                scope, receive, send, "chat" if path.endswith("chat/completions") else "completions"
            )
        elif path == "/inference/v1/responses" and method == "POST":
            await self.generate(scope, receive, send, "responses")
        elif path == "/inference/v1/models" and method == "GET":
            await self.models(scope, send)
        elif path.startswith("/_emulator/"):
            await self.control(path.removeprefix("/_emulator/"), method, await read_body(receive), send)
        else:
            await send_json(send, 404, {"detail": "Not Found"})

    async def models(self, scope: Scope, send: Send) -> None:
        """``GET /models``: the fixed catalogue, OpenAI style (logged in the state like generations)."""
        headers = request_headers(scope)
        self.requests.append(
            {
                "path": scope["path"],
                "method": "GET",
                "headers": redacted(headers),
                "auth_last4": headers.get("authorization", "")[-4:],
                "body": None,
                "request_id": None,
                "at": time.time(),
            }
        )
        if bad_key(headers):
            request_id = str(uuid.uuid4())
            await send_error(send, unauthorized(request_id), request_id, 0.0)
            return
        await send_json(send, 200, {"object": "list", "data": [m.as_json() for m in CATALOGUE]})

    async def control(self, action: str, method: str, raw: bytes, send: Send) -> None:
        """The ``/_emulator/*`` endpoints the tests and the benchmark drive."""
        try:
            payload = json.loads(raw) if raw else {}
            if action == "faults" and method == "POST":
                self.faults.extend(parse_faults(payload.get("faults") if isinstance(payload, dict) else None))
                await send_json(send, 200, {"queued": len(self.faults)})
            elif action == "faults" and method == "DELETE":
                self.faults.clear()
                await send_json(send, 200, {"queued": 0})
            elif action == "faults" and method == "GET":
                await send_json(send, 200, {"faults": list(self.faults)})
            elif action == "config" and method == "POST":
                self.config = self.config.updated(payload)
                await send_json(send, 200, asdict(self.config))
            elif action == "config" and method == "GET":
                await send_json(send, 200, asdict(self.config))
            elif action == "reset" and method == "POST":
                self.reset()
                await send_json(send, 200, asdict(self.config))
            elif action == "state" and method == "GET":
                await send_json(send, 200, self.state())
            else:
                await send_json(send, 404, {"detail": f"No {method} /_emulator/{action}"})
        except ValueError as exc:  # json.JSONDecodeError is one too
            await send_json(send, 400, {"detail": str(exc)})

    def state(self) -> dict[str, Any]:
        """What ``GET /_emulator/state`` returns."""
        return {
            "requests": list(self.requests),
            "streams": list(self.streams),
            "open_streams": self.open_streams,
        }

    async def generate(self, scope: Scope, receive: Receive, send: Send, mode: str) -> None:
        """Answer one generation request: error, JSON body or stream, with its faults."""
        loop = asyncio.get_running_loop()
        t0, started = loop.time(), time.time()
        raw = await read_body(receive)
        headers = request_headers(scope)
        request_id = str(uuid.uuid4())
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        self.requests.append(
            {
                "path": scope["path"],
                "method": "POST",
                "headers": redacted(headers),
                # The last four characters of the bearer key, so tests can tell which key arrived.
                "auth_last4": headers.get("authorization", "")[-4:],
                "body": body if body is not None else raw.decode("utf-8", "replace"),
                "request_id": request_id,
                "at": started,
            }
        )
        watcher = asyncio.ensure_future(disconnected(receive))
        try:
            if "x-emulator-fault" in headers:
                try:
                    faults = FaultSet(parse_faults(json.loads(headers["x-emulator-fault"])))
                except ValueError as exc:
                    await send_error(send, invalid(f"x-emulator-fault: {exc}"), request_id, loop.time() - t0)
                    return
            else:
                faults = FaultSet(self.take_fault(body))
            try:
                shift = faults.stall_seconds(-1)
                if shift and await wait_until(t0 + shift, watcher):
                    return
                if faults.status:
                    fault = faults.status
                    refusal = ApiError(
                        fault["status"],
                        error_body(fault["status"], fault["shape"], request_id, fault.get("message")),
                        request_id=fault["shape"] != "empty",
                    )
                    await send_error(send, refusal, request_id, loop.time() - t0, fault)
                    return
                if mode == "responses":
                    await self.responses.answer(body, headers, send, watcher, faults, t0, request_id)
                    return
                generation = self.prepare(body, headers, mode, request_id, faults)
            except ApiError as exc:
                await send_error(send, exc, request_id, loop.time() - t0)
                return
            self.serving.opened(generation.admission)
            try:
                if generation.stream:
                    await self.stream(generation, send, watcher, faults, t0, started, shift)
                else:
                    await self.respond(generation, send, watcher, faults, t0, shift)
            finally:
                self.serving.closed(generation.admission)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    def take_fault(self, body: Any) -> list[dict[str, Any]]:
        """The first queued fault for this request: one without a ``model``, or naming the request's."""
        model = body.get("model") if isinstance(body, dict) else None
        for index, fault in enumerate(self.faults):
            if fault.get("model", model) == model:
                del self.faults[index]
                return [fault]
        return []

    def prepare(
        self, body: Any, headers: dict[str, str], mode: str, request_id: str, faults: FaultSet
    ) -> Generation:
        """Validate the request and decide the whole answer (``ApiError`` if Fireworks would refuse)."""
        body, model = admitted_model(body, headers, request_id)
        check_request(body, mode=mode, model=model)
        admission = self.serving.admit(serving_path(body, headers), self.config)
        if mode == "chat":
            prompt_tokens = chat_prompt_tokens(body["messages"], body.get("tools"))
            prompts = [""]
        else:
            prompts = [body["prompt"]] if isinstance(body["prompt"], str) else list(body["prompt"])
            prompt_tokens = sum(completion_prompt_tokens(p) for p in prompts)
        sampling = sampling_options_for(body)
        room = model.context_length - prompt_tokens
        if sampling["max_tokens"] > room:
            if body.get("context_length_exceeded_behavior") == "error" or room < 1:
                raise invalid(
                    f"The prompt is too long: {prompt_tokens} tokens plus max_tokens "
                    f"{sampling['max_tokens']} exceed the model's context length of {model.context_length}."
                )
            sampling["max_tokens"] = room  # what "truncate" (the default) does
        seed = body["seed"] if isinstance(body.get("seed"), int) else self.config.seed
        count = body.get("n") or 1
        fragments = None
        if mode == "chat" and any(body.get(k) is True for k in ("raw_output", "echo", "return_token_ids")):
            fragments = prompt_fragments(body["messages"], body.get("tools"))
        wants_raw = body.get("raw_output") is True or body.get("return_token_ids") is True
        plans, echoes = [], []
        for prompt in prompts:
            for i in range(count):
                one = {**body, "prompt": prompt} if mode == "completions" else body
                plans.append(
                    plan_choice(
                        one,
                        mode=mode,
                        reasoning_model=model.reasoning,
                        seed=seed,
                        index=i,
                        max_tokens=sampling["max_tokens"],
                        content=faults.reply_content,
                    )
                )
                if body.get("echo") is not True:
                    echoes.append("")
                else:
                    echoes.append(prompt if mode == "completions" else "".join(fragments or []))
        return Generation(
            mode=mode,
            body=body,
            model=model,
            plans=plans,
            prompt_tokens=prompt_tokens,
            cached_tokens=self._cached(body, headers, mode, prompt_tokens, admission.replica),
            sampling_options=sampling,
            request_id=request_id,
            created=int(time.time()),
            usage_placement=faults.usage_placement or self.config.usage_placement,
            echo_prompts=echoes,
            fragments=fragments if wants_raw else None,
            admission=admission,
        )

    def _cached(
        self, body: dict[str, Any], headers: dict[str, str], mode: str, prompt_tokens: int, replica: int
    ) -> int:
        """Prompt tokens served from the emulated prompt cache: the longest message prefix seen before on
        the replica the request landed on (``serving.py``)."""
        isolation = (
            body.get("prompt_cache_isolation_key") or headers.get("x-prompt-cache-isolation-key") or ""
        )
        key = f"{replica}:{isolation}"
        if mode == "chat":
            messages = body["messages"]
            prefixes = [
                (json.dumps([key, body["model"], messages[:k]]), chat_prompt_tokens(messages[:k]))
                for k in range(1, len(messages) + 1)
            ]
        else:
            prefixes = [(json.dumps([key, body["model"], body["prompt"]]), prompt_tokens)]
        cached = max((tokens for digest, tokens in prefixes if digest in self.prompt_cache), default=0)
        for digest, _ in prefixes:
            self.prompt_cache[digest] = None
            self.prompt_cache.move_to_end(digest)
        while len(self.prompt_cache) > 10_000:
            self.prompt_cache.popitem(last=False)
        return min(cached, prompt_tokens)

    def rate_limits(self, generation: Generation) -> dict[str, str]:
        """The ``x-ratelimit-*`` headers over a sliding minute (the emulator never refuses)."""
        now = time.monotonic()
        while self.usage_window and self.usage_window[0][0] < now - RATE_WINDOW_S:
            self.usage_window.popleft()
        used_prompt = sum(p for _, p, _ in self.usage_window) + generation.prompt_tokens
        used_generated = sum(g for _, _, g in self.usage_window)
        self.usage_window.append((now, generation.prompt_tokens, generation.completion_tokens))
        return {
            "x-ratelimit-limit-requests": str(RATE_LIMITS["requests"]),
            "x-ratelimit-remaining-requests": str(max(0, RATE_LIMITS["requests"] - len(self.usage_window))),
            "x-ratelimit-limit-tokens-prompt": str(RATE_LIMITS["tokens-prompt"]),
            "x-ratelimit-remaining-tokens-prompt": str(max(0, RATE_LIMITS["tokens-prompt"] - used_prompt)),
            "x-ratelimit-limit-tokens-generated": str(RATE_LIMITS["tokens-generated"]),
            "x-ratelimit-remaining-tokens-generated": str(
                max(0, RATE_LIMITS["tokens-generated"] - used_generated)
            ),
            "x-ratelimit-over-limit": "no",
        }

    async def respond(
        self,
        generation: Generation,
        send: Send,
        watcher: asyncio.Future[float],
        faults: FaultSet,
        t0: float,
        shift: float,
    ) -> None:
        """A non-streaming answer, sent when the whole generation would be done."""
        config = self.config
        ttft, tps = generation.pace(config)
        total = ttft + generation.longest / tps
        shift += sum(f["seconds"] for f in faults.stalls if f["after_chunks"] >= 0)
        if await wait_until(t0 + total + shift, watcher):
            return
        headers = generation.headers(total, self.rate_limits(generation))
        body = dumps(generation.response_body(ttft, total))
        if faults.malformed:
            body = body[: len(body) // 2]
        if faults.cut:
            await send_head(send, 200, headers)
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            abandon_response()
            return
        if faults.split:
            await send_head(send, 200, [*headers, ("content-length", str(len(body)))])
            await write(send, body, split=True)
            await send({"type": "http.response.body", "body": b""})
            return
        await send_response(send, 200, headers, body)

    async def stream(
        self,
        generation: Generation,
        send: Send,
        watcher: asyncio.Future[float],
        faults: FaultSet,
        t0: float,
        started: float,
        shift: float,
    ) -> None:
        """A streamed answer on the schedule described in the module docstring, with its faults."""
        config = self.config
        ttft, tps = generation.pace(config)
        record: dict[str, Any] = {
            "request_id": generation.request_id,
            "end": None,
            "ended_at": None,
            "chunks_sent": 0,
            "started_at": started,
            "schedule_ms": [],
            "faults": faults.faults,
            "pace": {
                "ttft_ms": round(ttft * 1000, 3),
                "tokens_per_second": tps,
                "chunk_tokens": config.chunk_tokens,
            },
            "serving": generation.serving_record(),
        }
        self.streams.append(record)
        self.open_streams += 1

        def end(how: str, at: float | None = None) -> None:
            record["end"], record["ended_at"] = how, at or time.time()

        try:
            timed = generation.chunks(config.chunk_tokens)
            total = ttft + generation.longest / tps
            chunks = generation.finish_stream([c for _, c in timed], ttft, total)
            offsets = [ttft + p / tps for p, _ in timed]
            offsets += [offsets[-1]] * (len(chunks) - len(timed))  # the extra usage chunk
            lines = [(o, b"data: " + dumps(c) + b"\n\n") for o, c in zip(offsets, chunks, strict=True)]
            if not faults.no_done:
                lines.append((offsets[-1], b"data: [DONE]\n\n"))
            if await wait_until(t0 + ttft + shift, watcher):
                end("client_disconnected", watcher.result())
                return
            await send_head(send, 200, generation.headers(ttft + shift, self.rate_limits(generation)))
            sent = 0
            for offset, line in lines:
                is_chunk = not line.startswith(b"data: [DONE]")
                shift += faults.stall_seconds(sent)
                if faults.fires("cut", sent):
                    end("cut")
                    abandon_response()
                    return
                if faults.fires("stream_error", sent):
                    error = faults.stream_error_payload(generation.request_id)
                    await write(send, b"data: " + dumps(error) + b"\n\n", split=faults.split)
                    await send({"type": "http.response.body", "body": b""})
                    end("error")
                    return
                if await wait_until(t0 + offset + shift, watcher):
                    end("client_disconnected", watcher.result())
                    return
                if faults.fires("malformed", sent):
                    await write(
                        send, b'data: {"id": "' + generation.request_id.encode() + b'", "choi\n\n', False
                    )
                await write(send, line, split=faults.split)
                record["schedule_ms"].append(round((offset + shift) * 1000, 3))
                sent += is_chunk
                record["chunks_sent"] = sent
            await send({"type": "http.response.body", "body": b""})
            end("client_disconnected" if watcher.done() else "completed")
        except asyncio.CancelledError:
            end("error")
            raise
        finally:
            self.open_streams -= 1


def create_app(
    config: EmulatorConfig | None = None, *, stream_history: int = 200, request_history: int = 50
) -> Emulator:
    """The emulator as an ASGI application (``POST /_emulator/reset`` goes back to ``config``)."""
    return Emulator(
        config or EmulatorConfig(), stream_history=stream_history, request_history=request_history
    )
