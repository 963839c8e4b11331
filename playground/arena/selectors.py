"""The arena's reads, permission-checked: an arena for its presenter (a member) or for its audience (the
link), its state as either sees it, and its results. What the audience reads never holds a model name,
a parameter or a run id of an unrevealed prompt (``arena_state``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from playground.arena import rules
from playground.arena.models import Arena, ArenaAnswer, ArenaPrompt, ArenaVote, PromptStatus
from playground.models import Run
from playground.permissions import Facts, can
from playground.selectors.workspaces import role_of

CLOSED_OR_LATER = (PromptStatus.CLOSED, PromptStatus.REVEALED)
VOTABLE = (PromptStatus.STREAMING, PromptStatus.VOTING)


def arena_get_for_user(*, user: Any, arena_id: int, action: str = "view", for_update: bool = False) -> Arena:
    """The arena, if the user may do ``action`` on it (an arena is its owner's, as a private
    conversation); Arena.DoesNotExist when they may not see it, PermissionDenied when they may see but
    not act."""
    if not getattr(user, "is_authenticated", False):
        raise Arena.DoesNotExist("No such arena.")
    queryset = Arena.objects.select_for_update() if for_update else Arena.objects.all()
    arena = queryset.get(pk=arena_id)
    role = role_of(user=user, workspace_id=arena.workspace_id)
    facts = Facts(mine=arena.owner_id == user.pk, signed_in=True)
    if not can(role, "view", facts):
        raise Arena.DoesNotExist("No such arena.")
    if not can(role, action, facts):
        raise PermissionDenied(f"Your role in this workspace does not allow '{action}' on this arena.")
    return arena


def arena_list_for_user(*, user: Any, workspace_id: int | None) -> QuerySet[Arena]:
    """The user's arenas in the workspace, newest first."""
    if not getattr(user, "is_authenticated", False) or workspace_id is None:
        return Arena.objects.none()
    return Arena.objects.filter(owner=user, workspace_id=workspace_id)


def arena_for_link(*, token: str) -> Arena:
    """The arena of an audience link; Arena.DoesNotExist for an unknown or revoked one."""
    if not isinstance(token, str) or not token or len(token) > 64:
        raise Arena.DoesNotExist("No such arena.")
    return Arena.objects.get(share_token=token, share_revoked_at__isnull=True)


def answer_text(run: Run | None) -> str:
    """An answer's saved text (its first choice's content)."""
    output = run.output if run is not None else None
    if isinstance(output, list) and output and isinstance(output[0], dict):
        content = output[0].get("content")
        return content if isinstance(content, str) else ""
    return ""


def prompt_counts(prompt: ArenaPrompt, slots: list[str]) -> dict[str, int]:
    """The votes on a prompt per choice."""
    return rules.tally(ArenaVote.objects.filter(prompt=prompt).values_list("choice", flat=True), slots)


def _prompt_view(prompt: ArenaPrompt, *, presenter: bool, voter: str | None) -> dict[str, Any]:
    """A prompt as the stage or a phone shows it. Before the reveal: slots, their status and (once
    ended) their text, never which configuration a slot is."""
    answers = list(prompt.answers.select_related("run", "config"))
    slots = [a.slot for a in answers]
    closed = prompt.status in CLOSED_OR_LATER
    view: dict[str, Any] = {
        "position": prompt.position,
        "text": prompt.text,
        "status": prompt.status,
        "slots": slots,
        "answers": {
            a.slot: {"status": a.status, "text": answer_text(a.run) if a.status != "streaming" else ""}
            for a in answers
        },
    }
    if presenter or closed:
        view["tally"] = prompt_counts(prompt, slots)
    if closed:
        flagged = [a.slot for a in answers if a.self_named]
        view["void"] = bool(flagged)
        view["flagged"] = flagged
    if voter is not None:
        view["my_vote"] = (
            ArenaVote.objects.filter(prompt=prompt, voter=voter).values_list("choice", flat=True).first()
        )
    if prompt.status == PromptStatus.REVEALED:
        view["reveal"] = reveal_of(answers)
    return view


def reveal_of(answers: list[ArenaAnswer]) -> dict[str, Any]:
    """Which configuration each slot was (only for a revealed prompt), with what it said of itself."""
    return {
        a.slot: {
            "label": a.config.label,
            "model": a.config.model,
            "config": a.config.position,
            "self_named": list(a.self_named),
        }
        for a in answers
    }


