"""The Responses API (``POST /responses``): its request body and its stream, as the client's events.

``responses_body`` turns what the page sends into a Responses request; ``ResponsesTranslator`` turns each
server-sent event of the stream (``response.created``, ``response.output_text.delta``,
``response.function_call_arguments.delta``, ``response.completed`` with usage, ``error``, ...) into the same
``Delta``/``Finish``/``Usage`` events a chat stream gives, so the consumer relays both the same way. Field
names follow the OpenAI SDK's ``openai.types.responses`` event types. Pure: no I/O, no Django.
"""

from __future__ import annotations

from typing import Any

from proxy.client.chunks import usage_from
from proxy.client.events import Delta, Event, Finish, Usage

# Registry names whose Responses field has another name.
RENAMED = {"max_tokens": "max_output_tokens"}


class ResponsesStreamError(Exception):
    """The stream reported a failure (an ``error`` event or ``response.failed``); ``body`` is its error."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("message") or "the response failed"))
        self.body = body


def _input_item(message: dict[str, Any]) -> dict[str, Any]:
    """A chat message as a Responses input item (tool results and calls have their own item types)."""
    if message.get("role") == "tool":
        return {
            "type": "function_call_output",
            "call_id": message.get("tool_call_id") or "",
            "output": message.get("content") or "",
        }
    return {"role": message["role"], "content": message.get("content") or ""}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # text parts
        return "".join(
            p.get("text") or "" for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def responses_body(
    *,
    model: str,
    messages: list[dict[str, Any]],
    system: str,
    fields: dict[str, Any],
    previous_response_id: str | None,
) -> dict[str, Any]:
    """The request body: with ``previous_response_id`` only the messages after the last reply are sent.

    Without it the whole conversation goes as input items, so a thread works with ``store`` off too.
    The system prompt, given as ``system`` or as system messages (as the page sends it), becomes
    ``instructions``: the Responses API takes no system input item.
    """
    if previous_response_id:
        last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1)
        sent = messages[last + 1 :]
    else:
        sent = messages
    items = [_input_item(m) for m in sent if m.get("role") != "system"]
    body: dict[str, Any] = {"model": model, "input": items}
    prompts = [system] if system else []
    prompts += [text for m in messages if m.get("role") == "system" and (text := _text(m.get("content")))]
    if prompts:
        body["instructions"] = "\n\n".join(prompts)
    if previous_response_id:
        body["previous_response_id"] = previous_response_id
    for name, value in fields.items():
        if name == "reasoning_effort":
            body["reasoning"] = {"effort": value}
        elif name != "stream_options":
            body[RENAMED.get(name, name)] = value
    return body


def _usage(raw: Any) -> Usage | None:
    return usage_from(raw) if isinstance(raw, dict) else None


class ResponsesTranslator:
    """Folds one Responses stream's events into chat-shaped events (choice 0, tool calls by order)."""

    def __init__(self) -> None:
        self.response_id: str | None = None
        self.model: str | None = None
        self.finished: str | None = None  # the finish reason once response.completed/incomplete came
        self.calls: dict[int, int] = {}  # output_index -> tool-call index

    def _response(self, obj: dict[str, Any]) -> dict[str, Any]:
        response = obj.get("response")
        if not isinstance(response, dict):
            return {}
        if isinstance(response.get("id"), str):
            self.response_id = response["id"]
        if isinstance(response.get("model"), str):
            self.model = response["model"]
        return response

    def _call_index(self, output_index: Any) -> int:
        key = output_index if isinstance(output_index, int) else -1
        return self.calls.setdefault(key, len(self.calls))

    def events(self, obj: dict[str, Any], event_name: str | None = None) -> list[Event]:
        """The events of one server-sent event; raises ``ResponsesStreamError`` for a reported failure."""
        kind = obj.get("type") or event_name
        if kind == "error":
            raise ResponsesStreamError(obj)
        if kind in ("response.created", "response.in_progress", "response.queued"):
            self._response(obj)
            return []
        if kind == "response.output_text.delta":
            delta = obj.get("delta")
            return [Delta(choice=0, content=delta)] if isinstance(delta, str) and delta else []
        if kind in ("response.reasoning_text.delta", "response.reasoning_summary_text.delta"):
            delta = obj.get("delta")
            return [Delta(choice=0, reasoning=delta)] if isinstance(delta, str) and delta else []
        if kind == "response.output_item.added":
            item = obj.get("item")
            if not isinstance(item, dict) or item.get("type") != "function_call":
                return []
            fragment = {
                "index": self._call_index(obj.get("output_index")),
                "id": item.get("call_id") or item.get("id"),
                "type": "function",
                "function": {"name": item.get("name") or "", "arguments": item.get("arguments") or ""},
            }
            return [Delta(choice=0, tool_calls=[fragment])]
        if kind == "response.function_call_arguments.delta":
            delta = obj.get("delta")
            if not isinstance(delta, str) or not delta:
                return []
            fragment = {"index": self._call_index(obj.get("output_index")), "function": {"arguments": delta}}
            return [Delta(choice=0, tool_calls=[fragment])]
        if kind == "response.failed":
            response = self._response(obj)
            error = response.get("error")
            raise ResponsesStreamError(
                error if isinstance(error, dict) else {"message": "the response failed"}
            )
        if kind in ("response.completed", "response.incomplete"):
            response = self._response(obj)
            if kind == "response.incomplete":
                self.finished = "length"
            elif any(
                isinstance(i, dict) and i.get("type") == "function_call" for i in response.get("output") or []
            ):
                self.finished = "tool_calls"
            else:
                self.finished = "stop"
            out: list[Event] = [Finish(choice=0, reason=self.finished)]
            usage = _usage(response.get("usage"))
            if usage is not None:
                out.append(usage)
            return out
        return []  # content_part.added, output_text.done, ...: nothing the deltas did not say

    def whole(self, obj: dict[str, Any]) -> list[Event]:
        """A non-streamed response object, as the events a stream of it would give."""
        events: list[Event] = []
        for index, item in enumerate(obj.get("output") or []):
            if not isinstance(item, dict):
                continue
            if item.get("type") == "message":
                for part in item.get("content") or []:
                    if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                        events.append(Delta(choice=0, content=part["text"]))
            elif item.get("type") == "function_call":
                events += self.events(
                    {"type": "response.output_item.added", "output_index": index, "item": item}
                )
        kind = "response.incomplete" if obj.get("status") == "incomplete" else "response.completed"
        if obj.get("status") == "failed":
            kind = "response.failed"
        return events + self.events({"type": kind, "response": obj})
