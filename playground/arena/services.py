"""The arena's writes, one transaction each: create an arena, send a prompt (the shuffle is decided
here, on the server), record each answer's run and end, take a vote, close the voting, reveal."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from playground import liveness
from playground.arena import rules
from playground.arena.models import Arena, ArenaAnswer, ArenaConfig, ArenaPrompt, ArenaVote, PromptStatus
from playground.arena.selectors import VOTABLE, arena_for_link, arena_get_for_user, prompt_counts
from playground.models import Preset, Run, Workspace
from playground.params import ParamError, validate
from playground.permissions import can
from playground.selectors.presets import preset_get_for_user
from playground.selectors.workspaces import role_of

MAX_PROMPT_CHARS = 4000
MAX_TITLE = 200


class ArenaError(ValidationError):
    """Bad input or a step out of turn, with the field it concerns and a message for the user."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.text = message


def _config_row(user: Any, index: int, raw: Any) -> dict[str, Any]:
    where = f"configs[{index}]"
    if not isinstance(raw, dict):
        raise ArenaError(where, f"Configuration {index + 1} must be an object.")
    preset: Preset | None = None
    if raw.get("preset") not in (None, ""):
        try:
            preset = preset_get_for_user(user=user, preset_id=int(raw["preset"]))
        except (Preset.DoesNotExist, TypeError, ValueError):
            raise ArenaError(f"{where}.preset", f"Configuration {index + 1}: no such preset.") from None
    model = raw.get("model") or (preset.model if preset else "")
    if not isinstance(model, str) or not model.strip() or len(model) > 300:
        raise ArenaError(f"{where}.model", f"Configuration {index + 1} needs a model (or a deployment's id).")
    params = raw.get("params", preset.params if preset else {})
    extra = raw.get("extra", preset.extra if preset else {})
    if not isinstance(params, dict) or not isinstance(extra, dict):
        raise ArenaError(f"{where}.params", f"Configuration {index + 1}: parameters must be an object.")
    try:
        params = validate(params, mode="chat")
    except ParamError as exc:
        raise ArenaError(f"{where}.params", f"Configuration {index + 1}: {exc}") from None
    system = raw.get("system", preset.system_prompt if preset else "") or ""
    if not isinstance(system, str):
        raise ArenaError(f"{where}.system", f"Configuration {index + 1}: the system prompt must be text.")
    label = raw.get("label") or (preset.name if preset else model.strip().rsplit("/", 1)[-1])
    return {
        "position": index,
        "label": str(label)[:120],
        "model": model.strip(),
        "params": params,
        "extra": extra,
        "system_prompt": system,
        "preset": preset,
    }


@transaction.atomic
def arena_create(
    *, user: Any, workspace_id: int, title: str, configs: Any, prompts: Any, system_prompt: str = ""
) -> Arena:
    """A new arena in the workspace (needs "create" there): 2 to 4 configurations and 1 to 50 prompts, every
    parameter checked against the registry."""
    role = role_of(user=user, workspace_id=workspace_id)
    if role is None:
        raise Workspace.DoesNotExist("No such workspace.")
    if not can(role, "create"):
        raise PermissionDenied("Your role in this workspace does not allow creating an arena.")
    if not isinstance(title, str) or not title.strip():
        raise ArenaError("title", "Give the arena a title.")
    if not isinstance(configs, list) or not rules.MIN_CONFIGS <= len(configs) <= rules.MAX_CONFIGS:
        raise ArenaError(
            "configs", f"An arena has {rules.MIN_CONFIGS} to {rules.MAX_CONFIGS} configurations."
        )
    if not isinstance(prompts, list):
        raise ArenaError("prompts", "The prompt queue must be a list.")
    texts = [p.strip() for p in prompts if isinstance(p, str) and p.strip()]
    if not texts or len(texts) > rules.MAX_PROMPTS:
        raise ArenaError("prompts", f"The queue needs 1 to {rules.MAX_PROMPTS} prompts.")
    if any(len(t) > MAX_PROMPT_CHARS for t in texts):
        raise ArenaError("prompts", f"A prompt is at most {MAX_PROMPT_CHARS} characters.")
    if not isinstance(system_prompt, str):
        raise ArenaError("system", "The system prompt must be text.")
    rows = [_config_row(user, i, raw) for i, raw in enumerate(configs)]
    arena = Arena.objects.create(
        workspace_id=workspace_id,
        owner=user,
        title=title.strip()[:MAX_TITLE],
        system_prompt=system_prompt,
        share_token=secrets.token_urlsafe(24),
    )
    ArenaConfig.objects.bulk_create(ArenaConfig(arena=arena, **row) for row in rows)
    ArenaPrompt.objects.bulk_create(ArenaPrompt(arena=arena, position=i, text=t) for i, t in enumerate(texts))
    return arena


