"""Which price a run gets (defaults file, workspace overrides, deployments), the writes' checks and
permissions, and the sums per conversation and per workspace per day."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError

from playground.models import Conversation, Membership, Role, Run, Workspace
from playground.pricing import defaults
from playground.pricing.selectors import conversation_cost, price_for, workspace_daily_cost
from playground.pricing.services import model_price_delete, model_price_set
from proxy.pricing import Price

pytestmark = pytest.mark.django_db

LLAMA_8B = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DEPLOYMENT = "accounts/ada/deployments/abc123"


@pytest.fixture
def ada() -> Any:
    return get_user_model().objects.create_user("ada", password="pw-for-tests-only")


@pytest.fixture
def team(ada: Any) -> Workspace:
    workspace = Workspace.objects.create(name="Team", slug="team")
    Membership.objects.create(workspace=workspace, user=ada, role=Role.OWNER)
    return workspace


def test_the_built_in_defaults_file_names_its_source_and_date_and_prices_the_emulators_models() -> None:
    data = json.loads(defaults.BUILT_IN.read_text())
    assert data["source"].startswith("https://fireworks.ai/") and data["as_of"]
    listed = defaults.price_list()
    assert listed.source == data["source"]
    assert listed.prices[LLAMA_8B] == Price(input=0.2, cached_input=0.1, output=0.2)


def test_a_model_without_any_price_has_none(team: Workspace) -> None:
    assert price_for(workspace_id=team.pk, model="accounts/someone/models/unknown") is None


def test_an_override_wins_over_the_default_in_its_workspace_only(ada: Any, team: Workspace) -> None:
    personal = Workspace.objects.get(personal_for=ada)
    model_price_set(user=ada, workspace_id=team.pk, model=LLAMA_8B, kind="override", input="1.5", output="3")
    assert price_for(workspace_id=team.pk, model=LLAMA_8B) == Price(input=1.5, cached_input=1.5, output=3.0)
    assert price_for(workspace_id=personal.pk, model=LLAMA_8B) == Price(
        input=0.2, cached_input=0.1, output=0.2
    )
    # Set again: replaced, not doubled; removed: the default again.
    row = model_price_set(
        user=ada,
        workspace_id=team.pk,
        model=LLAMA_8B,
        kind="override",
        input="1",
        cached_input="0.25",
        output="2",
    )
    assert price_for(workspace_id=team.pk, model=LLAMA_8B) == Price(input=1.0, cached_input=0.25, output=2.0)
    model_price_delete(user=ada, workspace_id=team.pk, price_id=row.pk)
    assert price_for(workspace_id=team.pk, model=LLAMA_8B) == Price(input=0.2, cached_input=0.1, output=0.2)


def test_a_deployment_is_priced_by_the_user(ada: Any, team: Workspace) -> None:
    assert price_for(workspace_id=team.pk, model=DEPLOYMENT) is None
    model_price_set(
        user=ada, workspace_id=team.pk, model=DEPLOYMENT, kind="deployment", input="0.4", output="0.4"
    )
    assert price_for(workspace_id=team.pk, model=DEPLOYMENT) == Price(input=0.4, output=0.4)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"input": "-1", "output": "1"}, "Input: a price cannot be negative."),
        ({"input": "1", "output": "abc"}, "Output: 'abc' is not a number"),
        ({"input": "1", "output": "50000"}, "above the 10000 limit"),
        ({"input": "", "output": "1"}, "Input: a price is needed"),
        ({"input": "1", "output": "1", "cached_input": "0.0000001"}, "at most 6 decimal places"),
        ({"input": "NaN", "output": "1"}, "finite number"),
        ({"input": "1", "output": "1", "model": "two words"}, "Model: an id has no spaces"),
        ({"input": "1", "output": "1", "model": ""}, "Model: give the model id"),
    ],
)
def test_bad_prices_get_a_clear_error_and_change_nothing(
    ada: Any, team: Workspace, fields: dict[str, Any], message: str
) -> None:
    model_price_set(user=ada, workspace_id=team.pk, model=LLAMA_8B, kind="override", input="1", output="2")
    with pytest.raises(ValidationError) as raised:
        model_price_set(user=ada, workspace_id=team.pk, kind="override", **{"model": LLAMA_8B, **fields})
    assert any(message in text for text in raised.value.messages), raised.value.messages
    assert price_for(workspace_id=team.pk, model=LLAMA_8B) == Price(input=1.0, output=2.0)


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_only_owners_set_prices(team: Workspace, role: str) -> None:
    bob = get_user_model().objects.create_user("bob", password="pw-for-tests-only")
    Membership.objects.create(workspace=team, user=bob, role=role)
    with pytest.raises(PermissionDenied):
        model_price_set(
            user=bob, workspace_id=team.pk, model=LLAMA_8B, kind="override", input="9", output="9"
        )
    assert price_for(workspace_id=team.pk, model=LLAMA_8B) == Price(input=0.2, cached_input=0.1, output=0.2)


def test_a_configured_defaults_file_replaces_the_built_in_one(tmp_path: Path, settings: Any) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps(
            {"source": "our contract", "as_of": "2026-01", "models": {"m/x": {"input": 2, "output": 4}}}
        )
    )
    settings.PLAYGROUND_PRICING_FILE = str(path)
    assert defaults.price_list().source == "our contract"
    assert (
        defaults.default_price("m/x") == Price(input=2, output=4) and defaults.default_price(LLAMA_8B) is None
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        (json.dumps({"models": {}}), "must say its 'source'"),
        (
            json.dumps({"source": "s", "as_of": "d", "models": {"m": {"input": -1, "output": 1}}}),
            "cannot be negative",
        ),
        (
            json.dumps({"source": "s", "as_of": "d", "models": {"m": {"output": 1}}}),
            "needs 'input' and 'output'",
        ),
    ],
)
def test_a_broken_defaults_file_is_refused_with_what_is_wrong(
    tmp_path: Path, settings: Any, content: str, message: str
) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    settings.PLAYGROUND_PRICING_FILE = str(path)
    with pytest.raises(ImproperlyConfigured, match=message):
        defaults.price_list()


def make_run(conversation: Conversation, total: float | None, when: datetime.datetime) -> Run:
    cost = None if total is None else {"input": total, "cached_input": 0.0, "output": 0.0, "total": total}
    run = Run.objects.create(conversation=conversation, model=LLAMA_8B, timings={"tokens": 3, "cost": cost})
    Run.objects.filter(pk=run.pk).update(started_at=when)
    return run


def test_a_conversation_costs_the_sum_of_its_runs(ada: Any, team: Workspace) -> None:
    conversation = Conversation.objects.create(owner=ada, workspace=team)
    now = datetime.datetime(2026, 3, 2, 12, tzinfo=datetime.UTC)
    make_run(conversation, 0.25, now)
    make_run(conversation, 0.5, now)
    make_run(conversation, None, now)
    assert conversation_cost(conversation_id=conversation.pk) == {"total": 0.75, "runs": 2, "unpriced": 1}


def test_a_workspace_costs_per_day_with_every_day_present(ada: Any, team: Workspace) -> None:
    conversation = Conversation.objects.create(owner=ada, workspace=team)
    other = Conversation.objects.create(owner=ada, workspace=Workspace.objects.get(personal_for=ada))
    day = datetime.datetime(2026, 3, 2, 23, 30, tzinfo=datetime.UTC)
    make_run(conversation, 0.1, day)
    make_run(conversation, 0.2, day - datetime.timedelta(hours=1))
    make_run(conversation, None, day)
    make_run(conversation, 1.0, day - datetime.timedelta(days=2))
    make_run(other, 9.0, day)  # another workspace's
    make_run(conversation, 5.0, day - datetime.timedelta(days=40))  # before the window
    rows = workspace_daily_cost(workspace_id=team.pk, days=7, today=datetime.date(2026, 3, 3))
    assert [r["day"] for r in rows] == [f"2026-02-{d}" for d in (25, 26, 27, 28)] + [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
    ]
    by_day = {r["day"]: r for r in rows}
    assert by_day["2026-03-02"]["total"] == pytest.approx(0.3) and by_day["2026-03-02"]["runs"] == 2
    assert by_day["2026-03-02"]["unpriced"] == 1
    assert by_day["2026-02-28"]["total"] == 1.0 and by_day["2026-03-03"]["total"] == 0
