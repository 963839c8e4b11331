"""The Pricing page and the workspace's Spending panel through the Django test client: owners set and
remove prices, other members read them, strangers get 404, a refusal keeps what was typed."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from playground.models import Conversation, Membership, Role, Run, Workspace
from playground.pricing.models import ModelPrice
from playground.pricing.selectors import price_for
from proxy.pricing import Price

pytestmark = pytest.mark.django_db

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def member(workspace: Workspace, name: str, role: str) -> Client:
    user = get_user_model().objects.create_user(name, password="a-long-passphrase-1")
    Membership.objects.create(workspace=workspace, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def team() -> Workspace:
    return Workspace.objects.create(name="Bakers", slug="bakers")


def test_an_owner_sets_edits_and_removes_a_price(team: Workspace) -> None:
    owner = member(team, "ada", Role.OWNER)
    page = owner.get(f"/workspaces/{team.pk}/pricing/")
    assert page.status_code == 200 and b'data-testid="price-form"' in page.content
    assert b"https://fireworks.ai/pricing" in page.content  # the defaults' source
    response = owner.post(
        f"/workspaces/{team.pk}/pricing/set/",
        {
            "model": MODEL,
            "kind": "override",
            "input": "1.25",
            "cached_input": "",
            "output": "5",
            "note": "contract",
        },
    )
    assert response.status_code == 302
    assert price_for(workspace_id=team.pk, model=MODEL) == Price(input=1.25, output=5.0)
    page = owner.get(f"/workspaces/{team.pk}/pricing/?model={MODEL}")
    assert b'value="1.25"' in page.content and b'value="5.00"' in page.content  # the form, filled to edit
    row = ModelPrice.objects.get(workspace=team)
    assert owner.post(f"/workspaces/{team.pk}/pricing/{row.pk}/delete/").status_code == 302
    assert price_for(workspace_id=team.pk, model=MODEL) == Price(input=0.2, cached_input=0.1, output=0.2)


def test_a_refused_price_says_why_and_keeps_what_was_typed(team: Workspace) -> None:
    owner = member(team, "ada", Role.OWNER)
    response = owner.post(
        f"/workspaces/{team.pk}/pricing/set/",
        {"model": "accounts/ada/deployments/x1", "kind": "deployment", "input": "0.3", "output": "1e9"},
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Nothing was saved" in text and "above the 10000 limit" in text
    assert 'value="accounts/ada/deployments/x1"' in text and 'value="1e9"' in text
    assert not ModelPrice.objects.exists()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_other_members_read_prices_but_cannot_set_them(team: Workspace, role: str) -> None:
    client = member(team, "bob", role)
    page = client.get(f"/workspaces/{team.pk}/pricing/")
    assert page.status_code == 200 and b'data-testid="pricing-read-only"' in page.content
    assert b'data-testid="price-form"' not in page.content
    response = client.post(
        f"/workspaces/{team.pk}/pricing/set/",
        {"model": MODEL, "kind": "override", "input": "9", "output": "9"},
    )
    assert response.status_code == 403 and not ModelPrice.objects.exists()


def test_strangers_do_not_see_a_workspaces_prices(team: Workspace) -> None:
    client = member(Workspace.objects.create(name="Other", slug="other"), "eve", Role.OWNER)
    assert client.get(f"/workspaces/{team.pk}/pricing/").status_code == 404
    response = client.post(
        f"/workspaces/{team.pk}/pricing/set/",
        {"model": MODEL, "kind": "override", "input": "1", "output": "1"},
    )
    assert response.status_code == 404 and not ModelPrice.objects.exists()


def test_the_workspace_page_sums_today_s_costs(team: Workspace) -> None:
    client = member(team, "ada", Role.OWNER)
    owner = get_user_model().objects.get(username="ada")
    conversation = Conversation.objects.create(owner=owner, workspace=team)
    for total in (0.0000125, 0.5):
        Run.objects.create(conversation=conversation, model=MODEL, timings={"cost": {"total": total}})
    page = client.get(f"/workspaces/{team.pk}/").content.decode()
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert f'data-day="{today}" data-usd="0.5000125"' in page
    assert "$0.5" in page and 'id="spending-data"' in page


def test_a_share_links_page_shows_each_replys_saved_cost() -> None:
    from playground.services import runs, sharing

    ada = get_user_model().objects.create_user("ada", password="a-long-passphrase-1")
    messages = [{"role": "user", "content": "Hello"}]
    run = runs.run_start(
        user=ada,
        conversation_id=None,
        mode="chat",
        model=MODEL,
        messages=messages,
        prompt=None,
        params={},
        extra={},
        request={"model": MODEL, "messages": messages},
    )
    total = (12 * 0.2 + 20 * 0.2) / 1e6
    runs.run_finish(
        run_id=run.pk,
        status="done",
        opened=None,
        output=[{"content": "Hi."}],
        usage={"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32},
        perf=None,
        timings={
            "tokens": 20,
            "cost": {"input": 12 * 0.2 / 1e6, "cached_input": 0.0, "output": 20 * 0.2 / 1e6, "total": total},
        },
        timeline=[],
        error=None,
        response_model=MODEL,
        finish_reasons={0: "stop"},
    )
    link = sharing.share_link_create(user=ada, conversation_id=run.conversation_id, hide_parameters=True)
    page = Client().get(f"/s/{link.token}/").content.decode()
    found = re.search(r'data-testid="shared-cost" data-usd="([^"]+)">cost \$0.0000064<', page)
    assert found and float(found.group(1)) == total


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0, "$0"),
        (0.0000234, "$0.0000234"),
        (0.012345, "$0.0123"),
        (0.5, "$0.5"),
        (1234.5, "$1,234.50"),
        (1e-9, "< $0.0000001"),
        (None, "—"),
        ("1", "—"),
    ],
)
def test_costs_are_written_like_the_pages_fmtcost(value: Any, shown: str) -> None:
    from playground.pricing.templatetags.pricing import usd

    assert usd(value) == shown