@dataclass(frozen=True)
class SlotStart:
    """What the socket needs to start one slot's stream (it stays on the server)."""

    answer: int
    slot: str
    model: str
    params: dict[str, Any]
    extra: dict[str, Any]
    system: str
    conversation: int | None


@dataclass(frozen=True)
class Round:
    """A prompt just sent: its place, text, workspace and the slots to stream."""

    arena: int
    workspace: int
    position: int
    text: str
    slots: list[SlotStart]


def _prompt(arena: Arena, position: Any, *, for_update: bool = True) -> ArenaPrompt:
    if isinstance(position, bool) or not isinstance(position, int):
        raise ArenaError("prompt", "'prompt' must be a prompt's number in the queue.")
    queryset = ArenaPrompt.objects.select_for_update() if for_update else ArenaPrompt.objects
    try:
        return queryset.get(arena=arena, position=position)
    except ArenaPrompt.DoesNotExist:
        raise ArenaError("prompt", f"The queue has no prompt {position + 1}.") from None


@transaction.atomic
def arena_prompt_send(*, user: Any, arena_id: int, position: int) -> Round:
    """Send a queued prompt: its round opens, each configuration gets a slot letter by a fresh shuffle,
    and one answer row per slot waits for its run. One round streams at a time. An interrupted prompt
    is sent again to the slots whose answer had not finished (same letters; finished answers and votes
    kept). This process is the round's runner (playground/liveness.py)."""
    arena = arena_get_for_user(user=user, arena_id=arena_id, action="run", for_update=True)
    _interrupt(arena.prompts.filter(status=PromptStatus.STREAMING))
    prompt = _prompt(arena, position)
    if prompt.status not in (PromptStatus.QUEUED, PromptStatus.INTERRUPTED):
        raise ArenaError("prompt", f"Prompt {position + 1} was sent already.")
    if arena.prompts.filter(status=PromptStatus.STREAMING).exists():
        raise ArenaError("prompt", "A prompt is still streaming: wait for its answers, or stop them.")
    configs = {c.pk: c for c in arena.configs.all()}
    now = timezone.now()
    if prompt.status == PromptStatus.INTERRUPTED:
        answers = list(prompt.answers.exclude(status="done"))
        ArenaAnswer.objects.filter(pk__in=[a.pk for a in answers]).update(status="streaming", run=None)
    else:
        mapping = rules.shuffle(list(configs))
        prompt.started_at = now
        answers = ArenaAnswer.objects.bulk_create(
            ArenaAnswer(prompt=prompt, config_id=cid, slot=slot) for slot, cid in mapping.items()
        )
    prompt.status = PromptStatus.STREAMING
    prompt.runner = liveness.RUNNER_ID
    prompt.heartbeat_at = now
    prompt.save(update_fields=["status", "started_at", "runner", "heartbeat_at"])
    slots = []
    for answer in answers:
        config = configs[answer.config_id]
        slots.append(
            SlotStart(
                answer=answer.pk,
                slot=answer.slot,
                model=config.model,
                params=dict(config.params),
                extra=dict(config.extra),
                system=config.system_prompt or arena.system_prompt,
                conversation=config.conversation_id,
            )
        )
    return Round(arena.pk, arena.workspace_id, prompt.position, prompt.text, slots)


def arena_heartbeat(*, arena_id: int, position: int) -> None:
    """The round's process is alive (every liveness.HEARTBEAT_SECONDS while it streams)."""
    ArenaPrompt.objects.filter(
        arena_id=arena_id, position=position, status=PromptStatus.STREAMING, runner=liveness.RUNNER_ID
    ).update(heartbeat_at=timezone.now())


def _interrupt(prompts: Any) -> list[ArenaPrompt]:
    """Mark interrupted those of these streaming prompts whose runner is gone: answers that had not
    ended are stopped (their runs too), finished ones kept. Returns the prompts marked."""
    now = timezone.now()
    gone = [
        p
        for p in prompts.select_for_update().filter(status=PromptStatus.STREAMING)
        if liveness.is_gone(p.runner, p.heartbeat_at, now=now)
    ]
    if not gone:
        return []
    answers = ArenaAnswer.objects.filter(prompt__in=gone, status="streaming")
    Run.objects.filter(pk__in=answers.exclude(run=None).values("run_id"), status=Run.Status.STREAMING).update(
        status=Run.Status.STOPPED, finished_at=now
    )
    answers.update(status="stopped")
    ArenaPrompt.objects.filter(pk__in=[p.pk for p in gone]).update(
        status=PromptStatus.INTERRUPTED, runner="", heartbeat_at=None
    )
    return gone


