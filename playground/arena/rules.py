"""The arena's rules, pure Python (no queries, no I/O): the shuffle, the vote choices, the self-naming
check, the results with their confidence intervals and a slot's chat.start frame. The services and
selectors call these; the tests drive them directly."""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from playground.prompts.template import cell_start

SLOTS = "ABCD"
MIN_CONFIGS, MAX_CONFIGS = 2, 4
MAX_PROMPTS = 50
TIE, BAD = "tie", "bad"
# z for a 95 % interval.
Z95 = 1.959963984540054

_SYSTEM_RANDOM = random.SystemRandom()


def slots_for(count: int) -> list[str]:
    """The letters shown for ``count`` configurations: "A", "B", …"""
    if not MIN_CONFIGS <= count <= MAX_CONFIGS:
        raise ValueError(f"An arena has {MIN_CONFIGS} to {MAX_CONFIGS} configurations.")
    return list(SLOTS[:count])


def shuffle(config_ids: Sequence[int], rng: random.Random | None = None) -> dict[str, int]:
    """Which configuration each slot shows for one prompt: a fresh uniform shuffle per prompt, from the
    system's randomness unless ``rng`` is given (tests). Returns slot letter → configuration id."""
    order = list(config_ids)
    (rng or _SYSTEM_RANDOM).shuffle(order)
    return dict(zip(slots_for(len(order)), order, strict=True))


def choices_for(slots: Iterable[str]) -> list[str]:
    """What a vote on a prompt may say: one of its slots, a tie, or "both bad" (all bad)."""
    return [*slots, TIE, BAD]


def self_names(model: str) -> list[str]:
    """The names a configuration would give itself by: its model's name (the last part of the id, with
    a deployment's ``#…`` dropped) and its family (the leading letters of that name, e.g. "llama",
    "qwen", "deepseek"; at least 3 letters)."""
    name = model.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
    names = [name] if name else []
    family = re.match(r"[a-z]{3,}", name)
    if family and family.group(0) not in names:
        names.append(family.group(0))
    return names


def names_itself(text: str, model: str) -> list[str]:
    """The names of ``model`` that ``text`` says, as whole words, in any case (empty: none)."""
    lowered = text.lower()
    return [n for n in self_names(model) if re.search(rf"(?<![a-z0-9]){re.escape(n)}(?![a-z0-9])", lowered)]


@dataclass(frozen=True)
class Interval:
    """A win rate with its 95 % Wilson score interval."""

    wins: int
    n: int
    rate: float | None
    low: float | None
    high: float | None


def wilson(wins: int, n: int, z: float = Z95) -> Interval:
    """The Wilson score interval of ``wins`` out of ``n`` (None figures when n is 0)."""
    if n <= 0:
        return Interval(wins, n, None, None, None)
    if not 0 <= wins <= n:
        raise ValueError("wins must be between 0 and n")
    p = wins / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return Interval(wins, n, p, max(0.0, centre - spread), min(1.0, centre + spread))


@dataclass(frozen=True)
class Round:
    """One revealed prompt for the results: its slot → configuration id, the votes' choices, and
    whether it is void (an answer named itself)."""

    prompt: int
    mapping: dict[str, int]
    votes: list[str]
    void: bool


def tally(choices: Iterable[str], slots: Iterable[str]) -> dict[str, int]:
    """Votes per choice (every choice present, zeros included)."""
    counts = dict.fromkeys(choices_for(slots), 0)
    for choice in choices:
        if choice in counts:
            counts[choice] += 1
    return counts


def results(rounds: Iterable[Round], config_ids: Sequence[int]) -> dict[str, object]:
    """Win rate per configuration, per prompt and overall, with 95 % Wilson intervals.

    A configuration's win rate on a prompt is the votes for its slot over every valid vote on that
    prompt (a tie and "both bad" count in the total and for nobody). A void prompt (an answer named
    itself) counts for nothing; its votes are reported as voided.
    """
    overall = {cid: [0, 0] for cid in config_ids}
    per_prompt = []
    for r in rounds:
        counts = tally(r.votes, r.mapping)
        valid = 0 if r.void else len([v for v in r.votes if v in counts])
        rows = {}
        for slot, cid in r.mapping.items():
            wins = 0 if r.void else counts[slot]
            rows[cid] = wilson(wins, valid)
            if cid in overall:
                overall[cid][0] += wins
                overall[cid][1] += valid
        per_prompt.append(
            {"prompt": r.prompt, "void": r.void, "votes": len(r.votes), "counts": counts, "configs": rows}
        )
    return {"overall": {cid: wilson(w, n) for cid, (w, n) in overall.items()}, "prompts": per_prompt}


def slot_chat_start(
    *,
    model: str,
    params: dict[str, Any],
    extra: dict[str, Any],
    system: str,
    template: dict[str, Any],
    text: str,
    stream: str,
) -> dict[str, Any]:
    """The chat.start frame a configuration gets for a queued prompt (``parse_start`` makes it the
    request): the prompt as the user message, or, for a prompt version, the version's messages with the
    prompt filling its variable (``template``, resolved by ``arena_create``)."""
    if template:
        config = {"model": model, "params": params, "extra": extra, "system": system}
        values = {**template["values"], template["variable"]: text}
        return cell_start(prompt=template, config=config, values=values, stream=stream)
    return {
        "type": "chat.start",
        "stream": stream,
        "mode": "chat",
        "model": model,
        "system": system,
        "params": params,
        "extra": extra,
        "messages": [{"role": "user", "content": text}],
    }
