"""Presets: services and selectors at the database level, the pages and JSON endpoints, the run code page."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client

from playground import codegen
from playground.models import Conversation, Preset, Run
from playground.selectors.presets import (
    preset_compare,
    preset_default_for_user,
    preset_export,
    preset_get_for_user,
    preset_list_for_user,
)
from playground.services.presets import (
    PresetError,
    preset_create,
    preset_delete,
    preset_import,
    preset_set_default,
    preset_update,
)

pytestmark = pytest.mark.django_db

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"


@pytest.fixture
def alice() -> Any:
    return get_user_model().objects.create_user("alice", password="a-long-passphrase-1")


@pytest.fixture
def bob() -> Any:
    return get_user_model().objects.create_user("bob", password="a-long-passphrase-2")


def client_for(user: Any) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def make(owner: Any, name: str = "Precise", **fields: Any) -> Preset:
    return preset_create(
        owner=owner,
        name=name,
        model=fields.pop("model", MODEL),
        params=fields.pop("params", {"temperature": 0.2, "max_tokens": 100}),
        **fields,
    )


# --- services: validation comes from the registry ----------------------------------------------------


def test_create_cleans_values_with_the_registry(alice: Any) -> None:
    preset = make(
        alice,
        params={"temperature": "0.5", "top_k": 40.0, "stop": "END", "seed": None, "logprobs": True},
        system_prompt="Be terse.",
        extra={"prompt_cache_key": "k"},
    )
    preset.refresh_from_db()
    # Strings become numbers, a single stop becomes a list, unset values are not stored.
    assert preset.params == {"temperature": 0.5, "top_k": 40, "stop": ["END"], "logprobs": True}
    assert preset.extra == {"prompt_cache_key": "k"}
    assert preset.mode == "chat" and preset.model == MODEL


@pytest.mark.parametrize(
    ("params", "param", "words"),
    [
        ({"temperature": 2.5}, "temperature", "between 0 and 2"),
        ({"top_p": -0.1}, "top_p", "between 0 and 1"),
        ({"top_k": 101}, "top_k", "between 0 and 100"),
        ({"n": 0}, "n", "between 1 and 128"),
        ({"max_tokens": 1.5}, "max_tokens", "whole number"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort", "one of none, low, medium, high"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "up to 4"),
        ({"top_logprobs": 3}, "top_logprobs", "needs logprobs"),
        ({"warmth": 1}, "warmth", "Unknown parameter 'warmth'"),
    ],
)
def test_out_of_range_and_unknown_values_are_refused(
    alice: Any, params: dict[str, Any], param: str, words: str
) -> None:
    with pytest.raises(PresetError) as caught:
        make(alice, params=params)
    assert caught.value.field == param
    assert param in caught.value.message and words in caught.value.message
    assert not Preset.objects.exists()


def test_extra_cannot_smuggle_a_registry_parameter_past_its_range(alice: Any) -> None:
    with pytest.raises(PresetError) as caught:
        make(alice, params={}, extra={"temperature": 9})
    assert caught.value.field == "temperature"
    assert "between 0 and 2" in caught.value.message
    with pytest.raises(PresetError, match="model"):
        make(alice, params={}, extra={"model": "other"})


def test_mode_is_checked_against_each_parameter(alice: Any) -> None:
    with pytest.raises(PresetError) as caught:
        make(alice, mode="completions", params={"response_format": {"type": "json_object"}})
    assert caught.value.field == "response_format"
    assert "not available in completions mode" in caught.value.message
    with pytest.raises(PresetError) as caught:
        make(alice, mode="embeddings")
    assert caught.value.field == "mode"


def test_update_validates_and_rename_conflicts(alice: Any, bob: Any) -> None:
    precise = make(alice, "Precise")
    make(alice, "Creative", params={"temperature": 1.3})
    make(bob, "Loose")
    with pytest.raises(PresetError) as caught:
        preset_update(user=alice, preset=precise, data={"name": "  Creative "})
    assert caught.value.field == "name" and "already" in caught.value.message
    with pytest.raises(PresetError) as caught:
        preset_update(user=alice, preset=precise, data={"params": {"presence_penalty": 3}})
    assert caught.value.field == "presence_penalty" and "between -2 and 2" in caught.value.message
    precise.refresh_from_db()
    assert precise.params == {"temperature": 0.2, "max_tokens": 100}
    # Another user's name is free; surrounding spaces are dropped.
    preset_update(user=alice, preset=precise, data={"name": " Loose ", "params": {"temperature": 0}})
    precise.refresh_from_db()
    assert precise.name == "Loose" and precise.params == {"temperature": 0.0}
    with pytest.raises(PresetError):
        preset_update(user=alice, preset=precise, data={"owner": bob})
    with pytest.raises(PresetError) as caught:
        make(alice, "Creative")
    assert caught.value.field == "name"


def test_one_default_per_owner(alice: Any, bob: Any) -> None:
    first = make(alice, "First", is_default=True)
    second = make(alice, "Second", is_default=True)
    bobs = make(bob, "Bob's", is_default=True)
    first.refresh_from_db()
    assert not first.is_default and second.is_default
    assert preset_default_for_user(user=alice) == second
    assert preset_default_for_user(user=bob) == bobs
    preset_set_default(user=alice, preset=first)
    assert list(Preset.objects.filter(owner=alice, is_default=True)) == [first]
    preset_update(user=alice, preset=second, data={"is_default": True})
    first.refresh_from_db()
    assert not first.is_default
    preset_set_default(user=alice, preset=second, is_default=False)
    assert preset_default_for_user(user=alice) is None
    # The database refuses a second default even if a caller skips the service.
    preset_set_default(user=alice, preset=first)
    with pytest.raises(IntegrityError), transaction.atomic():
        Preset.objects.filter(pk=second.pk).update(is_default=True)


def test_selectors_filter_by_owner(alice: Any, bob: Any) -> None:
    mine = make(alice, "Mine")
    make(bob, "Theirs")
    assert list(preset_list_for_user(user=alice)) == [mine]
    with pytest.raises(Preset.DoesNotExist):
        preset_get_for_user(user=bob, preset_id=mine.pk)
    from django.contrib.auth.models import AnonymousUser

    assert not preset_list_for_user(user=AnonymousUser()).exists()
    preset_delete(preset=mine)
    assert not preset_list_for_user(user=alice).exists()


def test_compare_marks_differences(alice: Any) -> None:
    a = make(alice, "A", params={"temperature": 0.2, "top_p": 0.9}, extra={"x": 1})
    b = make(alice, "B", params={"temperature": 0.2, "max_tokens": 50}, system_prompt="Hi", extra={"x": 2})
    rows = {row.field: row for row in preset_compare(a, b)}
    assert not rows["temperature"].differs and not rows["mode"].differs
    assert rows["top_p"].differs and rows["top_p"].right == "unset (default 1.0)"
    assert rows["max_tokens"].differs and rows["max_tokens"].left == "unset (default 2048)"
    assert rows["system_prompt"].differs and rows["system_prompt"].left == "(empty)"
    assert rows["x"].differs and rows["x"].group == "Extra body"
    assert "seed" not in rows  # neither sets it


def test_export_import_round_trip(alice: Any, bob: Any) -> None:
    make(alice, "Precise", is_default=True, system_prompt="Be exact.", extra={"prompt_cache_key": "p"})
    make(alice, "Creative", mode="completions", params={"temperature": 1.4, "echo": True})
    exported = json.loads(json.dumps(preset_export(user=alice)))
    assert [p["name"] for p in exported["presets"]] == ["Creative", "Precise"]
    saved = preset_import(owner=bob, data=exported)
    assert [p.name for p in saved] == ["Creative", "Precise"]
    again = json.loads(json.dumps(preset_export(user=bob)))
    assert again == exported
    # Importing again overwrites by name instead of duplicating.
    exported["presets"][0]["params"]["temperature"] = 0.3
    preset_import(owner=bob, data=exported)
    assert preset_list_for_user(user=bob).count() == 2
    assert preset_list_for_user(user=bob).get(name="Creative").params["temperature"] == 0.3


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"presets": [{"name": "Hot", "params": {"temperature": 7}}]}, "Preset 1 ('Hot'): temperature"),
        ({"presets": [{"name": "A"}, {"name": "B", "params": {"top_k": -1}}]}, "Preset 2 ('B'): top_k"),
        ({"presets": [{"name": "A"}, {"name": "A"}]}, "two presets named 'A'"),
        ({"presets": [{"name": "A", "colour": "red"}]}, "unknown field 'colour'"),
        ({"presets": []}, "at least one preset"),
        ({"format": "something-else", "presets": [{"name": "A"}]}, "not a presets file"),
        (
            {"presets": [{"name": "A", "is_default": True}, {"name": "B", "is_default": True}]},
            "more than one",
        ),
    ],
)
def test_import_checks_every_value_and_saves_nothing_on_error(alice: Any, data: Any, words: str) -> None:
    make(alice, "A", params={"temperature": 0.1})
    with pytest.raises(PresetError) as caught:
        preset_import(owner=alice, data=data)
    assert words in caught.value.message
    assert [(p.name, p.params) for p in preset_list_for_user(user=alice)] == [("A", {"temperature": 0.1})]


# --- views -------------------------------------------------------------------------------------------


def test_api_create_list_update_delete(alice: Any) -> None:
    client = client_for(alice)
    body = {
        "name": "Fast",
        "mode": "chat",
        "model": MODEL,
        "system_prompt": " keep spaces ",
        "params": {"top_p": 0.5},
    }
    response = client.post("/api/presets/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    preset = response.json()["preset"]
    assert preset["params"] == {"top_p": 0.5} and preset["system_prompt"] == " keep spaces "
    listed = client.get("/api/presets/").json()["presets"]
    assert [p["name"] for p in listed] == ["Fast"]
    url = f"/api/presets/{preset['id']}/"
    response = client.post(
        url, {"params": {"top_p": 0.7}, "is_default": True}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["preset"]["params"] == {"top_p": 0.7}
    assert response.json()["preset"]["name"] == "Fast" and response.json()["preset"]["is_default"]
    assert client.delete(url).status_code == 200
    assert not Preset.objects.exists()


def test_api_refuses_out_of_range_naming_the_parameter(alice: Any) -> None:
    client = client_for(alice)
    body = {"name": "Hot", "params": {"temperature": 3}}
    response = client.post("/api/presets/", body, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "temperature"
    assert error["message"] == "temperature must be between 0 and 2; got 3."
    response = client.post("/api/presets/", {"params": {}}, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["field"] == "name"
    response = client.post("/api/presets/", "not json", content_type="application/json")
    assert response.status_code == 400
    assert not Preset.objects.exists()


def test_api_is_csrf_protected(alice: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/api/presets/", {"name": "X"}, content_type="application/json")
    assert response.status_code == 403
    token = client.get("/").cookies["csrftoken"].value
    response = client.post(
        "/api/presets/", {"name": "X"}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert response.status_code == 201


def test_other_users_get_404(alice: Any, bob: Any) -> None:
    preset = make(alice)
    other = client_for(bob)
    assert other.get(f"/api/presets/{preset.pk}/").status_code == 404
    assert (
        other.post(
            f"/api/presets/{preset.pk}/", {"name": "Mine"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert other.delete(f"/api/presets/{preset.pk}/").status_code == 404
    for action in ("rename", "default", "delete"):
        assert other.post(f"/presets/{preset.pk}/{action}/", {"name": "x"}).status_code == 404
    assert other.get(f"/presets/{preset.pk}/export/").status_code == 404
    assert other.get(f"/presets/?a={preset.pk}&b={preset.pk}").status_code == 404
    assert other.get("/api/presets/").json()["presets"] == []
    assert b"Precise" not in other.get("/presets/export/").content
    preset.refresh_from_db()
    assert preset.name == "Precise"
    assert Client().get("/presets/").status_code == 302  # sign-in first


def test_presets_page_rename_default_delete_compare(alice: Any) -> None:
    client = client_for(alice)
    a = make(alice, "A", params={"temperature": 0.2})
    b = make(alice, "B", params={"temperature": 0.9})
    page = client.get("/presets/")
    assert page.status_code == 200
    assert page.content.count(b'data-testid="preset-row"') == 2
    response = client.post(f"/presets/{a.pk}/rename/", {"name": "B"}, follow=True)
    assert b"already have a preset named" in response.content
    client.post(f"/presets/{a.pk}/rename/", {"name": "Alpha"})
    client.post(f"/presets/{b.pk}/default/", {"is_default": "on"})
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.name == "Alpha" and b.is_default
    compare = client.get(f"/presets/?a={a.pk}&b={b.pk}")
    assert b"1 difference between" in compare.content
    assert b'data-field="temperature" data-differs="1"' in compare.content
    client.post(f"/presets/{b.pk}/default/", {})
    b.refresh_from_db()
    assert not b.is_default
    client.post(f"/presets/{a.pk}/delete/")
    assert list(Preset.objects.values_list("name", flat=True)) == ["B"]
    assert client.get(f"/presets/{a.pk}/delete/").status_code == 405


def test_export_download_and_import_upload(alice: Any, bob: Any) -> None:
    make(alice, "Precise", extra={"prompt_cache_key": "p"})
    response = client_for(alice).get("/presets/export/")
    assert response["Content-Disposition"] == 'attachment; filename="presets.json"'
    upload = io.BytesIO(response.content)
    upload.name = "presets.json"
    bobs = client_for(bob)
    page = bobs.post("/presets/import/", {"file": upload}, follow=True)
    assert b"Imported 1 preset: Precise." in page.content
    assert preset_list_for_user(user=bob).get().extra == {"prompt_cache_key": "p"}
    bad = io.BytesIO(json.dumps({"presets": [{"name": "Hot", "params": {"min_p": 2}}]}).encode())
    bad.name = "bad.json"
    page = bobs.post("/presets/import/", {"file": bad}, follow=True)
    assert b"Nothing was imported. Preset 1 (&#x27;Hot&#x27;): min_p must be between 0 and 1" in page.content
    broken = io.BytesIO(b"{not json")
    broken.name = "broken.json"
    assert b"not valid JSON" in bobs.post("/presets/import/", {"file": broken}, follow=True).content


def test_run_code_page(alice: Any, bob: Any, settings: Any) -> None:
    settings.FIREWORKS_BASE_URL = "https://api.fireworks.ai/inference/v1"
    conversation = Conversation.objects.create(owner=alice, model=MODEL)
    request = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "<b>hi</b>"}],
        "stream": True,
        "top_k": 5,
    }
    run = Run.objects.create(conversation=conversation, started_by=alice, model=MODEL, request=request)
    page = client_for(alice).get(f"/runs/{run.pk}/code/")
    assert page.status_code == 200
    html = page.content.decode()
    for key, label in codegen.LANGUAGES:
        assert f'data-testid="code-{key}"' in html and label in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html and "<b>hi</b>" not in html  # escaped
    assert "extra_body=" in html
    assert "FIREWORKS_BASE_URL:-https://api.fireworks.ai/inference/v1}/chat/completions" in html
    assert client_for(bob).get(f"/runs/{run.pk}/code/").status_code == 404


@pytest.mark.django_db
def test_a_responses_mode_preset_is_saved_and_exported(alice: Any) -> None:
    """The Responses API mode is a mode like the others: presets keep it and export it."""
    preset = make(alice, "Threaded", mode="responses", params={"temperature": 0.3})
    preset.refresh_from_db()
    assert preset.mode == "responses"
    [exported] = [p for p in preset_export(user=alice)["presets"] if p["name"] == "Threaded"]
    assert exported["mode"] == "responses"


def test_presets_page_in_a_personal_workspace_offers_no_library(alice: Any) -> None:
    """Nobody to share with: no library section, no "Move to library", and the API says it is personal."""
    client = client_for(alice)
    make(alice, "Solo")
    page = client.get("/presets/").content.decode()
    assert 'data-testid="preset-row"' in page
    assert 'data-testid="preset-section-library"' not in page
    assert "Move to library" not in page
    assert 'data-testid="preset-move"' not in page
    assert client.get("/api/presets/").json()["workspace"]["personal"] is True
