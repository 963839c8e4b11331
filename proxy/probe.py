"""Probes: tiny measured requests to a list of configurations, nothing saved.

One ``probe.start`` frame names 1 to 16 configurations (each the fields of a ``chat.start``) and how to probe
them; each is turned into its exact request body by the one request builder (``proxy/frames.py``
``parse_start``) with ``max_tokens`` capped at 1 to 8, sent through the one upstream client
(``proxy/client/``) and folded by the one server fold (``proxy/relay.py`` ``StreamRecord`` and its
``figures``). Each configuration's outcome goes back as a ``probe.result`` as soon as it is known, then
one ``probe.done``:

- ready or failed, its time to first token and total time, and the exact error of a failed one (the
  ``UpstreamError`` family's wording, ``proxy/client/errors.py``);
- cold: a first token slower than ``cold_ms``; with ``warm`` the configuration is then sent once more,
  and both times are reported (the second is the warmed deployment's);
- rate-limit headroom from the response's ``x-ratelimit-*`` headers (as ``Opened.rate_limits`` keeps them).

At most ``concurrency`` requests run at once, each bounded by ``timeout_ms``. Used by the readiness check
(``static/playground/panels/readiness.js``: presentation mode, and the arena can embed it) and the
serving-path ramp (the same configuration repeated at rising concurrency). No run or conversation is
saved and no key leaves: the socket scrubs every frame (``proxy/dispatch.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from proxy.client.client import Endpoint
from proxy.client.dialect import Dialect
from proxy.client.errors import UpstreamError, UpstreamTimeout
from proxy.client.events import Event
from proxy.frames import StartRequest, parse_start
from proxy.protocol import FrameError
from proxy.relay import StreamRecord

logger = logging.getLogger(__name__)

MAX_CONFIGS = 16
MAX_PROBE_TOKENS = 8
DEFAULT_PROBE_TOKENS = 4
DEFAULT_COLD_MS = 1500
DEFAULT_TIMEOUT_MS = 20_000
MAX_TIMEOUT_MS = 120_000
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 8
MAX_PROBE_ID = 200
MAX_LABEL = 200

INTERNAL = {
    "code": "internal_error",
    "message": "The server failed while checking this configuration.",
    "status": None,
    "request_id": None,
    "retryable": False,
    "param": None,
}


class ProbingClient(Protocol):
    """What a probe needs of the upstream client (``proxy.client.client.UpstreamClient``)."""

    def stream_batches(
        self, body: dict[str, Any], *, endpoint: Endpoint = "chat"
    ) -> AsyncGenerator[list[Event], None]: ...


@dataclass(frozen=True)
class Probe:
    """A checked ``probe.start``: the requests to send and how."""

    probe: str
    starts: list[StartRequest]
    labels: list[str]
    cold_ms: float
    timeout_s: float
    concurrency: int
    warm: bool
    # The workspace whose key the requests use (its streams' access check); None: the session's current one.
    workspace: int | None = None


def _number(content: dict[str, Any], name: str, default: float, low: float, high: float, probe: str) -> float:
    value = content.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise FrameError(
            "invalid_param", f"'{name}' must be a number from {low:g} to {high:g}.", stream=probe, param=name
        )
    return float(value)


def parse_probe(content: dict[str, Any], *, dialect: Dialect | None = None) -> Probe:
    """Check a ``probe.start`` frame and build each configuration's exact body; FrameError names what is
    wrong (in the configuration's words: ``configs[2]: …``)."""
    probe = content.get("probe")
    if not isinstance(probe, str) or not probe or len(probe) > MAX_PROBE_ID:
        raise FrameError(
            "invalid_frame", f"'probe' must be a non-empty string of at most {MAX_PROBE_ID} characters."
        )
    configs = content.get("configs")
    if not isinstance(configs, list) or not 1 <= len(configs) <= MAX_CONFIGS:
        raise FrameError(
            "invalid_frame", f"'configs' must be a list of 1 to {MAX_CONFIGS} configurations.", stream=probe
        )
    tokens = int(_number(content, "max_tokens", DEFAULT_PROBE_TOKENS, 1, MAX_PROBE_TOKENS, probe))
    cold_ms = _number(content, "cold_ms", DEFAULT_COLD_MS, 1, MAX_TIMEOUT_MS, probe)
    timeout_ms = _number(content, "timeout_ms", DEFAULT_TIMEOUT_MS, 100, MAX_TIMEOUT_MS, probe)
    concurrency = int(_number(content, "concurrency", DEFAULT_CONCURRENCY, 1, MAX_CONCURRENCY, probe))
    warm = content.get("warm", True)
    if not isinstance(warm, bool):
        raise FrameError("invalid_frame", "'warm' must be true or false.", stream=probe)
    workspace = content.get("workspace")
    if workspace is not None and (isinstance(workspace, bool) or not isinstance(workspace, int)):
        raise FrameError("invalid_frame", "'workspace' must be a workspace id (a number).", stream=probe)
    starts, labels = [], []
    for index, config in enumerate(configs):
        if not isinstance(config, dict):
            raise FrameError("invalid_frame", f"configs[{index}] must be an object.", stream=probe)
        params = config.get("params") or {}
        if not isinstance(params, dict):
            raise FrameError("invalid_frame", f"configs[{index}]: 'params' must be an object.", stream=probe)
        label = config.get("label") or config.get("model") or f"Configuration {index + 1}"
        if not isinstance(label, str):
            raise FrameError("invalid_frame", f"configs[{index}]: 'label' must be a string.", stream=probe)
        # A tiny request: the probe's token cap over whatever the configuration asks for (the registry's
        # max_tokens; the request builder names it as each mode's API does).
        frame = {**config, "stream": f"{probe}:{index}", "params": {**params, "max_tokens": tokens}}
        frame.pop("conversation", None)
        try:
            starts.append(parse_start(frame, dialect=dialect))
        except FrameError as exc:
            raise FrameError(
                exc.code, f"configs[{index}]: {exc.message}", stream=probe, param=exc.param
            ) from None
        labels.append(label[:MAX_LABEL])
    return Probe(
        probe=probe,
        starts=starts,
        labels=labels,
        cold_ms=cold_ms,
        timeout_s=timeout_ms / 1000,
        concurrency=concurrency,
        warm=warm,
        workspace=workspace,
    )


def headroom(rate_limits: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per limit the headers name (``x-ratelimit-limit-<name>`` with ``x-ratelimit-remaining-<name>``):
    ``{limit, remaining, share}``, share being remaining / limit (0 to 1). Limits without both, or not
    numbers, are left out (the raw headers are kept beside)."""
    out: dict[str, dict[str, float]] = {}
    for header, value in rate_limits.items():
        if not header.startswith("x-ratelimit-limit-"):
            continue
        name = header.removeprefix("x-ratelimit-limit-")
        try:
            limit = float(value)
            remaining = float(rate_limits[f"x-ratelimit-remaining-{name}"])
        except (KeyError, TypeError, ValueError):
            continue
        if limit > 0:
            out[name] = {
                "limit": limit,
                "remaining": remaining,
                "share": round(max(0.0, remaining) / limit, 4),
            }
    return out


@dataclass
class Attempt:
    """One request of a probe, measured by the one fold."""

    ttft_ms: float | None = None
    total_ms: float | None = None
    tokens: int | None = None
    rate_limits: dict[str, str] | None = None
    dropped: list[str] | None = None
    error: dict[str, Any] | None = None


async def attempt(
    client: ProbingClient, start: StartRequest, timeout_s: float, scrub: Callable[[str], str]
) -> Attempt:
    """Send one configuration's request and fold its answer; never raises (except on cancellation)."""
    record = StreamRecord(start.stream, choices=start.choices, dropped=start.dropped)
    events = client.stream_batches(start.body, endpoint=start.mode)
    out = Attempt()
    try:
        async with asyncio.timeout(timeout_s):
            async for batch in events:
                record.frames(batch)
    except UpstreamError as exc:
        out.error = exc.as_dict()
    except TimeoutError:
        out.error = UpstreamTimeout(
            f"No complete answer within {timeout_s:g} s (the readiness check's timeout).", code="timeout"
        ).as_dict()
    except Exception as exc:
        logger.error("A probe request failed:\n%s", scrub("".join(traceback.format_exception(exc))))
        out.error = dict(INTERNAL)
    finally:
        # Closed on every path: the upstream stops generating (and billing) at once.
        await events.aclose()
    figures = record.figures()
    out.ttft_ms, out.total_ms, out.tokens = figures["ttft_ms"], figures["total_ms"], figures["tokens"]
    if record.opened is not None:
        out.rate_limits = dict(record.opened.rate_limits)
    out.dropped = list(record.dropped)
    if out.error is None and out.ttft_ms is None:
        out.error = {
            **INTERNAL,
            "code": "incomplete_stream",
            "message": "The answer ended without a single token.",
        }
    return out


def result_frame(
    probe: Probe, index: int, first: Attempt, warmed: Attempt | None = None, *, cold: bool = False
) -> dict[str, Any]:
    """The ``probe.result`` of configuration ``index``: the first attempt's figures, the warmed one's time."""
    last = warmed or first
    limits = last.rate_limits or first.rate_limits or {}
    error = first.error or (warmed.error if warmed else None)
    return {
        "type": "probe.result",
        "probe": probe.probe,
        "index": index,
        "label": probe.labels[index],
        "model": probe.starts[index].model,
        "status": "failed" if error else "ready",
        "ttft_ms": first.ttft_ms,
        "total_ms": first.total_ms,
        "tokens": first.tokens,
        "cold": cold,
        "warm_ttft_ms": warmed.ttft_ms if warmed else None,
        "rate_limits": limits,
        "headroom": headroom(limits),
        "dropped": first.dropped or [],
        "error": error,
        "request": probe.starts[index].body,
    }


async def check(
    client: ProbingClient, probe: Probe, index: int, scrub: Callable[[str], str]
) -> dict[str, Any]:
    """Probe configuration ``index``: once, and when its first token was slow (cold) once more to warm it.
    Returns the ``probe.result`` frame."""
    start = probe.starts[index]
    first = await attempt(client, start, probe.timeout_s, scrub)
    cold = first.error is None and first.ttft_ms is not None and first.ttft_ms > probe.cold_ms
    warmed = await attempt(client, start, probe.timeout_s, scrub) if cold and probe.warm else None
    return result_frame(probe, index, first, warmed, cold=cold)


async def run_probe(
    probe: Probe,
    client: ProbingClient,
    send: Callable[[dict[str, Any]], Awaitable[None]],
    scrub: Callable[[str], str],
) -> None:
    """Probe every configuration, at most ``probe.concurrency`` at once; send each ``probe.result`` as it
    is known, then ``probe.done``. A failure in one configuration never stops the others."""
    started = time.monotonic()
    gate = asyncio.Semaphore(probe.concurrency)
    results: list[dict[str, Any]] = []

    async def one(index: int) -> None:
        async with gate:
            try:
                result = await check(client, probe, index, scrub)
            except Exception as exc:  # a bug in the check itself: this configuration failed, not the probe
                logger.error("Probe %s failed:\n%s", index, scrub("".join(traceback.format_exception(exc))))
                result = result_frame(probe, index, Attempt(error=dict(INTERNAL)))
        results.append(result)
        await send(result)

    await asyncio.gather(*(one(i) for i in range(len(probe.starts))))
    await send(
        {
            "type": "probe.done",
            "probe": probe.probe,
            "ready": sum(r["status"] == "ready" for r in results),
            "failed": sum(r["status"] == "failed" for r in results),
            "total_ms": round((time.monotonic() - started) * 1000, 2),
        }
    )
