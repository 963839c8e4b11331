"""The live blind arena's socket (``/ws/arena/``) and its rounds: one prompt streamed to every
configuration at once, each through an ordinary ``StreamRun`` (``proxy/stream.py``) whose hooks here
send the audience only what may be seen before the reveal.

- A **round** (``ArenaRound``) starts one ``StreamRun`` per slot, as tasks owned by the round (not by the
  presenter's socket: a reload of the stage does not stop them). Each answer is saved as a run of its
  configuration's conversation, as any stream is; ``arena.stop`` stops them all (their partial answers
  saved as stopped).
- What the audience (and the stage, which is projected) gets of a stream is **anonymised** (``anonymise``):
  deltas, finishes and rethinks with the stream id ``"<prompt>:<slot>"``, the text, the index ``i`` and
  ``t``; never ``chat.started`` (run and conversation ids, the request), ``chat.opened`` (sampling options,
  headers, request id), ``chat.usage``, ``chat.perf``, ``chat.done`` (the response's model name) or an
  error's message (it may name the model): a slot's end is ``arena.slot {prompt, slot, status}``.
- The frames reach every viewer on every process the way live watching's do: each is encoded once and put
  on the slot's ``Outbox`` (``proxy/watch.py``), one task sends them to the group ``arena.<id>``, and one
  ``Hub`` per process and arena hands them to its local sockets. A viewer who joins mid-stream asks the
  group ``arena.<id>.streams`` for snapshots (``SnapshotDesk``), as a watcher does.
- Votes go to the database (one per viewer and prompt; a second replaces the first), and the tally to
  the group for the presenter's sockets only (``arena.tally``): nothing here is kept in process memory
  but the running round, so votes and tallies work across server processes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied

from playground import liveness, throttle
from playground.arena import selectors, services
from playground.arena.models import Arena
from proxy.consumers import upstream_client
from proxy.dispatch import FrameConsumer, Handler
from proxy.frames import parse_start
from proxy.protocol import FrameError
from proxy.relay import StreamRecord
from proxy.stream import StreamRun
from proxy.watch import Outbox, desk_for, hub_for

logger = logging.getLogger(__name__)

VOTER_COOKIE = "arena_voter"
VOTER_SALT = "playground.arena.voter"
VOTER_MAX_AGE = 60 * 60 * 24 * 30
# Vote frames one viewer may send per minute (a second vote on a prompt replaces the first).
VOTE_RULE = throttle.Rule("arena-vote", 20, 60)
# Frames only the presenter's sockets get: the live tally.
PRESENTER_ONLY = frozenset({"arena.tally"})
DELTA_KEYS = ("i", "t", "choice", "content", "reasoning")
PASSED = {
    "chat.delta": DELTA_KEYS,
    "chat.finish": ("t", "choice", "reason"),
    "chat.rethink": ("t", "choice"),
}


def arena_group(arena_id: int) -> str:
    """The channel-layer group of an arena's viewers (the stage and the phones)."""
    return f"arena.{arena_id}"


def arena_streams_group(arena_id: int) -> str:
    """The group of the processes running an arena's round (they answer snapshot requests)."""
    return f"arena.{arena_id}.streams"


def slot_stream(position: int, slot: str) -> str:
    """The stream id of a slot's answer, the only name the viewers know it by."""
    return f"{position}:{slot}"


def anonymise(frame: dict[str, Any], stream: str) -> dict[str, Any] | None:
    """What a viewer may see of a stream frame before the reveal (None: nothing). An allow-list: a field
    or frame type added to the protocol later stays on the server until it is added here."""
    kind = frame.get("type")
    if kind == "chat.deltas":
        items = [{k: item[k] for k in DELTA_KEYS if k in item} for item in frame.get("items") or ()]
        return {"type": kind, "stream": stream, "items": items}
    keys = PASSED.get(kind) if isinstance(kind, str) else None
    if keys is None:
        return None
    return {"type": kind, "stream": stream, **{k: frame[k] for k in keys if k in frame}}


def voter_cookie_value(token: str) -> str:
    """The signed cookie value of a voter token (``signing.dumps``, the Django secret's signature)."""
    return signing.dumps(token, salt=VOTER_SALT)


def voter_token(cookies: dict[str, str]) -> str | None:
    """The viewer's voter token from its signed cookie (set by the audience page), or None."""
    value = cookies.get(VOTER_COOKIE)
    if not value:
        return None
    try:
        token = signing.loads(value, salt=VOTER_SALT, max_age=VOTER_MAX_AGE)
    except signing.BadSignature:
        return None
    return token if isinstance(token, str) else None


