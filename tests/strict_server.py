"""A strict OpenAI-compatible server over real loopback HTTP, for dialect tests (uvicorn in a thread).

It accepts only OpenAI's standard chat fields and refuses any other field by name, as OpenAI's own API
does (400, "Unrecognized request argument supplied: …") or as a FastAPI server with
``extra="forbid"`` does (422, ``{"detail": [{"loc": ["body", field], "type": "extra_forbidden", …}]}``).
A temperature above 1.5 is refused as a bad value (400 naming ``temperature``). It records every
request body it received, and otherwise streams a short reply with usage and ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

STANDARD = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "n",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
    }
)
REPLY = ["Hello", " from", " a strict", " server."]
# Asked to "think", it answers as a template that opened <think> in the prompt: reasoning, a lone
# </think>, then the answer.
THINKING = ["The user", " wants a", " short answer", ".\n", "</think>", "\n\n", *REPLY]


class StrictServer:
    """A running strict server: ``mode`` is ``"openai"`` (400) or ``"fastapi"`` (422)."""

    def __init__(self, mode: str = "openai", pace: float = 0.0) -> None:
        self.mode = mode
        self.pace = pace  # seconds between two chunks
        self.requests: list[dict[str, Any]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="off", interface="asgi3", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the strict server did not start within 10 s")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)

    def refusal(self, unknown: list[str]) -> tuple[int, dict[str, Any]]:
        if self.mode == "fastapi":
            detail = [
                {"loc": ["body", name], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
                for name in unknown
            ]
            return 422, {"detail": detail}
        plural = "s" if len(unknown) > 1 else ""
        message = f"Unrecognized request argument{plural} supplied: {', '.join(unknown)}"
        return 400, {
            "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
        }

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if scope["method"] == "GET" and path == "/v1/models":
            await self.reply(
                send, 200, {"object": "list", "data": [{"id": "strict-model", "object": "model"}]}
            )
            return
        if path != "/v1/chat/completions":
            await self.reply(send, 404, {"detail": "Not Found"})
            return
        body = json.loads(raw)
        self.requests.append(body)
        unknown = [k for k in body if k not in STANDARD]
        if unknown:
            await self.reply(send, *self.refusal(unknown))
            return
        temperature = body.get("temperature")
        if isinstance(temperature, (int, float)) and temperature > 1.5:
            error = {"message": "temperature must be at most 1.5", "type": "invalid_request_error"}
            await self.reply(send, 400, {"error": {**error, "param": "temperature", "code": None}})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"x-request-id", b"strict-1")],
            }
        )
        last = str((body.get("messages") or [{}])[-1].get("content") or "")
        pieces = THINKING if "think" in last.lower() else REPLY
        chunks: list[dict[str, Any]] = [{"role": "assistant"}] + [{"content": piece} for piece in pieces]
        for delta in chunks:
            await self.event(send, self.chunk(body, {"index": 0, "delta": delta, "finish_reason": None}))
            await asyncio.sleep(self.pace)
        await self.event(send, self.chunk(body, {"index": 0, "delta": {}, "finish_reason": "stop"}))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 9, "completion_tokens": len(REPLY), "total_tokens": 9 + len(REPLY)}
            await self.event(send, {**self.chunk(body), "usage": usage})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    @staticmethod
    def chunk(body: dict[str, Any], *choices: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "strict-1",
            "object": "chat.completion.chunk",
            "model": body["model"],
            "choices": list(choices),
        }

    @staticmethod
    async def event(send: Any, obj: dict[str, Any]) -> None:
        await send(
            {"type": "http.response.body", "body": f"data: {json.dumps(obj)}\n\n".encode(), "more_body": True}
        )

    @staticmethod
    async def reply(send: Any, status: int, obj: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(obj).encode()})


@pytest.fixture(params=["openai", "fastapi"])
def strict_server(request: pytest.FixtureRequest) -> Iterator[StrictServer]:
    """A strict server refusing unknown fields the OpenAI way (400), then the FastAPI way (422)."""
    server = StrictServer(request.param)
    server.start()
    yield server
    server.stop()
