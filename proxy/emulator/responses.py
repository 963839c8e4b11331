"""The emulator's ``POST /inference/v1/responses``: the OpenAI Responses API, streamed or whole.

The event shapes follow the OpenAI SDK's ``openai.types.responses`` (``response.created``,
``response.in_progress``, ``response.output_item.added``, ``response.content_part.added``,
``response.output_text.delta``/``.done``, ``response.function_call_arguments.delta``/``.done``,
``response.output_item.done``, ``response.completed`` with usage; an ``error`` event for a mid-stream
failure), each sent as ``event: <type>`` plus ``data: <json>``, without ``[DONE]``. The reply itself is
planned like a chat reply (``emulator_text.plan_choice``) from the thread: a response stored with
``store`` (the default) is kept in memory, so ``previous_response_id`` continues it; an unknown id gets
OpenAI's 400 ``previous_response_not_found``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from proxy.emulator.api import ApiError, invalid
from proxy.emulator.faults import FaultSet
from proxy.emulator.http import (
    Send,
    abandon_response,
    admitted_model,
    dumps,
    send_error,
    send_head,
    send_response,
    wait_until,
    write,
)
from proxy.emulator.text import ChoicePlan, chat_prompt_tokens, plan_choice
from proxy.emulator.wire import SSE_CONTENT_TYPE, common_headers

if TYPE_CHECKING:
    from proxy.emulator.app import Emulator

MAX_STORED = 1000


def not_found(previous: str) -> ApiError:
    """OpenAI's answer to an unknown ``previous_response_id``."""
    return ApiError(
        400,
        {
            "error": {
                "message": f"Previous response with id '{previous}' not found.",
                "type": "invalid_request_error",
                "param": "previous_response_id",
                "code": "previous_response_not_found",
            }
        },
    )