def arena_probe_configs(arena: Arena) -> list[dict[str, Any]]:
    """The configurations as the presenter's readiness check sends them (panels/readiness.js
    ``probeConfig``): each one's label, model, parameters and system prompt, and the queue's first prompt
    as the message. For the presenter's stage only: it names every configuration."""
    first = arena.prompts.order_by("position").values_list("text", flat=True).first() or "Reply with OK."
    return [
        {
            "label": f"{c.position + 1} · {c.label}",
            "model": c.model,
            "params": c.params,
            "extra": c.extra or None,
            "system": c.system_prompt or arena.system_prompt,
            "messages": [{"role": "user", "content": first}],
        }
        for c in arena.configs.all()
    ]


def arena_state(arena: Arena, *, presenter: bool, voter: str | None = None) -> dict[str, Any]:
    """What a joining socket is told: the arena's title, its prompt count and the current prompt (the
    last one sent). The presenter also gets the queue and the live tally; the audience gets its vote."""
    prompts = list(arena.prompts.all())
    sent = [p for p in prompts if p.status != PromptStatus.QUEUED]
    current = sent[-1] if sent else None
    state: dict[str, Any] = {
        "type": "arena.state",
        "arena": arena.pk,
        "title": arena.title,
        "role": "presenter" if presenter else "audience",
        "prompts": len(prompts),
        "current": _prompt_view(current, presenter=presenter, voter=voter) if current else None,
    }
    if presenter:
        state["queue"] = [{"position": p.position, "text": p.text, "status": p.status} for p in prompts]
        state["configs"] = arena.configs.count()
    return state


def arena_results(arena: Arena) -> dict[str, Any]:
    """Win rates per configuration, overall and per revealed prompt, with 95 % Wilson intervals
    (``rules.results``), and each revealed prompt's answers; unrevealed prompts are left out."""
    configs = list(arena.configs.all())
    prompts = list(
        arena.prompts.filter(status=PromptStatus.REVEALED).prefetch_related("answers__run", "answers__config")
    )
    votes: dict[int, list[str]] = {p.pk: [] for p in prompts}
    for prompt_id, choice in ArenaVote.objects.filter(prompt__in=prompts).values_list("prompt_id", "choice"):
        votes[prompt_id].append(choice)
    rounds = []
    for p in prompts:
        answers = list(p.answers.all())
        mapping = {a.slot: a.config_id for a in answers}
        rounds.append(rules.Round(p.position, mapping, votes[p.pk], void=any(a.self_named for a in answers)))
    computed = rules.results(rounds, [c.pk for c in configs])

    def interval(i: rules.Interval) -> dict[str, Any]:
        return {"wins": i.wins, "n": i.n, "rate": i.rate, "low": i.low, "high": i.high}

    by_id = {c.pk: c for c in configs}
    prompt_rows = []
    for p, row in zip(prompts, computed["prompts"], strict=True):  # type: ignore[call-overload]
        answers = {a.slot: a for a in p.answers.all()}
        prompt_rows.append(
            {
                "position": p.position,
                "text": p.text,
                "void": row["void"],
                "votes": row["votes"],
                "counts": row["counts"],
                "answers": [
                    {
                        "slot": slot,
                        "config": by_id[a.config_id].position,
                        "label": by_id[a.config_id].label,
                        "model": by_id[a.config_id].model,
                        "status": a.status,
                        "self_named": list(a.self_named),
                        "text": answer_text(a.run),
                        # Why a failed answer failed, as the run saved it (never shown before the reveal).
                        "error": (a.run.error or {}).get("message") if a.run is not None else None,
                        **interval(row["configs"][a.config_id]),
                    }
                    for slot, a in sorted(answers.items())
                ],
            }
        )
    overall = computed["overall"]
    # Before the first reveal not even the list of models is shown (the audience reads these results).
    shown = configs if prompts else []
    return {
        "arena": arena.pk,
        "title": arena.title,
        "interval": "Wilson score, 95 %",
        "configs": [
            {
                "config": c.position,
                "label": c.label,
                "model": c.model,
                "params": c.params,
                **interval(overall[c.pk]),
            }  # type: ignore[index]
            for c in shown
        ],
        "prompts": prompt_rows,
        "unrevealed": arena.prompts.exclude(status=PromptStatus.REVEALED).count(),
    }


def prompt_frame(*, arena_id: int, position: int) -> dict[str, Any]:
    """The ``arena.prompt`` frame every viewer gets when a round changes status (as the audience sees
    it: the tally once voting has closed, which slot was which once revealed)."""
    prompt = ArenaPrompt.objects.get(arena_id=arena_id, position=position)
    return {"type": "arena.prompt", **_prompt_view(prompt, presenter=False, voter=None)}
