"""The arena's pages: the audience's page without signing in (and without a model name), the QR code of
its link, the stage for its presenter only, creating through the API, the results and their export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
import segno
from django.contrib.auth import get_user_model
from django.test import Client

from playground.arena import services
from playground.arena.models import Arena, ArenaAnswer
from proxy.arena import VOTER_COOKIE, voter_token

pytestmark = pytest.mark.django_db

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DEEPSEEK = "accounts/fireworks/models/deepseek-v3"


@pytest.fixture
def alice() -> Any:
    return get_user_model().objects.create_user("alice")


@pytest.fixture
def arena(alice: Any) -> Arena:
    return services.arena_create(
        user=alice,
        workspace_id=alice.memberships.get().workspace_id,
        title="Rainbows",
        configs=[{"model": LLAMA, "params": {"temperature": 0.3}, "label": "Zephyrus"}, {"model": DEEPSEEK}],
        prompts=["Explain a rainbow."],
    )


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_audience_page_needs_no_sign_in_names_no_model_and_gives_a_voter_cookie(arena: Arena) -> None:
    response = Client().get(f"/a/{arena.share_token}/")
    assert response.status_code == 200
    html = response.content.decode().lower()
    for word in ("llama", "deepseek", "temperature", "zephyrus"):
        assert word not in html
    assert "rainbows" in html
    cookie = response.cookies[VOTER_COOKIE]
    assert cookie["httponly"] and voter_token({VOTER_COOKIE: cookie.value})
    # The same browser keeps its identity: no new cookie on the next visit.
    client = Client()
    client.cookies[VOTER_COOKIE] = cookie.value
    assert VOTER_COOKIE not in client.get(f"/a/{arena.share_token}/").cookies
    # A tampered cookie is no identity.
    assert voter_token({VOTER_COOKIE: cookie.value[:-2] + "xx"}) is None


def test_a_revoked_or_unknown_link_is_a_404(alice: Any, arena: Arena) -> None:
    assert Client().get("/a/nope/").status_code == 404
    services.arena_link_revoke(user=alice, arena_id=arena.pk)
    assert Client().get(f"/a/{arena.share_token}/").status_code == 404


def test_the_qr_code_is_the_audience_link(alice: Any, arena: Arena) -> None:
    response = signed_in(alice).get(f"/arena/{arena.pk}/qr.svg")
    assert response["Content-Type"] == "image/svg+xml"
    expected = io.BytesIO()
    url = f"http://testserver/a/{arena.share_token}/"
    segno.make(url, error="m").save(
        expected, kind="svg", scale=8, border=2, dark="#111111", light="#ffffff", xmldecl=False
    )
    assert response.content == expected.getvalue()


def test_the_stage_is_its_presenters_only(alice: Any, arena: Arena) -> None:
    assert Client().get(f"/arena/{arena.pk}/").status_code == 302  # to sign in
    bob = get_user_model().objects.create_user("bob")
    assert signed_in(bob).get(f"/arena/{arena.pk}/").status_code == 404
    page = signed_in(alice).get(f"/arena/{arena.pk}/")
    assert page.status_code == 200 and f"/a/{arena.share_token}/" in page.content.decode()


def test_creating_through_the_api(alice: Any) -> None:
    client = signed_in(alice)
    body = {
        "title": "A/B",
        "configs": [{"model": LLAMA}, {"model": DEEPSEEK, "params": {"top_p": 0.5}}],
        "prompts": ["p"],
    }
    response = client.post("/api/arenas/", json.dumps(body), content_type="application/json")
    assert response.status_code == 201
    created = Arena.objects.get(pk=response.json()["arena"]["id"])
    assert [c.params for c in created.configs.all()] == [{}, {"top_p": 0.5}]
    body["configs"][1]["params"] = {"top_p": 7}
    refused = client.post("/api/arenas/", json.dumps(body), content_type="application/json")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "configs[1].params"


def test_results_and_their_export_show_revealed_rounds_only(alice: Any, arena: Arena) -> None:
    shared = Client()
    before = shared.get(f"/a/{arena.share_token}/results/").content.decode().lower()
    assert "llama" not in before and "deepseek" not in before and "no prompt has been revealed" in before
    services.arena_prompt_send(user=alice, arena_id=arena.pk, position=0)
    for answer in ArenaAnswer.objects.all():
        services.arena_answer_finish(answer_id=answer.pk, status="done", text="hello")
    llama = ArenaAnswer.objects.get(config__model=LLAMA).slot
    for n in range(3):
        services.arena_vote(token=arena.share_token, voter=f"v{n}", position=0, choice=llama if n else "tie")
    services.arena_prompt_close(user=alice, arena_id=arena.pk, position=0)
    # Closed, not revealed: still nothing.
    assert "llama" not in shared.get(f"/a/{arena.share_token}/results.json").content.decode().lower()
    services.arena_prompt_reveal(user=alice, arena_id=arena.pk, position=0)
    data = json.loads(signed_in(alice).get(f"/arena/{arena.pk}/results.json").content)
    overall = {c["model"]: (c["wins"], c["n"]) for c in data["configs"]}
    assert overall == {LLAMA: (2, 3), DEEPSEEK: (0, 3)}
    rows = list(
        csv.DictReader(io.StringIO(shared.get(f"/a/{arena.share_token}/results.csv").content.decode()))
    )
    assert [(r["scope"], r["model"], r["wins"], r["votes"]) for r in rows] == [
        ("overall", LLAMA, "2", "3"),
        ("overall", DEEPSEEK, "0", "3"),
        ("prompt", LLAMA if llama == "A" else DEEPSEEK, *(("2", "3") if llama == "A" else ("0", "3"))),
        ("prompt", DEEPSEEK if llama == "A" else LLAMA, *(("0", "3") if llama == "A" else ("2", "3"))),
    ]
    assert shared.get(f"/a/{arena.share_token}/results.xml").status_code == 404


def test_the_setup_offers_the_presenters_presets_and_prompt_versions_not_anothers(alice: Any) -> None:
    from playground.prompts.services import prompt_create
    from playground.services.presets import preset_create

    bob = get_user_model().objects.create_user("bob")
    version = {"model": LLAMA, "messages": [{"role": "user", "content": "Q: {{question}} ({{tone}})"}]}
    for user, name in ((alice, "Mine"), (bob, "Bob's")):
        preset_create(owner=user, name=f"{name} preset", model=DEEPSEEK)
        prompt_create(user=user, workspace_id=user.memberships.get().workspace_id, name=name, version=version)
    page = signed_in(alice).get("/arena/")
    config = page.context["config"]
    assert [p["name"] for p in config["presets"]] == ["Mine preset"]
    assert [(v["name"], v["variables"]) for v in config["versions"]] == [("Mine v1", ["question", "tone"])]
    assert "Bob" not in page.content.decode()
