"""Comparisons through the Django test client: save from runs, reopen, list, other users' 404s, the
refusals (a run that is not yours, an out-of-range parameter), a run's replay data and the pages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from playground.models import Comparison
from tests.test_conversation_views import converse

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
    assert data["columns"][0]["data"]["timeline"] == [[0, 20.0, 0, "Sure", None], [1, 60.0, 0, ".", None]]
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
    assert data["timeline"] == [[0, 20.0, 0, "Sure", None], [1, 60.0, 0, ".", None]]
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