async def publish(layer: Any, arena_id: int, frame: dict[str, Any]) -> None:
    """Send an arena frame (a round's status, the tally) to every viewer of the arena, on every process."""
    message = {
        "type": "watch.frame",
        "text": json.dumps(frame),
        "kind": frame["type"],
        "origin": [],
        "to": None,
    }
    await layer.group_send(arena_group(arena_id), message)


class SlotOutbox(Outbox):
    """One slot's anonymised frames to the arena's viewers."""

    def __init__(self, layer: Any, *, arena: int, position: int, slot: str, record: StreamRecord) -> None:
        super().__init__(layer, group=arena_group(arena), record=record)
        self.position = position
        self.slot = slot

    def send(self, frame: dict[str, Any], secrets: tuple[str, ...]) -> None:
        """Queue what the viewers may see of a frame (no await)."""
        self.secrets = secrets
        anonymous = anonymise(frame, self.record.stream)
        if anonymous is not None:
            self.put(anonymous["type"], anonymous)

    def snapshot(self) -> dict[str, Any]:
        """The slot's answer so far, anonymised, with the last delta's index ``i``."""
        stream = self.record.stream
        frames = [f for f in (anonymise(e, stream) for e in self.record.saved_timeline()) if f is not None]
        return {
            "type": "arena.snapshot",
            "prompt": self.position,
            "slot": self.slot,
            "stream": stream,
            "i": self.record.deltas - 1,
            "frames": frames,
        }


