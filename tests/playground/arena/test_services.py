"""The arena's services and selectors: creating an arena, a round's steps in turn, votes, the void, and
the results as the database holds them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied

from playground.arena import selectors, services
from playground.arena.models import Arena, ArenaAnswer, ArenaVote, PromptStatus
from playground.models import Membership, Role, Workspace

pytestmark = pytest.mark.django_db

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DEEPSEEK = "accounts/fireworks/models/deepseek-v3"


@pytest.fixture
def alice() -> Any:
    return get_user_model().objects.create_user("alice")


def workspace_of(user: Any) -> int:
    return int(user.memberships.get().workspace_id)


def new_arena(user: Any, **more: Any) -> Arena:
    fields: dict[str, Any] = {
        "title": "T",
        "configs": [{"model": LLAMA, "params": {"temperature": 0.2}}, {"model": DEEPSEEK}],
        "prompts": ["one", "  ", "two"],
        **more,
    }
    return services.arena_create(user=user, workspace_id=workspace_of(user), **fields)


def test_an_arena_keeps_its_configurations_checked_and_its_queue_without_blank_lines(alice: Any) -> None:
    arena = new_arena(alice)
    assert [(c.position, c.model, c.params) for c in arena.configs.all()] == [
        (0, LLAMA, {"temperature": 0.2}),
        (1, DEEPSEEK, {}),
    ]
    assert [p.text for p in arena.prompts.all()] == ["one", "two"]
    assert len(arena.share_token) >= 32


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"configs": [{"model": LLAMA}]}, "configs", "2 to 4"),
        ({"configs": [{"model": LLAMA}] * 5}, "configs", "2 to 4"),
        (
            {"configs": [{"model": LLAMA, "params": {"temperature": 9}}, {"model": LLAMA}]},
            "configs[0].params",
            "temperature",
        ),
        ({"configs": [{"model": ""}, {"model": LLAMA}]}, "configs[0].model", "needs a model"),
        ({"prompts": [" "]}, "prompts", "1 to 50"),
        ({"title": " "}, "title", "title"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    alice: Any, fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(services.ArenaError) as caught:
        new_arena(alice, **fields)
    assert caught.value.field == field and words in caught.value.text
    assert not Arena.objects.exists()


def test_a_viewer_may_not_create_an_arena_and_a_stranger_may_not_run_one(alice: Any) -> None:
    bob = get_user_model().objects.create_user("bob")
    team = Workspace.objects.create(name="Team", slug="team")
    Membership.objects.create(workspace=team, user=bob, role=Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.arena_create(
            user=bob, workspace_id=team.pk, title="x", configs=[{"model": LLAMA}] * 2, prompts=["p"]
        )
    arena = new_arena(alice)
    with pytest.raises(Arena.DoesNotExist):
        services.arena_prompt_send(user=bob, arena_id=arena.pk, position=0)


def finish_all(arena: Arena, position: int, texts: dict[str, str] | None = None) -> None:
    for answer in ArenaAnswer.objects.filter(prompt__arena=arena, prompt__position=position):
        services.arena_answer_finish(
            answer_id=answer.pk, status="done", text=(texts or {}).get(answer.config.model, "ok")
        )


def test_a_round_goes_send_answers_vote_close_reveal_and_refuses_steps_out_of_turn(alice: Any) -> None:
    arena = new_arena(alice)
    plan = services.arena_prompt_send(user=alice, arena_id=arena.pk, position=0)
    assert sorted(s.slot for s in plan.slots) == ["A", "B"]
    assert {s.model for s in plan.slots} == {LLAMA, DEEPSEEK}
    with pytest.raises(services.ArenaError, match="sent already"):
        services.arena_prompt_send(user=alice, arena_id=arena.pk, position=0)
    with pytest.raises(services.ArenaError, match="still streaming"):
        services.arena_prompt_send(user=alice, arena_id=arena.pk, position=1)
    with pytest.raises(services.ArenaError, match="still streaming"):
        services.arena_prompt_close(user=alice, arena_id=arena.pk, position=0)
    finish_all(arena, 0)
    assert arena.prompts.get(position=0).status == PromptStatus.VOTING
    with pytest.raises(services.ArenaError, match="before the reveal"):
        services.arena_prompt_reveal(user=alice, arena_id=arena.pk, position=0)
    token = arena.share_token
    services.arena_vote(token=token, voter="v1", position=0, choice="A")
    _, counts = services.arena_vote(token=token, voter="v1", position=0, choice="tie")  # replaces
    assert counts == {"A": 0, "B": 0, "tie": 1, "bad": 0}
    assert ArenaVote.objects.count() == 1
    with pytest.raises(services.ArenaError) as caught:
        services.arena_vote(token=token, voter="v2", position=0, choice="C")
    assert caught.value.field == "choice"
    with pytest.raises(services.ArenaError, match="has not started"):
        services.arena_vote(token=token, voter="v2", position=1, choice="A")
    services.arena_prompt_close(user=alice, arena_id=arena.pk, position=0)
    with pytest.raises(services.ArenaError, match="closed"):
        services.arena_vote(token=token, voter="v2", position=0, choice="A")
    services.arena_prompt_reveal(user=alice, arena_id=arena.pk, position=0)
    arena.share_revoked_at = arena.created_at
    arena.save()
    with pytest.raises(Arena.DoesNotExist):
        services.arena_vote(token=token, voter="v3", position=0, choice="A")


def test_results_count_revealed_rounds_and_void_a_self_naming_one(alice: Any) -> None:
    arena = new_arena(alice)
    token = arena.share_token
    assert selectors.arena_results(arena)["configs"] == []  # nothing shown before the first reveal
    for position, texts in ((0, {}), (1, {LLAMA: "As a Llama model, I say hi."})):
        services.arena_prompt_send(user=alice, arena_id=arena.pk, position=position)
        finish_all(arena, position, texts)
        slot_of = {a.config.model: a.slot for a in ArenaAnswer.objects.filter(prompt__position=position)}
        for n, choice in enumerate([slot_of[LLAMA], slot_of[LLAMA], slot_of[DEEPSEEK], "bad"]):
            services.arena_vote(token=token, voter=f"v{n}", position=position, choice=choice)
        services.arena_prompt_close(user=alice, arena_id=arena.pk, position=position)
        services.arena_prompt_reveal(user=alice, arena_id=arena.pk, position=position)
    results = selectors.arena_results(arena)
    by_model = {c["model"]: c for c in results["configs"]}
    # Prompt 0 counts (2 and 1 of 4); prompt 1 is void: the Llama answer named itself.
    assert (by_model[LLAMA]["wins"], by_model[LLAMA]["n"]) == (2, 4)
    assert (by_model[DEEPSEEK]["wins"], by_model[DEEPSEEK]["n"]) == (1, 4)
    assert by_model[LLAMA]["low"] == pytest.approx(0.15, abs=0.01)
    assert by_model[LLAMA]["high"] == pytest.approx(0.85, abs=0.01)
    void = results["prompts"][1]
    assert void["void"] is True and void["votes"] == 4
    flagged = {a["model"]: a["self_named"] for a in void["answers"]}
    assert flagged == {LLAMA: ["llama"], DEEPSEEK: []}


# --- presets and saved prompt versions as configurations ---------------------------------------------


def a_version(user: Any, **version: Any) -> Any:
    from playground.prompts.services import prompt_create

    fields = {
        "mode": "chat",
        "model": DEEPSEEK,
        "system": "You answer for {{company}}.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! Ask away."},
            {"role": "user", "content": "Q: {{question}}"},
        ],
        "params": {"temperature": 0.3, "max_tokens": 64},
        "variables": [{"name": "company", "type": "text", "default": "Acme"}],
        **version,
    }
    return prompt_create(user=user, workspace_id=workspace_of(user), name="Support", version=fields)


def test_a_preset_and_a_prompt_version_are_resolved_once_and_kept(alice: Any) -> None:
    from playground.services.presets import preset_create

    preset = preset_create(owner=alice, name="Cool llama", model=LLAMA, params={"temperature": 0.1})
    version = a_version(alice)
    arena = new_arena(alice, configs=[{"preset": preset.pk}, {"version": version.pk}])
    cool, support = arena.configs.all()
    assert (cool.label, cool.model, cool.params, cool.preset_id) == (
        "Cool llama",
        LLAMA,
        {"temperature": 0.1},
        preset.pk,
    )
    assert (support.label, support.model, support.params) == (
        "Support v1",
        DEEPSEEK,
        {"temperature": 0.3, "max_tokens": 64},
    )
    assert support.prompt_version_id == version.pk
    assert support.template["variable"] == "question" and support.template["values"] == {"company": "Acme"}
    assert support.template["start"]["messages"][2] == {"role": "user", "content": "Q: {{question}}"}
    # The preset changes later; the arena keeps what it was made with.
    preset.params = {"temperature": 1.9}
    preset.save()
    arena.refresh_from_db()
    assert arena.configs.get(position=0).params == {"temperature": 0.1}
    slots = {s.model: s for s in services.arena_prompt_send(user=alice, arena_id=arena.pk, position=0).slots}
    assert slots[DEEPSEEK].template["variable"] == "question" and slots[LLAMA].template == {}


@pytest.mark.parametrize(
    ("version", "config", "words"),
    [
        # A second variable without a default: named.
        ({"system": "For {{company}} in {{city}}.", "variables": []}, {}, "needs company, city"),
        # A variable the version does not have: the presenter is told the ones it has.
        ({"system": "For {{company}}.", "variables": []}, {"variable": "nope"}, "fills: company, question"),
        (
            {"system": "", "messages": [{"role": "user", "content": "Hi"}], "variables": []},
            {},
            "no {{variable}}",
        ),
    ],
)
def test_a_version_whose_variables_cannot_be_filled_is_refused_by_name(
    alice: Any, version: dict[str, Any], config: dict[str, Any], words: str
) -> None:
    saved = a_version(alice, **version)
    chosen = {"variable": "question"} if "city" in version.get("system", "") else config
    with pytest.raises(services.ArenaError) as caught:
        new_arena(alice, configs=[{"model": LLAMA}, {"version": saved.pk, **chosen}])
    assert caught.value.field.startswith("configs[1].version") and words in caught.value.text
    assert not Arena.objects.exists()


def test_a_preset_or_version_the_presenter_cannot_see_is_refused(alice: Any) -> None:
    from playground.services.presets import preset_create

    bob = get_user_model().objects.create_user("bob")
    theirs = preset_create(owner=bob, name="Bob's", model=LLAMA)
    version = a_version(bob)
    with pytest.raises(services.ArenaError, match="no such preset"):
        new_arena(alice, configs=[{"model": LLAMA}, {"preset": theirs.pk}])
    with pytest.raises(services.ArenaError, match="no such prompt version") as caught:
        new_arena(alice, configs=[{"model": LLAMA}, {"version": version.pk}])
    assert caught.value.field == "configs[1].version" and not Arena.objects.exists()
