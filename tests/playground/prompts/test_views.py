"""The saved-prompt endpoints and pages by role: a library prompt is seen by every member, changed by
editors and owners, deleted by its author or an owner; a personal one is its author's alone; outsiders
get 404s, signed-out visitors the login page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from playground.models import Membership, Role
from playground.prompts.models import PromptVersion, SavedPrompt
from playground.prompts.services import label_set, prompt_create
from playground.services import workspaces

pytestmark = pytest.mark.django_db

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
VERSION = {
    "mode": "chat",
    "model": MODEL,
    "system": "Be {{tone}}.",
    "messages": [{"role": "user", "content": "Hi"}],
}
OK, CREATED, FORBIDDEN, NOT_FOUND, LOGIN = "ok", "created", "forbidden", "not_found", "login"


def make_world() -> dict[str, Any]:
    """A team (owner olive, editors ann (the author) and eddie, viewer vera), outsider otto; ann's library
    prompt with one version, and her personal prompt in the team."""
    users = {n: get_user_model().objects.create_user(n) for n in ("olive", "ann", "eddie", "vera", "otto")}
    team = workspaces.workspace_create(user=users["olive"], name="Team")
    for name, role in (("ann", Role.EDITOR), ("eddie", Role.EDITOR), ("vera", Role.VIEWER)):
        Membership.objects.create(workspace=team, user=users[name], role=role)
    shared = prompt_create(
        user=users["ann"], workspace_id=team.pk, name="Greeter", scope="workspace", version=VERSION
    )
    private = prompt_create(
        user=users["ann"], workspace_id=team.pk, name="Mine", scope="personal", version=VERSION
    )
    return {"users": users, "team": team, "shared": shared, "private": private}


def client(world: dict[str, Any], who: str) -> Client:
    c = Client()
    name = {"owner": "olive", "author": "ann", "editor": "eddie", "viewer": "vera", "outsider": "otto"}.get(
        who
    )
    if name:
        c.force_login(world["users"][name])
        if who != "outsider":
            c.post("/workspaces/switch/", {"workspace": world["team"].pk})
    return c


def outcome(response: Any) -> str:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return LOGIN
    return {200: OK, 201: CREATED, 403: FORBIDDEN, 404: NOT_FOUND}.get(
        response.status_code, str(response.status_code)
    )


def post(c: Client, url: str, data: dict[str, Any]) -> Any:
    return c.post(url, json.dumps(data), content_type="application/json")


def act(world: dict[str, Any], who: str, action: str, target: str = "shared") -> Any:
    c = client(world, who)
    version: PromptVersion = world[target]
    pid = version.prompt_id
    if action == "view":
        return c.get(f"/api/prompts/{pid}/")
    if action == "page":
        return c.get(f"/prompts/{pid}/")
    if action == "restore":
        return c.get(f"/api/prompt-versions/{version.pk}/")
    if action == "diff":
        return c.get(f"/api/prompts/{pid}/diff/?a={version.pk}&b={version.pk}")
    if action == "save_version":
        return post(c, f"/api/prompts/{pid}/versions/", {"version": VERSION, "note": who})
    if action == "label":
        return post(c, f"/api/prompts/{pid}/labels/", {"name": "production", "version": version.pk})
    if action == "create_in_library":
        return post(c, "/api/prompts/", {"name": f"New {who}", "scope": "workspace", "version": VERSION})
    if action == "delete":
        return c.delete(f"/api/prompts/{pid}/")
    raise AssertionError(action)


ACTIONS = ("view", "page", "restore", "diff", "save_version", "label", "create_in_library", "delete")
MATRIX = {
    "owner": (OK, OK, OK, OK, CREATED, OK, CREATED, OK),
    "author": (OK, OK, OK, OK, CREATED, OK, CREATED, OK),
    "editor": (OK, OK, OK, OK, CREATED, OK, CREATED, FORBIDDEN),
    "viewer": (OK, OK, OK, OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "outsider": (NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, CREATED, NOT_FOUND),
    "anonymous": (LOGIN,) * 8,
}


@pytest.mark.parametrize(
    ("who", "action", "expected"),
    [(who, action, MATRIX[who][i]) for who in MATRIX for i, action in enumerate(ACTIONS)],
)
def test_library_prompt_by_role(who: str, action: str, expected: str) -> None:
    world = make_world()
    response = act(world, who, action)
    assert outcome(response) == expected
    if who == "outsider" and action == "create_in_library":
        # The outsider's "workspace" scope lands in their own current workspace, never the team's.
        made = SavedPrompt.objects.get(name="New outsider")
        assert made.workspace_id != world["team"].pk
    if action == "save_version":
        numbers = list(
            PromptVersion.objects.filter(prompt_id=world["shared"].prompt_id).values_list("number", flat=True)
        )
        assert sorted(numbers) == ([1, 2] if expected == CREATED else [1])


@pytest.mark.parametrize("who", ["owner", "editor", "viewer", "outsider"])
def test_a_personal_prompt_is_its_authors_alone(who: str) -> None:
    world = make_world()
    for action in ("view", "restore", "save_version", "delete"):
        assert outcome(act(world, who, action, target="private")) == NOT_FOUND
    assert outcome(act(world, "author", "save_version", target="private")) == CREATED


def test_the_api_lists_what_each_sees_with_rights_and_labels() -> None:
    world = make_world()
    label_set(
        user=world["users"]["ann"],
        prompt_id=world["shared"].prompt_id,
        name="production",
        version_id=world["shared"].pk,
    )
    names = {
        who: [p["name"] for p in client(world, who).get("/api/prompts/").json()["prompts"]]
        for who in ("author", "viewer")
    }
    assert names == {"author": ["Greeter", "Mine"], "viewer": ["Greeter"]}
    detail = client(world, "viewer").get(f"/api/prompts/{world['shared'].prompt_id}/").json()
    assert detail["prompt"]["rights"] == {"save_version": False, "label": False, "delete": False}
    assert detail["prompt"]["labels"] == {"production": 1}
    assert detail["versions"][0]["start"]["system"] == "Be {{tone}}."
    assert detail["versions"][0]["variables"] == [{"name": "tone", "type": "text", "default": ""}]
    assert client(world, "editor").get(f"/api/prompts/{world['shared'].prompt_id}/").json()["prompt"][
        "rights"
    ] == {
        "save_version": True,
        "label": True,
        "delete": False,
    }


def test_errors_name_the_field() -> None:
    world = make_world()
    c = client(world, "author")
    response = post(c, "/api/prompts/", {"name": "", "version": VERSION})
    assert response.status_code == 400 and response.json()["error"]["field"] == "name"
    response = post(
        c,
        f"/api/prompts/{world['shared'].prompt_id}/versions/",
        {"version": {**VERSION, "params": {"top_p": 3}}},
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "top_p"
    response = c.post(
        f"/api/prompts/{world['shared'].prompt_id}/versions/", "not json", content_type="application/json"
    )
    assert response.json()["error"] == {"field": "body", "message": "The request body must be a JSON object."}
    response = c.get(f"/api/prompts/{world['shared'].prompt_id}/diff/?a=1")
    assert response.status_code == 400 and response.json()["error"]["field"] in ("a", "b")