@transaction.atomic
def arena_interrupt_orphans(*, arena_id: int | None = None) -> int:
    """Mark interrupted every prompt left streaming by a server process that is gone (of one arena, or
    of all when a server starts), so the presenter can send it again. Returns how many."""
    prompts = ArenaPrompt.objects.filter(status=PromptStatus.STREAMING)
    if arena_id is not None:
        prompts = prompts.filter(arena_id=arena_id)
    return len(_interrupt(prompts))


@transaction.atomic
def arena_answer_opened(*, answer_id: int, run_id: int, conversation_id: int | None) -> None:
    """A slot's run is open: remember it, and the conversation its configuration's answers go to."""
    answer = ArenaAnswer.objects.select_related("config").get(pk=answer_id)
    ArenaAnswer.objects.filter(pk=answer_id).update(run_id=run_id)
    if conversation_id is not None and answer.config.conversation_id is None:
        ArenaConfig.objects.filter(pk=answer.config_id).update(conversation_id=conversation_id)


@transaction.atomic
def arena_answer_finish(*, answer_id: int, status: str, text: str) -> str:
    """A slot's stream ended: keep its status and whether the answer named its own model; once every
    slot has ended the prompt's round is open for votes. Returns the prompt's status."""
    answer = ArenaAnswer.objects.select_related("config").get(pk=answer_id)
    prompt = ArenaPrompt.objects.select_for_update().get(pk=answer.prompt_id)
    answer.status = status if status in ("done", "stopped", "error") else "error"
    answer.self_named = rules.names_itself(text, answer.config.model)
    answer.save(update_fields=["status", "self_named"])
    running = prompt.answers.filter(status="streaming").exists()
    if not running and prompt.status == PromptStatus.STREAMING:
        prompt.status = PromptStatus.VOTING
        prompt.runner = ""
        prompt.save(update_fields=["status", "runner"])
    return str(prompt.status)


def voter_id(token: str) -> str:
    """What is stored of a viewer's signed voter token: a hash of it."""
    return hashlib.sha256(token.encode()).hexdigest()[:40]


@transaction.atomic
def arena_vote(*, token: str, voter: str, position: int, choice: Any) -> tuple[ArenaPrompt, dict[str, int]]:
    """One audience member's vote on a prompt while its round is open; a second vote replaces the first.
    Returns the prompt and its tally."""
    arena = arena_for_link(token=token)
    prompt = _prompt(arena, position)
    slots = list(prompt.answers.values_list("slot", flat=True))
    if prompt.status not in VOTABLE:
        word = {
            PromptStatus.QUEUED: "has not started",
            PromptStatus.INTERRUPTED: "waits to be sent again (its server stopped)",
        }.get(PromptStatus(prompt.status), "is closed")
        raise ArenaError("prompt", f"Voting on prompt {position + 1} {word}.")
    if choice not in rules.choices_for(slots):
        raise ArenaError("choice", f"A vote is one of {', '.join(rules.choices_for(slots))}.")
    try:
        with transaction.atomic():
            ArenaVote.objects.update_or_create(prompt=prompt, voter=voter, defaults={"choice": choice})
    except IntegrityError:  # the same viewer's two sockets voted at once: the other one's write stands
        ArenaVote.objects.filter(prompt=prompt, voter=voter).update(choice=choice)
    return prompt, prompt_counts(prompt, slots)


@transaction.atomic
def arena_prompt_close(*, user: Any, arena_id: int, position: int) -> ArenaPrompt:
    """Close a round's voting (its answers must have ended)."""
    arena = arena_get_for_user(user=user, arena_id=arena_id, action="run")
    prompt = _prompt(arena, position)
    if prompt.status == PromptStatus.STREAMING:
        raise ArenaError("prompt", "The answers are still streaming: wait for them, or stop them first.")
    if prompt.status != PromptStatus.VOTING:
        raise ArenaError("prompt", f"Prompt {position + 1} is not open for votes.")
    prompt.status = PromptStatus.CLOSED
    prompt.closed_at = timezone.now()
    prompt.save(update_fields=["status", "closed_at"])
    return prompt


@transaction.atomic
def arena_prompt_reveal(*, user: Any, arena_id: int, position: int) -> ArenaPrompt:
    """Reveal which configuration each slot of a closed round was."""
    arena = arena_get_for_user(user=user, arena_id=arena_id, action="run")
    prompt = _prompt(arena, position)
    if prompt.status != PromptStatus.CLOSED:
        raise ArenaError("prompt", "Close the voting before the reveal.")
    prompt.status = PromptStatus.REVEALED
    prompt.revealed_at = timezone.now()
    prompt.save(update_fields=["status", "revealed_at"])
    return prompt


@transaction.atomic
def arena_link_revoke(*, user: Any, arena_id: int) -> Arena:
    """Turn the audience link off at once."""
    arena = arena_get_for_user(user=user, arena_id=arena_id, action="share", for_update=True)
    arena.share_revoked_at = timezone.now()
    arena.save(update_fields=["share_revoked_at"])
    return arena
