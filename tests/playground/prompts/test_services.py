"""playground/prompts/services.py and selectors.py at the database level: immutable numbered versions,
labels (one version per label, movable), the variable definitions, the diff and the eval runner's
snapshot."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from playground.models import personal_workspace_of
from playground.prompts.models import ImmutableVersion, PromptLabel, PromptVersion
from playground.prompts.selectors import version_compare, version_list, version_snapshot
from playground.prompts.services import (
    PromptError,
    label_remove,
    label_set,
    prompt_create,
    version_create,
)
from playground.prompts.template import render_start
from proxy.frames import parse_start

pytestmark = pytest.mark.django_db

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
V1 = {
    "mode": "chat",
    "model": MODEL,
    "system": "You summarise for {{audience}}.",
    "messages": [{"role": "user", "content": "Summarise: {{text}}", "id": 17}],
    "params": {"temperature": 0.2},
    "variables": [
        {"name": "audience", "type": "choice", "choices": ["children", "experts"], "default": "experts"},
        {"name": "unused", "type": "number", "default": "3"},
    ],
}


@pytest.fixture
def alice() -> Any:
    return get_user_model().objects.create_user("alice", password="a-long-passphrase-1")


def first(user: Any, **changes: Any) -> PromptVersion:
    return prompt_create(
        user=user,
        workspace_id=personal_workspace_of(user.pk).pk,
        name="Summariser",
        version={**V1, **changes},
        note="first try",
    )


def test_a_prompt_starts_at_version_1_and_each_save_adds_the_next(alice: Any) -> None:
    v1 = first(alice)
    assert (v1.number, v1.note, v1.created_by) == (1, "first try", alice)
    # The message's id (the page's saved message) is not part of a prompt; definitions follow the texts.
    assert v1.messages == [{"role": "user", "content": "Summarise: {{text}}"}]
    assert v1.variables == [
        {"name": "audience", "type": "choice", "default": "experts", "choices": ["children", "experts"]},
        {"name": "text", "type": "text", "default": ""},
    ]
    v2 = version_create(
        user=alice, prompt_id=v1.prompt_id, version={**V1, "params": {"temperature": 0.9}}, note="warmer"
    )
    v3 = version_create(user=alice, prompt_id=v1.prompt_id, version=V1)
    assert [v.number for v in version_list(v1.prompt)] == [3, 2, 1]
    assert (v2.params, v3.note) == ({"temperature": 0.9}, "")
    v1.refresh_from_db()
    assert v1.params == {"temperature": 0.2}


def test_a_saved_version_cannot_be_changed(alice: Any) -> None:
    v1 = first(alice)
    v1.note = "rewritten"
    with pytest.raises(ImmutableVersion):
        v1.save()
    v1.refresh_from_db()
    assert v1.note == "first try"


def test_version_content_is_checked_as_send_checks_it(alice: Any) -> None:
    with pytest.raises(PromptError) as info:
        first(alice, params={"temperature": 9})
    assert info.value.field == "temperature" and "temperature" in info.value.message
    with pytest.raises(PromptError, match="'messages' must be a non-empty list"):
        first(alice, messages=[])
    with pytest.raises(PromptError, match="Unknown version field 'stream'"):
        first(alice, stream="x")
    bad_choice = [{"name": "audience", "type": "choice", "choices": ["a", "b"], "default": "c"}]
    with pytest.raises(PromptError, match=r"^Default of audience must be one of: a, b\.$"):
        first(alice, variables=bad_choice)
    with pytest.raises(PromptError, match="type must be one of text, long_text, number, choice"):
        first(alice, variables=[{"name": "text", "type": "date"}])
    with pytest.raises(PromptError, match="Default of n must be a number"):
        first(alice, system="{{n}}", variables=[{"name": "n", "type": "number", "default": "many"}])
    assert PromptVersion.objects.count() == 0


def test_a_name_is_taken_once_per_workspace(alice: Any) -> None:
    first(alice)
    with pytest.raises(PromptError, match="already a prompt named 'Summariser'"):
        first(alice)


def test_labels_name_one_version_and_move(alice: Any) -> None:
    v1 = first(alice)
    v2 = version_create(user=alice, prompt_id=v1.prompt_id, version=V1, note="second")
    label_set(user=alice, prompt_id=v1.prompt_id, name="production", version_id=v1.pk)
    label_set(user=alice, prompt_id=v1.prompt_id, name="staging", version_id=v2.pk)
    label_set(user=alice, prompt_id=v1.prompt_id, name="production", version_id=v2.pk)
    assert sorted(PromptLabel.objects.values_list("name", "version__number")) == [
        ("production", 2),
        ("staging", 2),
    ]
    with pytest.raises(PromptError, match="not one of this prompt's"):
        label_set(user=alice, prompt_id=v1.prompt_id, name="x", version_id=10_000)
    with pytest.raises(PromptError, match="A label is one word"):
        label_set(user=alice, prompt_id=v1.prompt_id, name="two words", version_id=v1.pk)
    assert label_remove(user=alice, prompt_id=v1.prompt_id, name="staging") is True
    assert label_remove(user=alice, prompt_id=v1.prompt_id, name="staging") is False


def test_the_snapshot_fills_and_sends_as_the_playground_would(alice: Any) -> None:
    """The eval runner's view: the chat.start-shaped request, filled with a row's values, is a valid
    chat.start whose body is the filled-in prompt."""
    v1 = first(alice)
    label_set(user=alice, prompt_id=v1.prompt_id, name="production", version_id=v1.pk)
    snap = version_snapshot(PromptVersion.objects.get(pk=v1.pk))
    assert snap["start"] == {
        "mode": "chat",
        "model": MODEL,
        "system": "You summarise for {{audience}}.",
        "messages": [{"role": "user", "content": "Summarise: {{text}}"}],
        "params": {"temperature": 0.2},
    }
    assert (snap["prompt_id"], snap["version_id"], snap["version"]) == (v1.prompt_id, v1.pk, 1)
    assert (snap["prompt_name"], snap["labels"], snap["model"]) == ("Summariser", ["production"], MODEL)
    assert [d["name"] for d in snap["variables"]] == ["audience", "text"]
    filled = render_start(snap["start"], {"audience": "children", "text": "A long story."})
    body = parse_start({"type": "chat.start", "stream": "row-1", **filled}).body
    assert body["messages"] == [
        {"role": "system", "content": "You summarise for children."},
        {"role": "user", "content": "Summarise: A long story."},
    ]
    assert body["temperature"] == 0.2


def test_compare_gives_the_texts_and_every_changed_setting(alice: Any) -> None:
    v1 = first(alice)
    changed = {
        **V1,
        "system": "You summarise briefly for {{audience}}.",
        "params": {"temperature": 0.7, "top_p": 0.9},
        "variables": [{"name": "audience", "type": "text", "default": "experts"}],
    }
    v2 = version_create(user=alice, prompt_id=v1.prompt_id, version=changed)
    diff = version_compare(v1, v2)
    system = diff["texts"][0]
    assert system == {
        "label": "System prompt",
        "left": "You summarise for {{audience}}.",
        "right": "You summarise briefly for {{audience}}.",
        "differs": True,
    }
    assert diff["texts"][1]["differs"] is False
    rows = {r["field"]: r for r in diff["settings"]}
    assert (rows["temperature"]["left"], rows["temperature"]["right"], rows["temperature"]["differs"]) == (
        "0.2",
        "0.7",
        True,
    )
    assert rows["top_p"]["left"].startswith("unset") and rows["top_p"]["differs"]
    assert rows["model"]["differs"] is False
    assert rows["audience"]["group"] == "Variables" and rows["audience"]["differs"]
    assert rows["text"]["differs"] is False
