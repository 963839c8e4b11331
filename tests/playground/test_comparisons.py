"""Comparisons through the Django test client: save from runs, reopen, list, other users' 404s, the
refusals (a run that is not yours, an out-of-range parameter), a run's replay data and the pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from playground.models import Comparison
from tests.playground.views.test_conversations import converse

pytestmark = pytest.mark.django_db

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def make_client(name: str) -> tuple[Any, Client]:
    user = get_user_model().objects.create_user(name, password="a-long-passphrase-1")
    client = Client()
    client.force_login(user)
    return user, client


def post(client: Client, data: Any) -> Any:
    return client.post("/api/comparisons/", json.dumps(data), content_type="application/json")


def columns_for(user: Any, count: int = 2) -> list[dict[str, Any]]:
    results = [converse(user, "Name a colour", reply=f"Blue {i}.") for i in range(count)]
    return [
        {"label": f"t={i}", "model": MODEL, "params": {"temperature": i / 2}, "run": r.run_id}
        for i, r in enumerate(results)
    ]


def test_save_reopen_and_list_a_comparison() -> None:
    ada, client = make_client("ada")
    columns = columns_for(ada, 3)
    response = post(
        client,
        {
            "kind": "sweep",
            "sweep": {"param": "temperature", "values": [0, 0.5, 1], "samples": 1},
            "system_prompt": "Be brief.",
            "messages": [{"role": "user", "content": "Name a colour"}],
            "columns": columns,
        },
    )
    assert response.status_code == 201, response.content
    saved = response.json()["comparison"]
    comparison = Comparison.objects.get(pk=saved["id"])
    assert saved["url"] == f"/compare/{comparison.pk}/"
    assert comparison.title == "Name a colour"
    assert comparison.kind == "sweep"
    assert [c["run"] for c in comparison.columns] == [c["run"] for c in columns]
    assert all(c["conversation"] for c in comparison.columns)

    data = client.get(f"/api/comparisons/{comparison.pk}/").json()["comparison"]
    assert data["system_prompt"] == "Be brief."
    assert [c["data"]["content"] for c in data["columns"]] == ["Blue 0.", "Blue 1.", "Blue 2."]
    frames = data["columns"][0]["data"]["frames"]
    assert [(f["type"], f["t"], f.get("content")) for f in frames] == [
        ("chat.delta", 20.0, "Sure"),
        ("chat.delta", 60.0, "."),
        ("chat.done", 60.0, None),
    ]
    assert data["columns"][0]["data"]["usage"]["completion_tokens"] == 2

    page = client.get(saved["url"])
    assert page.status_code == 200
    assert b'id="compare-config"' in page.content and b"Blue 2." in page.content
    listing = client.get("/comparisons/")
    assert b"Name a colour" in listing.content and b"t=2" in listing.content
    assert client.get("/api/comparisons/").json()["comparisons"][0]["id"] == comparison.pk

    # A deleted column's conversation leaves the column missing, not an error.
    comparison_run = comparison.columns[1]
    from playground.models import Conversation

    Conversation.objects.filter(pk=comparison_run["conversation"]).delete()
    data = client.get(f"/api/comparisons/{comparison.pk}/").json()["comparison"]
    assert data["columns"][1]["data"] is None

    assert client.delete(f"/api/comparisons/{comparison.pk}/").json() == {"deleted": comparison.pk}
    assert not Comparison.objects.exists()


def test_someone_elses_comparison_and_runs_are_not_found() -> None:
    ada, ada_client = make_client("ada")
    _, bob_client = make_client("bob")
    columns = columns_for(ada)
    comparison_id = post(ada_client, {"columns": columns}).json()["comparison"]["id"]
    assert bob_client.get(f"/compare/{comparison_id}/").status_code == 404
    assert bob_client.get(f"/api/comparisons/{comparison_id}/").status_code == 404
    assert bob_client.delete(f"/api/comparisons/{comparison_id}/").status_code == 404
    assert bob_client.get(f"/runs/{columns[0]['run']}/replay.json").status_code == 404
    assert bob_client.get(f"/runs/{columns[0]['run']}/replay/").status_code == 404
    # Nor can bob group ada's runs into a comparison of his own.
    response = post(bob_client, {"columns": columns})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "columns[0].run"


def test_refusals_name_the_field() -> None:
    ada, client = make_client("ada")
    [column] = columns_for(ada, 1)
    bad = post(client, {"columns": [{**column, "params": {"temperature": 3}}]})
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "columns[0].params.temperature"
    assert "between 0 and 2" in bad.json()["error"]["message"]
    assert post(client, {"columns": []}).json()["error"]["field"] == "columns"
    assert post(client, {"columns": [column], "kind": "nope"}).json()["error"]["field"] == "kind"
    not_json = client.post("/api/comparisons/", "[", content_type="application/json")
    assert not_json.json()["error"]["field"] == "body"
    assert make_client("anon")[1].get("/api/comparisons/").status_code == 200
    assert Client().get("/compare/").status_code == 302


def test_replay_data_and_pages() -> None:
    ada, client = make_client("ada")
    result = converse(ada, "Hello", reply="Sure.")
    data = client.get(f"/runs/{result.run_id}/replay.json").json()["run"]
    assert [(f["type"], f["t"], f.get("content")) for f in data["frames"]] == [
        ("chat.delta", 20.0, "Sure"),
        ("chat.delta", 60.0, "."),
        ("chat.done", 60.0, None),
    ]
    assert data["timings"]["total_ms"] == 60.0
    assert data["content"] == "Sure."
    assert data["finish_reasons"] == {"0": "stop"}
    assert data["sampling_options"] == {"temperature": 0.3, "top_p": 1.0}
    page = client.get(f"/runs/{result.run_id}/replay/")
    assert page.status_code == 200 and b"Replay" in page.content and b"no request is sent" in page.content
    for url in ("/compare/", "/present/"):
        response = client.get(url)
        assert response.status_code == 200
        assert b'href="/compare/"' in response.content


def test_the_run_page_links_to_its_replay() -> None:
    ada, client = make_client("ada")
    result = converse(ada, "Hello")
    page = client.get(f"/runs/{result.run_id}/")
    assert f'href="/runs/{result.run_id}/replay/"'.encode() in page.content


# --- sharing a comparison: workspace visibility, share links, the shared page ----------------------------


def team_comparison() -> dict[str, Any]:
    """A team (owner olive, editor eddie, viewer vera), an outsider otto, and ann's (an editor's)
    comparison of two runs in private conversations of the team workspace."""
    from playground.models import Membership, Role
    from playground.services import workspaces
    from playground.services.comparisons import comparison_create
    from tests.playground.test_teams import converse as team_converse
    from tests.playground.test_teams import make_user

    users = {name: make_user(name) for name in ("olive", "eddie", "ann", "vera", "otto")}
    team = workspaces.workspace_create(user=users["olive"], name="Team")
    for name, role in (("eddie", Role.EDITOR), ("ann", Role.EDITOR), ("vera", Role.VIEWER)):
        Membership.objects.create(workspace=team, user=users[name], role=role)
    runs = [team_converse(users["ann"], "Name a colour", workspace_id=team.pk) for _ in range(2)]
    comparison = comparison_create(
        owner=users["ann"],
        system_prompt="Be brief.",
        messages=[{"role": "user", "content": "Name a colour"}],
        columns=[
            {"label": f"t={i}", "model": MODEL, "params": {"temperature": i / 2}, "run": r.pk}
            for i, r in enumerate(runs)
        ],
    )
    return {"users": users, "team": team, "comparison": comparison, "runs": runs}


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_comparison_goes_to_its_columns_workspace_and_follows_the_conversation_rules() -> None:
    world = team_comparison()
    comparison, users = world["comparison"], world["users"]
    assert comparison.workspace_id == world["team"].pk and comparison.visibility == "private"
    url, api = f"/compare/{comparison.pk}/", f"/api/comparisons/{comparison.pk}/"
    ann = as_user(users["ann"])
    # Private: the other members and the outsider do not see it at all.
    for name in ("olive", "eddie", "vera", "otto"):
        client = as_user(users[name])
        assert client.get(url).status_code == 404, name
        assert client.get(api).status_code == 404, name
        assert client.get(f"/compare/{comparison.pk}/share/").status_code == 404, name
        assert client.post(f"/compare/{comparison.pk}/share/new/", {}).status_code == 404, name
    assert (
        as_user(users["eddie"])
        .post(f"/compare/{comparison.pk}/visibility/", {"visibility": "workspace"})
        .status_code
        == 404
    )

    assert ann.post(f"/compare/{comparison.pk}/visibility/", {"visibility": "workspace"}).status_code == 302
    comparison.refresh_from_db()
    assert comparison.visibility == "workspace"
    # Shared with the workspace: a viewer reads every column (its conversations stay private) read-only.
    vera = as_user(users["vera"])
    data = vera.get(api).json()["comparison"]
    assert [c["data"]["content"] for c in data["columns"]] == ["Sure thing.", "Sure thing."]
    assert data["rights"] == {
        "can_run": False,
        "can_share": False,
        "can_set_visibility": False,
        "can_delete": False,
        "can_rename": False,
    }
    assert data["owner"] == "ann"
    assert vera.get(f"/c/{comparison.columns[0]['conversation']}/").status_code == 404
    assert vera.get(f"/compare/{comparison.pk}/share/").status_code == 403
    assert vera.post(f"/compare/{comparison.pk}/share/new/", {}).status_code == 403
    patch = json.dumps({"columns": [{"model": MODEL, "run": r.pk} for r in world["runs"]]})
    assert vera.patch(api, patch, content_type="application/json").status_code == 403
    assert vera.delete(api).status_code == 403
    # An editor may share it but not run it in place (the columns are ann's conversations).
    eddie = as_user(users["eddie"])
    assert eddie.get(api).json()["comparison"]["rights"]["can_share"] is True
    assert eddie.get(api).json()["comparison"]["rights"]["can_run"] is False
    assert eddie.get(f"/compare/{comparison.pk}/share/").status_code == 200
    # The outsider still gets a 404, and the team's list shows it to members only.
    otto = as_user(users["otto"])
    assert otto.get(url).status_code == 404 and otto.get(api).status_code == 404
    assert otto.get("/api/comparisons/").json()["comparisons"] == []
    vera.post("/workspaces/switch/", {"workspace": world["team"].pk})
    assert [c["id"] for c in vera.get("/api/comparisons/").json()["comparisons"]] == [comparison.pk]


def test_comparison_share_links_create_open_hide_expire_and_revoke() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from playground.models import ShareLink

    world = team_comparison()
    comparison, users = world["comparison"], world["users"]
    ann = as_user(users["ann"])
    page = ann.get(f"/compare/{comparison.pk}/share/")
    assert page.status_code == 200 and b"every column side by side" in page.content
    assert ann.post(f"/compare/{comparison.pk}/share/new/", {"expires_in_days": "7"}).status_code == 302
    link = ShareLink.objects.get(comparison=comparison)
    assert link.conversation_id is None and len(link.token) >= 32 and link.expires_at > timezone.now()
    assert f"/s/{link.token}/" in ann.get(f"/compare/{comparison.pk}/share/").content.decode()
    # The reopened comparison offers its owner the share page.
    config = ann.get(f"/compare/{comparison.pk}/").context["config"]["comparison"]
    assert config["share_url"] == f"/compare/{comparison.pk}/share/"

    # Anyone with the link, signed out: every column with its reply, metrics and applied options.
    response = Client().get(f"/s/{link.token}/")
    assert response.status_code == 200
    shared = response.context["page"]
    assert [c["label"] for c in shared["columns"]] == ["t=0", "t=1"]
    assert shared["columns"][0]["data"]["content"] == "Sure thing."
    assert shared["columns"][0]["data"]["sampling_options"] == {"temperature": 0.3}
    assert shared["columns"][1]["params"] == {"temperature": 0.5}
    assert shared["system_prompt"] == "Be brief."
    assert [c["conversation"] for c in shared["columns"]] == [r.conversation_id for r in world["runs"]]
    html = response.content.decode()
    assert 'data-testid="shared-comparison-page"' in html and "Name a colour" in html
    # The link opens the comparison only: no fork, no column's conversation page, no other comparison.
    assert as_user(users["otto"]).post(f"/s/{link.token}/fork/").status_code == 404
    assert Client().get(f"/c/{world['runs'][0].conversation_id}/").status_code == 302  # the login page

    hiding = ann.post(
        f"/compare/{comparison.pk}/share/new/", {"hide_system_prompt": "on", "hide_parameters": "on"}
    )
    assert hiding.status_code == 302
    hidden = ShareLink.objects.filter(comparison=comparison).first()
    assert hidden.hide_parameters and hidden.expires_at is None
    shared = Client().get(f"/s/{hidden.token}/").context["page"]
    assert shared["system_prompt"] == "" and shared["hide_parameters"] is True
    assert all(c["params"] == {} and c["data"]["sampling_options"] is None for c in shared["columns"])
    assert "Be brief." not in Client().get(f"/s/{hidden.token}/").content.decode()

    # Expired and revoked links answer 410; others may not revoke (viewer 403 once shared, outsider 404).
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = Client().get(f"/s/{link.token}/")
    assert response.status_code == 410 and "This link has expired" in response.content.decode()
    assert as_user(users["otto"]).post(f"/share/{hidden.pk}/revoke/").status_code == 404
    assert as_user(users["vera"]).post(f"/share/{hidden.pk}/revoke/").status_code == 404
    ann.post(f"/compare/{comparison.pk}/visibility/", {"visibility": "workspace"})
    assert as_user(users["vera"]).post(f"/share/{hidden.pk}/revoke/").status_code == 403
    revoked = ann.post(f"/share/{hidden.pk}/revoke/")
    assert revoked.status_code == 302 and revoked["Location"] == f"/compare/{comparison.pk}/share/"
    response = Client().get(f"/s/{hidden.token}/")
    assert response.status_code == 410 and "This link was revoked" in response.content.decode()


def test_running_a_saved_comparison_again_moves_it_to_the_new_runs_of_its_conversations() -> None:
    from tests.playground.test_teams import converse as team_converse

    world = team_comparison()
    comparison, users, runs = world["comparison"], world["users"], world["runs"]
    ann = as_user(users["ann"])
    api = f"/api/comparisons/{comparison.pk}/"
    again = [team_converse(users["ann"], "Name a colour", conversation_id=r.conversation_id) for r in runs]

    def patch(client: Client, columns: Any) -> Any:
        return client.patch(api, json.dumps({"columns": columns}), content_type="application/json")

    # A run of another column's conversation, too few columns, or someone else's run: refused.
    swapped = [{"model": MODEL, "run": again[1].pk}, {"model": MODEL, "run": again[0].pk}]
    assert patch(ann, swapped).json()["error"]["field"] == "columns[0].run"
    assert patch(ann, swapped[:1]).json()["error"]["field"] == "columns"
    other = team_converse(users["eddie"], "Name a colour", workspace_id=world["team"].pk)
    assert patch(ann, [{"model": MODEL, "run": other.pk}, swapped[0]]).status_code == 400

    columns = [
        {"label": f"t={i}", "model": MODEL, "params": {"temperature": 1}, "run": r.pk}
        for i, r in enumerate(again)
    ]
    response = patch(ann, columns)
    assert response.status_code == 200, response.content
    data = response.json()["comparison"]
    assert [c["run"] for c in data["columns"]] == [r.pk for r in again]
    assert [c["conversation"] for c in data["columns"]] == [r.conversation_id for r in runs]
    assert [c["data"]["id"] for c in data["columns"]] == [r.pk for r in again]
    assert Comparison.objects.count() == 1


def test_saved_comparisons_are_renamed_and_deleted_from_the_list_by_whoever_may() -> None:
    world = team_comparison()
    comparison, users = world["comparison"], world["users"]
    ann, vera = as_user(users["ann"]), as_user(users["vera"])
    ann.post(f"/compare/{comparison.pk}/visibility/", {"visibility": "workspace"})
    for client in (ann, vera):
        client.post("/workspaces/switch/", {"workspace": world["team"].pk})
    page = ann.get("/comparisons/").content.decode()
    assert 'data-testid="comparison-rename-toggle"' in page and 'data-testid="comparison-delete"' in page
    assert "data-confirm=" in page  # deleting asks first
    # A viewer sees the row but is offered neither, and the server refuses both.
    page = vera.get("/comparisons/").content.decode()
    assert 'data-testid="comparison-row"' in page
    assert "comparison-rename-toggle" not in page and "comparison-delete" not in page
    assert vera.post(f"/comparisons/{comparison.pk}/rename/", {"title": "Mine"}).status_code == 403
    assert vera.post(f"/comparisons/{comparison.pk}/delete/").status_code == 403
    otto = as_user(users["otto"])
    assert otto.post(f"/comparisons/{comparison.pk}/rename/", {"title": "x"}).status_code == 404

    rename = f"/comparisons/{comparison.pk}/rename/"
    response = ann.post(rename, {"title": "  Colours,   two ways "}, follow=True)
    assert "Renamed to “Colours, two ways”." in response.content.decode()
    comparison.refresh_from_db()
    assert comparison.title == "Colours, two ways"
    assert "Colours, two ways" in vera.get("/comparisons/").content.decode()
    response = ann.post(f"/comparisons/{comparison.pk}/rename/", {"title": "x" * 201}, follow=True)
    assert "1 to 200 characters" in response.content.decode()
    assert Comparison.objects.get(pk=comparison.pk).title == "Colours, two ways"

    response = ann.post(f"/comparisons/{comparison.pk}/delete/", follow=True)
    assert "Deleted “Colours, two ways”" in response.content.decode()
    assert not Comparison.objects.filter(pk=comparison.pk).exists()
    assert all(r.__class__.objects.filter(pk=r.pk).exists() for r in world["runs"])  # the runs stay
    assert 'data-testid="comparisons-empty"' in ann.get("/comparisons/").content.decode()
