"""The arena's pure rules: the shuffle, the vote choices, the self-naming check and the interval."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from playground.arena import rules


def test_the_shuffle_gives_every_configuration_one_slot_and_varies_per_prompt() -> None:
    rng = random.Random(7)
    seen = Counter()
    for _ in range(600):
        mapping = rules.shuffle([11, 22, 33], rng)
        assert sorted(mapping) == ["A", "B", "C"]
        assert sorted(mapping.values()) == [11, 22, 33]
        seen[mapping["A"]] += 1
    # Each configuration is "A" about a third of the time (uniform, not a fixed order).
    assert all(150 < seen[c] < 250 for c in (11, 22, 33)), seen


def test_the_system_shuffle_is_not_the_configuration_order_every_time() -> None:
    orders = {tuple(rules.shuffle([1, 2, 3, 4]).values()) for _ in range(60)}
    assert len(orders) > 5


@pytest.mark.parametrize("count", [1, 5])
def test_an_arena_has_two_to_four_slots(count: int) -> None:
    with pytest.raises(ValueError):
        rules.slots_for(count)


def test_vote_choices_are_the_slots_a_tie_and_both_bad() -> None:
    assert rules.choices_for(["A", "B"]) == ["A", "B", "tie", "bad"]
    assert rules.tally(["A", "B", "A", "tie", "zzz"], ["A", "B"]) == {"A": 2, "B": 1, "tie": 1, "bad": 0}


@pytest.mark.parametrize(
    ("model", "text", "named"),
    [
        ("accounts/fireworks/models/llama-v3p1-8b-instruct", "As LLaMA, I think so.", ["llama"]),
        (
            "accounts/fireworks/models/llama-v3p1-8b-instruct",
            "I am llama-v3p1-8b-instruct.",
            ["llama-v3p1-8b-instruct", "llama"],
        ),
        ("accounts/fireworks/models/qwen3-235b-a22b", "Qwen here.", ["qwen"]),
        (
            "accounts/me/deployedModels/deepseek-v3#accounts/me/deployments/abc",
            "DeepSeek says hi",
            ["deepseek"],
        ),
        # Not a word of its own: a llama farm's "llamas" is another word, "Qwenby" too.
        ("accounts/fireworks/models/llama-v3p1-8b-instruct", "Two llamas graze.", []),
        ("accounts/fireworks/models/qwen3-235b-a22b", "Qwenby is a name", []),
        ("accounts/fireworks/models/gpt-oss-120b", "No model here.", []),
    ],
)
def test_an_answer_that_names_its_model_or_family_is_caught(model: str, text: str, named: list[str]) -> None:
    assert rules.names_itself(text, model) == named


def test_a_family_needs_three_letters() -> None:
    assert rules.self_names("accounts/x/models/o1") == ["o1"]
    assert rules.self_names("accounts/fireworks/models/mixtral-8x7b") == ["mixtral-8x7b", "mixtral"]


def test_the_wilson_interval_matches_known_values() -> None:
    # 8 of 10: the 95 % Wilson interval is [0.4902, 0.9433] (Newcombe 1998, table I's method 3).
    i = rules.wilson(8, 10)
    assert i.rate == 0.8
    assert i.low == pytest.approx(0.4902, abs=1e-4)
    assert i.high == pytest.approx(0.9433, abs=1e-4)
    # 0 of 10 still has a width, and stays within [0, 1].
    zero = rules.wilson(0, 10)
    assert zero.low == 0.0
    assert zero.high == pytest.approx(0.2775, abs=1e-4)
    assert rules.wilson(0, 0).rate is None
    with pytest.raises(ValueError):
        rules.wilson(3, 2)


def test_results_count_ties_in_the_total_and_void_a_self_named_prompt() -> None:
    rounds = [
        rules.Round(0, {"A": 1, "B": 2}, ["A", "A", "B", "tie"], void=False),
        rules.Round(1, {"A": 2, "B": 1}, ["A", "A", "A"], void=True),
        rules.Round(2, {"A": 2, "B": 1}, ["B", "bad"], void=False),
    ]
    out = rules.results(rounds, [1, 2])
    overall = out["overall"]
    assert isinstance(overall, dict)
    # Config 1: 2 of 4 on prompt 0, nothing from the void prompt 1, 1 of 2 on prompt 2.
    assert (overall[1].wins, overall[1].n) == (3, 6)
    assert (overall[2].wins, overall[2].n) == (1, 6)
    prompts = out["prompts"]
    assert isinstance(prompts, list)
    assert prompts[1]["void"] is True
    assert prompts[1]["configs"][2].n == 0
    assert prompts[0]["counts"] == {"A": 2, "B": 1, "tie": 1, "bad": 0}