class ArenaSlot:
    """The hooks of one slot's ``StreamRun`` (``proxy.stream.StreamHooks``)."""

    def __init__(self, layer: Any, *, arena: int, position: int, start: services.SlotStart) -> None:
        self.layer = layer
        self.arena = arena
        self.position = position
        self.start = start
        self.status: str | None = None
        self.outbox: SlotOutbox | None = None
        self.registered = False

    def bind(self, run: StreamRun) -> None:
        """Fan the run's frames out through an outbox of its record."""
        self.outbox = SlotOutbox(
            self.layer, arena=self.arena, position=self.position, slot=self.start.slot, record=run.record
        )

    async def send_stream_frame(self, run: StreamRun, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "chat.done":
            self.status = str(frame.get("status") or "done")
        elif kind == "chat.error":
            self.status = "error"
            logger.info("Arena %s, slot %s ended with %s", self.arena, self.start.slot, frame.get("code"))
        if self.outbox is not None:
            self.outbox.send(frame, run.secrets)

    async def stream_opened(self, run: StreamRun) -> None:
        assert run.run_id is not None
        await database_sync_to_async(services.arena_answer_opened)(
            answer_id=self.start.answer, run_id=run.run_id, conversation_id=run.conversation_id
        )
        if self.outbox is not None:
            await desk_for(self.layer, arena_streams_group(self.arena)).add(self.outbox)
            self.registered = True

    async def stream_closed(self, run: StreamRun) -> None:
        if self.outbox is not None and self.registered:
            await desk_for(self.layer, arena_streams_group(self.arena)).remove(self.outbox)


class ArenaRound:
    """One prompt's streams, one per slot, run as tasks of this process until each has ended."""

    def __init__(self, layer: Any, plan: services.Round, *, user: Any) -> None:
        self.layer = layer
        self.plan = plan
        self.user = user
        self.runs: list[tuple[StreamRun, ArenaSlot]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        """Build every slot's request (the one request builder, ``parse_start``) and start them all."""
        plan = self.plan
        for start in plan.slots:
            content = {
                "type": "chat.start",
                "stream": slot_stream(plan.position, start.slot),
                "mode": "chat",
                "model": start.model,
                "system": start.system,
                "params": start.params,
                "extra": start.extra,
                "messages": [{"role": "user", "content": plan.text}],
                "conversation": start.conversation,
            }
            slot = ArenaSlot(self.layer, arena=plan.arena, position=plan.position, start=start)
            run = StreamRun(
                parse_start(content),
                user=self.user,
                workspace_id=plan.workspace,
                hooks=slot,
                client_factory=upstream_client,
                server_key=settings.FIREWORKS_API_KEY,
            )
            slot.bind(run)
            self.runs.append((run, slot))
        self.tasks = [
            asyncio.create_task(self._slot(run, slot), name=f"arena-{run.stream}") for run, slot in self.runs
        ]
        ROUNDS[plan.arena] = self
        self.task = asyncio.create_task(self._all(), name=f"arena-round-{plan.arena}")

    async def _slot(self, run: StreamRun, slot: ArenaSlot) -> None:
        try:
            await run()
        finally:
            await self._finish(run, slot)

    async def _finish(self, run: StreamRun, slot: ArenaSlot) -> None:
        """Record the slot's end (and whether it named itself), tell the viewers, close its outbox."""
        status = slot.status or "stopped"
        output = run.record.output()
        text = output[0].get("content") or "" if output else ""
        try:
            prompt_status = await database_sync_to_async(services.arena_answer_finish)(
                answer_id=slot.start.answer, status=status, text=text if isinstance(text, str) else ""
            )
        except Exception:
            logger.exception("Arena %s: saving the end of slot %s failed", self.plan.arena, slot.start.slot)
            prompt_status = None
        if slot.outbox is not None:
            frame = {
                "type": "arena.slot",
                "prompt": self.plan.position,
                "slot": slot.start.slot,
                "status": status,
            }
            slot.outbox.put("arena.slot", frame)
            await slot.outbox.aclose()
        if prompt_status == "voting":
            await self.announce()

    async def announce(self) -> None:
        """Tell every viewer the round's new status."""
        try:
            frame = await database_sync_to_async(selectors.prompt_frame)(
                arena_id=self.plan.arena, position=self.plan.position
            )
            await publish(self.layer, self.plan.arena, frame)
        except Exception:
            logger.exception("Arena %s: announcing prompt %s failed", self.plan.arena, self.plan.position)

    async def _all(self) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(), name=f"arena-heartbeat-{self.plan.arena}")
        try:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        finally:
            heartbeat.cancel()
            if ROUNDS.get(self.plan.arena) is self:
                del ROUNDS[self.plan.arena]

    async def _heartbeat(self) -> None:
        """Say this process still runs the round, so that no other one marks it interrupted
        (``services.arena_interrupt_orphans``)."""
        while True:
            await asyncio.sleep(liveness.HEARTBEAT_SECONDS)
            try:
                await database_sync_to_async(services.arena_heartbeat)(
                    arena_id=self.plan.arena, position=self.plan.position
                )
            except Exception:
                logger.exception("Arena %s: the round's heartbeat was not saved", self.plan.arena)

    def stop(self) -> None:
        """Stop every slot still streaming (each saves its partial answer as stopped)."""
        for task in self.tasks:
            if not task.done():
                task.cancel()


# This process's running rounds, by arena id.
ROUNDS: dict[int, ArenaRound] = {}


def _arena_id(content: dict[str, Any]) -> int:
    value = content.get("arena")
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameError("invalid_frame", "'arena' must be an arena id (a number).")
    return value


def _position(content: dict[str, Any]) -> int:
    value = content.get("prompt")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FrameError(
            "invalid_frame", "'prompt' must be a prompt's place in the queue (0, 1, …).", param="prompt"
        )
    return value


class ArenaConsumer(FrameConsumer):
    """``/ws/arena/``: the stage (a signed-in presenter, ``arena.join {arena}``) and the audience's phones
    (anyone with the link, ``arena.join {token}``): proxy/PROTOCOL.md, "The arena"."""

    unknown_type_hint = " (this socket takes arena frames)"

    async def connect(self) -> None:
        self.closed = False
        self.arena_id: int | None = None
        self.token: str | None = None
        self.presenter = False
        self.voter = voter_token(self.scope.get("cookies") or {})
        await self.accept()

    async def disconnect(self, code: int) -> None:
        self.closed = True
        if self.arena_id is not None and self.channel_layer is not None:
            await hub_for(self.channel_layer, arena_group(self.arena_id)).remove(self)

    def handlers(self) -> dict[str, Handler]:
        return {
            "arena.join": self.join,
            "arena.send": self.send_prompt,
            "arena.stop": self.stop,
            "arena.close": self.close_voting,
            "arena.reveal": self.reveal,
            "arena.vote": self.vote,
        }

    # --- joining ----------------------------------------------------------------------------------

    async def join(self, content: dict[str, Any]) -> None:
        """Join an arena as its presenter (``arena``) or as the audience (``token``): its state, then the
        live frames and a snapshot of any answer streaming now."""
        if self.channel_layer is None:
            raise FrameError("unavailable", "The arena needs a channel layer.")
        token = content.get("token")
        user = self.scope.get("user")
        try:
            if token is not None:
                if not isinstance(token, str):
                    raise FrameError("invalid_frame", "'token' must be the arena link's token.")
                arena = await database_sync_to_async(selectors.arena_for_link)(token=token)
                presenter = False
            else:
                arena = await database_sync_to_async(selectors.arena_get_for_user)(
                    user=user, arena_id=_arena_id(content), action="run"
                )
                presenter = True
        except ObjectDoesNotExist:
            raise FrameError("not_found", "No such arena, or its link was revoked.", param="arena") from None
        except PermissionDenied as exc:
            raise FrameError("forbidden", str(exc), param="arena") from None
        if self.arena_id is not None and self.arena_id != arena.pk:
            raise FrameError("invalid_frame", "This socket has joined another arena; open a new one.")
        self.token, self.presenter = (token, presenter)
        hub = hub_for(self.channel_layer, arena_group(arena.pk))
        if self.arena_id is None:
            self.arena_id = arena.pk
            await hub.add(self)
        voter = services.voter_id(self.voter) if self.voter and not presenter else None
        state = await database_sync_to_async(selectors.arena_state)(arena, presenter=presenter, voter=voter)
        await self.send_frame(state)
        await self.channel_layer.group_send(
            arena_streams_group(arena.pk),
            {"type": "snapshot.request", "reply_to": hub.channel, "to": self.channel_name},
        )

    def _presenting(self) -> int:
        if self.arena_id is None or not self.presenter:
            raise FrameError("forbidden", "Only the arena's presenter may do this.")
        return self.arena_id

    # --- the presenter ----------------------------------------------------------------------------

    async def send_prompt(self, content: dict[str, Any]) -> None:
        """Send a queued prompt to every configuration at once (each slot shuffled on the server)."""
        arena_id = self._presenting()
        position = _position(content)
        user = self.scope["user"]
        try:
            plan = await database_sync_to_async(services.arena_prompt_send)(
                user=user, arena_id=arena_id, position=position
            )
        except services.ArenaError as exc:
            raise FrameError("conflict", exc.text, param=exc.field) from None
        round_ = ArenaRound(self.channel_layer, plan, user=user)
        frame = await database_sync_to_async(selectors.prompt_frame)(arena_id=arena_id, position=position)
        await publish(self.channel_layer, arena_id, frame)
        round_.begin()

    async def stop(self, content: dict[str, Any]) -> None:
        """Stop the answers streaming now (on this process: the one the round was sent from)."""
        arena_id = self._presenting()
        running = ROUNDS.get(arena_id)
        if running is None:
            raise FrameError("not_found", "No answers of this arena are streaming from this server.")
        running.stop()

    async def close_voting(self, content: dict[str, Any]) -> None:
        """Close a round's voting; every viewer then sees the tally (and any void)."""
        await self._step(services.arena_prompt_close, content)

    async def reveal(self, content: dict[str, Any]) -> None:
        """Reveal which configuration each slot was."""
        await self._step(services.arena_prompt_reveal, content)

    async def _step(self, service: Any, content: dict[str, Any]) -> None:
        arena_id = self._presenting()
        position = _position(content)
        try:
            await database_sync_to_async(service)(
                user=self.scope["user"], arena_id=arena_id, position=position
            )
        except services.ArenaError as exc:
            raise FrameError("conflict", exc.text, param=exc.field) from None
        frame = await database_sync_to_async(selectors.prompt_frame)(arena_id=arena_id, position=position)
        await publish(self.channel_layer, arena_id, frame)

    # --- the audience -----------------------------------------------------------------------------

    async def vote(self, content: dict[str, Any]) -> None:
        """A viewer's vote (once per prompt: a second one replaces the first), rate-limited per viewer."""
        if self.arena_id is None or self.token is None:
            raise FrameError("forbidden", "Join the arena through its link to vote.")
        if self.voter is None:
            raise FrameError(
                "forbidden", "Open the arena's link again to vote (this browser has no voter cookie)."
            )
        position = _position(content)
        voter = services.voter_id(self.voter)
        wait = await database_sync_to_async(throttle.wait_seconds)(VOTE_RULE, voter)
        if wait:
            raise FrameError("rate_limited", f"Too many votes from this phone; try again in {wait} seconds.")
        await database_sync_to_async(throttle.hit)(VOTE_RULE, voter)
        try:
            _, counts = await database_sync_to_async(services.arena_vote)(
                token=self.token, voter=voter, position=position, choice=content.get("choice")
            )
        except Arena.DoesNotExist:
            raise FrameError("not_found", "This arena's link was revoked.", param="arena") from None
        except services.ArenaError as exc:
            raise FrameError("conflict", exc.text, param=exc.field) from None
        await self.send_frame({"type": "arena.voted", "prompt": position, "choice": content["choice"]})
        await publish(
            self.channel_layer, self.arena_id, {"type": "arena.tally", "prompt": position, "counts": counts}
        )

    # --- from the hub -----------------------------------------------------------------------------

    async def watch_frame(self, event: dict[str, Any]) -> None:
        """An arena frame from this process's hub: to the browser as it is (the tally to presenters only)."""
        if event.get("kind") in PRESENTER_ONLY and not self.presenter:
            return
        await self.send_text(event["text"])
