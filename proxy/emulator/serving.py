"""How the emulator serves a request: its serving path and what that path costs in time.

Fireworks serves one model several ways, and the emulator models each so that a demo (and the tests)
can show the difference offline, deterministically:

- **Pools and load.** Serverless requests share one pool; each dedicated deployment
  (``accounts/<acct>/deployments/<id>`` or ``<model>#<deployment>``) is a pool of its own. A request
  waits ``queue_ms_per_stream`` for every other stream open in its pool when it arrives; with
  ``service_tier: "priority"`` it waits a quarter of that (priority is slightly faster under load).
- **Cold deployments.** The first request to a deployment, or the first after ``cold_after_s`` idle,
  waits ``cold_start_ms`` more (the replica scaling up); the next one is warm.
- **LoRA add-ons.** ``accounts/<acct>/models/<catalogue slug>-lora[-<name>]`` is served on its base model
  with the adapter's overhead: ``LORA_TTFT_MS`` more to the first token, ``LORA_SPEED`` of the speed.
- **Prompt caching.** The prompt cache is per replica; there are ``cache_replicas`` of them. A request
  with ``prompt_cache_key`` (or ``x-session-affinity``) always lands on the replica its key picks, so a
  repeated prefix is found. Without one, a request that arrives while its pool is idle goes to the
  replica its first message picks (so a conversation's turns, one after another, find their prefix),
  but under load requests are spread round-robin, and a repeat finds its prefix only when it lands where
  the first went. Cached prompt tokens shorten the prefill by ``cached_prefill_saving`` of their share.

The numbers are planned when the request arrives (``Serving.admit``), so the schedule stays absolute
and deterministic for a given order of arrival.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from proxy.emulator.api import DEPLOYMENT_RE, lora_base

PRIORITY_QUEUE_SHARE = 0.25
LORA_TTFT_MS = 40.0
LORA_SPEED = 0.85


@dataclass(frozen=True)
class ServingPath:
    """Which way a request is served."""

    pool: str  # "serverless" or "deployment:<id>"
    deployment: str | None
    lora: bool
    priority: bool
    cache_route: str | None  # prompt_cache_key / x-session-affinity
    affinity: str  # the model and the first message (or prompt): where an idle pool sends it


def serving_path(body: dict[str, Any], headers: dict[str, str]) -> ServingPath:
    """The serving path of an admitted request (its model already resolved)."""
    model = str(body.get("model") or "")
    deployment = None
    if "#" in model:
        deployment = model.partition("#")[2]
    elif DEPLOYMENT_RE.match(model):
        deployment = model.rsplit("/", 1)[1]
    key = body.get("prompt_cache_key") or headers.get("x-session-affinity")
    messages = body.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else body.get("prompt")
    return ServingPath(
        pool=f"deployment:{deployment}" if deployment else "serverless",
        deployment=deployment,
        lora=lora_base(model) is not None,
        priority=body.get("service_tier") == "priority",
        cache_route=str(key) if key else None,
        affinity=json.dumps([model, first], sort_keys=True, default=str),
    )


@dataclass(frozen=True)
class Admission:
    """What a request's path costs, planned on arrival (milliseconds)."""

    path: ServingPath
    replica: int
    concurrent: int  # other streams open in its pool when it arrived
    queue_ms: float
    cold_ms: float
    lora_ms: float
    speed: float  # multiplier of the configured tokens per second

    def prefill_ms(self, ttft_ms: float, cached: int, prompt: int, saving: float) -> float:
        """The prefill: the configured time to first token, less the cached share's saving."""
        share = cached / prompt if prompt else 0.0
        return ttft_ms * (1 - saving * share)


class Serving:
    """The emulator's serving state: open streams per pool, last use per deployment, routing."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()
        self.last_used: dict[str, float] = {}
        self.round_robin = 0

    def admit(self, path: ServingPath, config: Any) -> Admission:
        """Plan a request's queue, cold start and replica on arrival (and count it as open)."""
        now = time.monotonic()
        concurrent = self.open[path.pool]
        queue = config.queue_ms_per_stream * concurrent * (PRIORITY_QUEUE_SHARE if path.priority else 1.0)
        cold = 0.0
        if path.deployment is not None:
            last = self.last_used.get(path.deployment)
            if last is None or now - last > config.cold_after_s:
                cold = config.cold_start_ms
            self.last_used[path.deployment] = now
        replicas = max(1, config.cache_replicas)
        if path.cache_route is not None or concurrent == 0:
            route = path.cache_route if path.cache_route is not None else path.affinity
            replica = int(hashlib.sha256(route.encode()).hexdigest()[:8], 16) % replicas
        else:
            replica = self.round_robin % replicas
            self.round_robin += 1
        return Admission(
            path=path,
            replica=replica,
            concurrent=concurrent,
            queue_ms=queue,
            cold_ms=cold,
            lora_ms=LORA_TTFT_MS if path.lora else 0.0,
            speed=LORA_SPEED if path.lora else 1.0,
        )

    def opened(self, admission: Admission | None) -> None:
        """A request of this admission is being answered (others arriving now queue behind it)."""
        if admission is not None:
            self.open[admission.path.pool] += 1

    def closed(self, admission: Admission | None) -> None:
        """Its answer ended; a deployment's idle time counts from now."""
        if admission is None:
            return
        self.open[admission.path.pool] -= 1
        if admission.path.deployment is not None:
            self.last_used[admission.path.deployment] = time.monotonic()
