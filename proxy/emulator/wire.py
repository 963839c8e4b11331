"""The emulator's wire shapes: a prepared generation, its stream chunks, its JSON body, its headers.

Shapes follow the recorded traffic (../shared/fixtures/fireworks-recorded/): a role chunk, content
chunks with ``"usage": null``, a final chunk with an empty delta, the finish reason and the usage, then
``data: [DONE]``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from proxy.emulator.api import ModelInfo
from proxy.emulator.serving import Admission
from proxy.emulator.template import raw_output
from proxy.emulator.text import ChoicePlan, Piece, chat_logprobs, legacy_logprobs

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"


@dataclass
class Generation:
    """A validated request and everything the emulator will answer to it."""

    mode: str  # "chat" or "completions"
    body: dict[str, Any]
    model: ModelInfo
    plans: list[ChoicePlan]
    prompt_tokens: int
    cached_tokens: int
    sampling_options: dict[str, Any]
    request_id: str
    created: int
    usage_placement: str  # final_chunk | extra_chunk | none
    echo_prompts: list[str]  # per choice, the prompt to put first (``echo``; chat: the templated prompt)
    # The templated prompt, one fragment per token, when ``raw_output`` or ``return_token_ids`` asks for it.
    fragments: list[str] | None = None
    # How its serving path is served (proxy/emulator/serving.py); None: the plain configured pace.
    admission: Admission | None = None
    # (wait before the prefill, prefill) in ms, as ``pace`` planned them.
    breakdown_ms: tuple[float, float] = (0.0, 0.0)

    def pace(self, config: Any) -> tuple[float, float]:
        """(time to first token in seconds, tokens per second) on this request's serving path."""
        admission = self.admission
        if admission is None:
            return config.ttft_ms / 1000, config.tokens_per_second
        prefill = admission.prefill_ms(
            config.ttft_ms, self.cached_tokens, self.prompt_tokens, config.cached_prefill_saving
        )
        self.breakdown_ms = (admission.queue_ms + admission.cold_ms, prefill + admission.lora_ms)
        ttft_ms = sum(self.breakdown_ms)
        return ttft_ms / 1000, config.tokens_per_second * admission.speed

    def serving_record(self) -> dict[str, Any] | None:
        """The serving path and its planned costs, for ``/_emulator/state``."""
        admission = self.admission
        if admission is None:
            return None
        return {
            "pool": admission.path.pool,
            "priority": admission.path.priority,
            "lora": admission.path.lora,
            "replica": admission.replica,
            "concurrent": admission.concurrent,
            "queue_ms": round(admission.queue_ms, 3),
            "cold_ms": admission.cold_ms,
        }

    @property
    def stream(self) -> bool:
        """Whether the client asked for a stream."""
        return self.body.get("stream") is True

    @property
    def completion_tokens(self) -> int:
        """Tokens generated over all choices."""
        return sum(p.completion_tokens for p in self.plans)

    @property
    def longest(self) -> float:
        """The longest choice in token times: choices are generated side by side."""
        return max(p.duration for p in self.plans)

    @property
    def speculation(self) -> tuple[int, int] | None:
        """(predicted tokens, matched) over the choices, when the request carried a prediction."""
        counts = [p.speculation for p in self.plans if p.speculation is not None]
        if not counts:
            return None
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def raw_output(self, index: int) -> dict[str, Any] | None:
        """Choice ``index``'s ``raw_output`` (None unless asked for)."""
        if self.fragments is None:
            return None
        plan = self.plans[index]
        calls = tuple((c.name, c.arguments) for c in plan.tool_calls)
        return raw_output(
            self.fragments, plan.content, full=self.body.get("raw_output") is True, tool_calls=calls
        )

    @property
    def include_usage(self) -> bool:
        """``stream_options.include_usage``."""
        options = self.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True

    @property
    def perf_requested(self) -> bool:
        """``perf_metrics_in_response``."""
        return self.body.get("perf_metrics_in_response") is True

    def usage(self) -> dict[str, Any]:
        """The usage object, keys in the recorded order."""
        usage: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "completion_tokens": self.completion_tokens,
        }
        if self.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return usage

    def perf_metrics(self, ttft_s: float, total_s: float) -> dict[str, Any]:
        """The ``perf_metrics`` object (hyphenated keys, as Fireworks sends them)."""
        metrics: dict[str, Any] = {
            "prompt-tokens": self.prompt_tokens,
            "cached-prompt-tokens": self.cached_tokens,
            "server-time-to-first-token": round(ttft_s, 3),
            "server-processing-time": round(total_s, 3),
        }
        if self.speculation is not None:
            metrics["speculation-prompt-tokens"], metrics["speculation-prompt-matched-tokens"] = (
                self.speculation
            )
        metrics.update(self.deployment_metrics(ttft_s, total_s))
        return metrics

    def deployment_metrics(self, ttft_s: float, total_s: float) -> dict[str, Any]:
        """On a dedicated deployment, the breakdown Fireworks reports there (empty elsewhere): the wait
        for the prefill (queue and a cold start), the prefill, the generation."""
        admission = self.admission
        if admission is None or admission.path.deployment is None:
            return {}
        queue_ms, prefill_ms = self.breakdown_ms
        return {
            "deployment": admission.path.deployment,
            "num-concurrent-requests": admission.concurrent + 1,
            "prefill-queue-duration": round(queue_ms / 1000, 3),
            "prefill-duration": round(prefill_ms / 1000, 3),
            "generation-queue-duration": 0.0,
            "generation-duration": round(max(0.0, total_s - ttft_s), 3),
        }

    def _logprobs(self, pieces: list[Piece], offset: int) -> dict[str, Any] | None:
        requested = self.body.get("logprobs")
        if requested in (None, False):
            return None
        if self.mode == "chat" and requested is True:
            return chat_logprobs(pieces)
        return legacy_logprobs(pieces, offset)

    def _head(self) -> dict[str, Any]:
        kind = "chat.completion.chunk" if self.mode == "chat" else "text_completion"
        return {"id": self.request_id, "object": kind, "created": self.created, "model": self.body["model"]}

    def _choice(
        self, index: int, delta: dict[str, Any] | str, finish: str | None, logprobs: Any
    ) -> dict[str, Any]:
        if self.mode == "chat":
            choice: dict[str, Any] = {"index": index, "delta": delta, "finish_reason": finish}
            if logprobs is not None:
                choice["logprobs"] = logprobs
            return choice
        return {"index": index, "text": delta, "logprobs": logprobs, "finish_reason": finish}

    def chunks(self, chunk_tokens: int) -> list[tuple[float, dict[str, Any]]]:
        """Every stream chunk with the token position that schedules it, in sending order.

        A chunk is sent when the first token it carries is due: position ``k`` means the k-th token of
        its choice. The role chunk and a completions ``echo`` sit at position 0, the final chunk at the
        choice's length.
        """
        timed: list[tuple[float, int, int, dict[str, Any]]] = []
        for index, plan in enumerate(self.plans):
            order = 0

            def add(
                position: float,
                delta: Any,
                finish: str | None = None,
                logprobs: Any = None,
                index: int = index,
                raw: dict[str, Any] | None = None,
            ) -> None:
                nonlocal order
                choice = self._choice(index, delta, finish, logprobs)
                if raw is not None:
                    choice["raw_output"] = raw
                chunk = {**self._head(), "choices": [choice], "usage": None}
                timed.append((position, index, order, chunk))
                order += 1

            if self.mode == "chat":
                add(0, {"role": "assistant"})
                if self.echo_prompts[index]:
                    add(0, {"content": self.echo_prompts[index]})
            elif self.echo_prompts[index]:
                add(0, self.echo_prompts[index])
            text_offset = len(self.echo_prompts[index])
            for position, group in _groups(plan.pieces, chunk_tokens):
                kind, text = group[0].kind, "".join(p.text for p in group)
                if kind == "reasoning":
                    add(position, {"reasoning_content": text})
                elif kind == "tool_name" and plan.tool_calls:
                    tool = plan.tool_calls[group[0].call]
                    call = {"name": tool.name, "arguments": ""}
                    fragment = {"index": group[0].call, "id": tool.id, "type": "function", "function": call}
                    add(position, {"tool_calls": [fragment]})
                elif kind == "tool":
                    fragment = {"index": group[0].call, "function": {"arguments": text}}
                    add(position, {"tool_calls": [fragment]})
                else:
                    logprobs = self._logprobs(group, text_offset)
                    text_offset += len(text)
                    add(position, {"content": text} if self.mode == "chat" else text, logprobs=logprobs)
            add(
                plan.duration,
                {} if self.mode == "chat" else "",
                plan.finish_reason,
                raw=self.raw_output(index),
            )
        timed.sort(key=lambda item: item[:3])
        return [(position, chunk) for position, _, _, chunk in timed]

    def finish_stream(
        self, chunks: list[dict[str, Any]], ttft_s: float, total_s: float
    ) -> list[dict[str, Any]]:
        """Put the usage and ``perf_metrics`` where this stream's placement says; maybe add a chunk."""
        last = chunks[-1]
        if self.perf_requested:
            last["perf_metrics"] = self.perf_metrics(ttft_s, total_s)
        if self.usage_placement == "final_chunk":
            last["usage"] = self.usage()
        elif self.usage_placement == "extra_chunk" and self.include_usage:
            return [*chunks, {**self._head(), "choices": [], "usage": self.usage()}]
        return chunks

    def response_body(self, ttft_s: float, total_s: float) -> dict[str, Any]:
        """The non-streaming JSON body."""
        choices = []
        for index, plan in enumerate(self.plans):
            content_pieces = [p for p in plan.pieces if p.kind == "content"]
            logprobs = self._logprobs(content_pieces, len(self.echo_prompts[index]))
            if self.mode == "chat":
                text = self.echo_prompts[index] + plan.content
                message: dict[str, Any] = {"role": "assistant", "content": text or None}
                if plan.tool_call is None and message["content"] is None:
                    message["content"] = ""
                if plan.reasoning:
                    message["reasoning_content"] = plan.reasoning
                if plan.tool_calls:
                    message["tool_calls"] = [
                        {
                            "index": number,
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments},
                        }
                        for number, call in enumerate(plan.tool_calls)
                    ]
                choice: dict[str, Any] = {
                    "index": index,
                    "message": message,
                    "finish_reason": plan.finish_reason,
                }
                if logprobs is not None:
                    choice["logprobs"] = logprobs
                raw = self.raw_output(index)
                if raw is not None:
                    choice["raw_output"] = raw
            else:
                text = self.echo_prompts[index] + plan.content
                choice = {
                    "index": index,
                    "text": text,
                    "logprobs": logprobs,
                    "finish_reason": plan.finish_reason,
                }
            choices.append(choice)
        head = self._head()
        head["object"] = "chat.completion" if self.mode == "chat" else "text_completion"
        body: dict[str, Any] = {**head, "choices": choices}
        if self.usage_placement != "none":
            body["usage"] = self.usage()
        if self.perf_requested:
            body["perf_metrics"] = self.perf_metrics(ttft_s, total_s)
        return body

    def headers(self, elapsed_s: float, rate_limits: dict[str, str]) -> list[tuple[str, str]]:
        """The response headers, as recorded; ``elapsed_s`` is the time to first token or the whole time."""
        timing = "fireworks-server-time-to-first-token" if self.stream else "fireworks-server-processing-time"
        extra = []
        if self.model.speculation and not self.stream:
            extra.append(("fireworks-speculation-generated-tokens", str(self.completion_tokens * 3 // 5)))
        if self.speculation is not None:
            extra.append(("fireworks-speculation-prompt-tokens", str(self.speculation[0])))
            extra.append(("fireworks-speculation-prompt-matched-tokens", str(self.speculation[1])))
        if self.admission is not None and self.admission.path.deployment is not None:
            # On dedicated deployments the perf_metrics keys known by now come as headers too.
            for name, value in self.deployment_metrics(elapsed_s, elapsed_s).items():
                if name in ("prefill-queue-duration", "prefill-duration", "num-concurrent-requests"):
                    extra.append((f"fireworks-{name}", str(value)))
        return [
            *extra,
            ("content-type", SSE_CONTENT_TYPE if self.stream else "application/json"),
            ("fireworks-prompt-tokens", str(self.prompt_tokens)),
            ("fireworks-cached-prompt-tokens", str(self.cached_tokens)),
            ("fireworks-sampling-options", json.dumps(self.sampling_options)),
            (timing, f"{elapsed_s:.3f}"),
            *common_headers(self.request_id, elapsed_s),
            *rate_limits.items(),
        ]


def common_headers(request_id: str | None, elapsed_s: float) -> list[tuple[str, str]]:
    """Headers on every answer to a generation request (``x-request-id`` only when there is one)."""
    headers = [
        ("fireworks-middleware-version", "v2"),
        ("server-timing", f'total;dur={elapsed_s * 1000:.1f};desc="Total Response Time"'),
        ("x-envoy-upstream-service-time", str(round(elapsed_s * 1000))),
        ("access-control-allow-origin", "*"),
        ("x-playground-emulator", "1"),
    ]
    if request_id:
        headers.append(("x-request-id", request_id))
    return headers


def _groups(pieces: list[Piece], size: int) -> list[tuple[float, list[Piece]]]:
    """Pieces grouped into chunks of up to ``size`` tokens of one kind (and tool call), with the time
    (in token times) their first token is due: accepted predicted tokens cost less than one."""
    groups: list[tuple[float, list[Piece]]] = []
    position = 0.0
    for piece in pieces:
        current = groups[-1][1] if groups else None
        if (
            current is None
            or current[0].kind != piece.kind
            or current[0].call != piece.call
            or len(current) >= size
        ):
            groups.append((position, [piece]))
        else:
            current.append(piece)
        position += piece.cost
    return groups