def _messages(items: Any) -> list[dict[str, Any]]:
    """Responses input (a string or items) as chat messages."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list) or not items:
        raise invalid("input: a string or a non-empty list of input items is required.")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise invalid(f"input[{i}] must be an object.")
        if item.get("type") == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else json.dumps(output)
            out.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": text})
        elif item.get("type") == "function_call":
            call = {"name": item.get("name"), "arguments": item.get("arguments") or "{}"}
            out.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{"id": item.get("call_id"), "function": call}],
                }
            )
        elif item.get("role") in ("user", "assistant", "system", "developer"):
            content = item.get("content")
            if isinstance(content, list):  # input_text / output_text parts
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            role = "system" if item["role"] == "developer" else item["role"]
            out.append({"role": role, "content": content if isinstance(content, str) else ""})
        else:
            raise invalid(f"input[{i}]: unknown input item.")
    return out


def _chat_tools(tools: Any) -> list[dict[str, Any]] | None:
    """Responses function tools (flat) as chat tools (nested under ``function``)."""
    if not isinstance(tools, list):
        return None
    return [
        {"type": "function", "function": {k: t[k] for k in ("name", "description", "parameters") if k in t}}
        for t in tools
        if isinstance(t, dict) and t.get("type") == "function"
    ]


class ResponsesEndpoint:
    """The Responses API of one emulator: its stored responses and its answers."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.stored: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def plan(
        self, body: Any, headers: dict[str, str], request_id: str
    ) -> tuple[dict[str, Any], ChoicePlan, list[dict[str, Any]], int]:
        """Validate and plan: (the response in progress, the reply's plan, the thread, prompt tokens)."""
        body, _model = admitted_model(body, headers, request_id)
        previous = body.get("previous_response_id")
        history: list[dict[str, Any]] = []
        if previous is not None:
            if previous not in self.stored:
                raise not_found(str(previous))
            history = list(self.stored[previous])
        thread = history + _messages(body.get("input"))
        if isinstance(body.get("instructions"), str) and body["instructions"]:
            thread = [
                {"role": "system", "content": body["instructions"]},
                *[m for m in thread if m["role"] != "system"],
            ]
        tools = _chat_tools(body.get("tools"))
        request = {
            "model": body["model"],
            "messages": thread,
            "temperature": body.get("temperature"),
            "tools": tools,
            "tool_choice": body.get("tool_choice", "auto"),
            "parallel_tool_calls": body.get("parallel_tool_calls"),
        }
        limit = body.get("max_output_tokens")
        max_tokens = limit if isinstance(limit, int) and limit > 0 else 2048
        seed = self.emulator.config.seed
        plan = plan_choice(
            request, mode="chat", reasoning_model=False, seed=seed, index=0, max_tokens=max_tokens
        )
        response_id = "resp_" + request_id.replace("-", "")
        response = {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": "in_progress",
            "model": body["model"],
            "output": [],
            "previous_response_id": previous,
            "store": body.get("store") is not False,
            "instructions": body.get("instructions"),
            "temperature": body.get("temperature"),
            "max_output_tokens": body.get("max_output_tokens"),
            "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "usage": None,
            "error": None,
            "incomplete_details": None,
        }
        return response, plan, thread, chat_prompt_tokens(thread, tools)

    def remember(self, response: dict[str, Any], thread: list[dict[str, Any]], plan: ChoicePlan) -> None:
        """Keep the thread and the reply, so ``previous_response_id`` can continue it."""
        if not response["store"]:
            return
        reply: dict[str, Any] = {"role": "assistant", "content": plan.content}
        if plan.tool_calls:
            reply["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in plan.tool_calls
            ]
        self.stored[response["id"]] = [*thread, reply]
        while len(self.stored) > MAX_STORED:
            self.stored.popitem(last=False)

    def events(
        self, response: dict[str, Any], plan: ChoicePlan, prompt_tokens: int
    ) -> list[tuple[float, dict[str, Any]]]:
        """Every event with its due time in token times, in sending order, and the finished response."""
        out: list[tuple[float, dict[str, Any]]] = []

        def add(at: float, kind: str, **fields: Any) -> None:
            out.append((at, {"type": kind, "sequence_number": len(out), **fields}))

        add(0, "response.created", response=dict(response))
        add(0, "response.in_progress", response=dict(response))
        items: list[dict[str, Any]] = []
        at = 0.0
        text = plan.content
        if text or not plan.tool_calls:
            item: dict[str, Any] = {
                "id": "msg_" + uuid.uuid4().hex,
                "type": "message",
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            }
            index = len(items)
            add(0, "response.output_item.added", output_index=index, item=dict(item))
            part: dict[str, Any] = {"type": "output_text", "text": "", "annotations": []}
            add(
                0,
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=part,
            )
            for piece in plan.pieces:
                if piece.kind == "content":
                    add(
                        at,
                        "response.output_text.delta",
                        item_id=item["id"],
                        output_index=index,
                        content_index=0,
                        delta=piece.text,
                        logprobs=[],
                    )
                at += piece.cost
            add(
                at,
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=text,
                logprobs=[],
            )
            done_part = {**part, "text": text}
            add(
                at,
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=done_part,
            )
            item = {**item, "status": "completed", "content": [done_part]}
            add(at, "response.output_item.done", output_index=index, item=item)
            items.append(item)
        for number, call in enumerate(plan.tool_calls):
            index = len(items)
            item = {
                "id": "fc_" + call.id.removeprefix("call_"),
                "type": "function_call",
                "status": "in_progress",
                "call_id": call.id,
                "name": call.name,
                "arguments": "",
            }
            add(at, "response.output_item.added", output_index=index, item=dict(item))
            for piece in plan.pieces:
                if piece.kind == "tool" and piece.call == number:
                    at += piece.cost
                    add(
                        at,
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=index,
                        delta=piece.text,
                    )
            add(
                at,
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=call.arguments,
            )
            item = {**item, "status": "completed", "arguments": call.arguments}
            add(at, "response.output_item.done", output_index=index, item=item)
            items.append(item)
        final = {
            **response,
            "status": "incomplete" if plan.finish_reason == "length" else "completed",
            "output": items,
            "usage": {
                "input_tokens": prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": plan.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": prompt_tokens + plan.completion_tokens,
            },
        }
        if final["status"] == "incomplete":
            final["incomplete_details"] = {"reason": "max_output_tokens"}
        add(max(at, plan.duration), f"response.{final['status']}", response=final)
        return out

    async def answer(
        self,
        body: Any,
        headers: dict[str, str],
        send: Send,
        watcher: asyncio.Future[float],
        faults: FaultSet,
        t0: float,
        request_id: str,
    ) -> None:
        """Answer one request: an error, the whole response object, or its event stream on the usual pace.

        Status faults and the stall before the headers were handled by the caller; ``cut`` and
        ``stream_error`` (an ``error`` event) fire after ``after_chunks`` events, ``split`` splits writes.
        """
        config = self.emulator.config
        ttft, tps = config.ttft_ms / 1000, config.tokens_per_second
        try:
            response, plan, thread, prompt_tokens = self.plan(body, headers, request_id)
        except ApiError as exc:
            await send_error(send, exc, request_id, 0.0)
            return
        events = self.events(response, plan, prompt_tokens)
        final = events[-1][1]["response"]
        self.remember(response, thread, plan)
        if body.get("stream") is not True:
            if await wait_until(t0 + ttft + plan.duration / tps, watcher):
                return
            head = [("content-type", "application/json"), *common_headers(request_id, ttft)]
            await send_response(send, 200, head, dumps(final))
            return
        if await wait_until(t0 + ttft, watcher):
            return
        head = [
            ("content-type", SSE_CONTENT_TYPE),
            ("fireworks-prompt-tokens", str(prompt_tokens)),
            *common_headers(request_id, ttft),
        ]
        await send_head(send, 200, head)
        for sent, (at, event) in enumerate(events):
            if faults.fires("cut", sent):
                abandon_response()
                return
            if faults.fires("stream_error", sent):
                error = {
                    "type": "error",
                    "sequence_number": event["sequence_number"],
                    "code": "server_error",
                    "message": faults.stream_error_payload(request_id)["error"]["message"],
                    "param": None,
                }
                await write(send, b"event: error\ndata: " + dumps(error) + b"\n\n", split=faults.split)
                await send({"type": "http.response.body", "body": b""})
                return
            if await wait_until(t0 + ttft + at / tps, watcher):
                return
            await write(
                send, f"event: {event['type']}\ndata: ".encode() + dumps(event) + b"\n\n", split=faults.split
            )
        await send({"type": "http.response.body", "body": b""})
