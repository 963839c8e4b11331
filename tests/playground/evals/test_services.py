"""playground/evals/services.py and selectors.py: who may see and change test sets and evals, and the
setup errors said before anything runs (nothing is saved then)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.test import Client

from playground.evals import selectors, services, testsets
from playground.evals.models import EvalCell, EvalRun, TestSet
from playground.models import Conversation, Membership, personal_workspace_of
from playground.prompts.template import cell_start
from playground.services.workspaces import workspace_create
from tests.playground.evals.conftest import MODEL, PROMPT, make_eval

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(ada: Any) -> Any:
    workspace = workspace_create(user=ada, name="Team")
    bob = get_user_model().objects.create_user("bob")
    Membership.objects.create(workspace=workspace, user=bob, role="viewer")
    return workspace, bob


def test_test_sets_are_shared_by_role_like_presets(ada: Any, team: Any) -> None:
    workspace, bob = team
    rows = [{"values": {"q": "a"}, "expected": "A"}]
    private = services.test_set_create(
        user=ada, workspace_id=workspace.pk, name="mine", variables=["q"], rows=rows
    )
    shared = services.test_set_create(
        user=ada, workspace_id=workspace.pk, name="ours", variables=["q"], rows=rows, scope="workspace"
    )
    assert list(selectors.test_set_list_for_user(user=bob)) == [shared]
    with pytest.raises(TestSet.DoesNotExist):
        selectors.test_set_get_for_user(user=bob, test_set_id=private.pk)
    with pytest.raises(PermissionDenied):
        services.test_set_update(user=bob, test_set_id=shared.pk, name="taken over")
    with pytest.raises(PermissionDenied):  # a viewer makes nothing in the team
        services.test_set_create(user=bob, workspace_id=workspace.pk, name="x", variables=["q"], rows=rows)
    updated = services.test_set_update(user=ada, test_set_id=shared.pk, rows=[*rows, {"values": {"q": "b"}}])
    assert updated.rows[1] == {"values": {"q": "b"}, "expected": None}


def test_a_bad_import_saves_nothing(ada: Any) -> None:
    workspace = personal_workspace_of(ada.pk)
    with pytest.raises(testsets.TableError):
        services.test_set_import(
            user=ada, workspace_id=workspace.pk, name="x", data='q\nok\n"unclosed\n', filename="x.csv"
        )
    with pytest.raises(testsets.TableError):
        services.test_set_import(
            user=ada, workspace_id=workspace.pk, name="x", data='{"q": 1}\n{bad\n', filename="x.jsonl"
        )
    assert not TestSet.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompts": [{"start": {"messages": [{"role": "user", "content": "{{city}}"}]}}]}, "{{city}}"),
        ({"configs": [{"model": MODEL, "params": {"temperature": 9}}]}, "Configuration 1: temperature"),
        ({"configs": [{"model": ""}]}, "Configuration 1: choose a model."),
        ({"scorers": [{"kind": "regex", "pattern": "("}]}, "does not compile"),
        ({"scorers": [{"kind": "json_schema", "schema": "{"}]}, "The JSON schema is not JSON"),
        ({"samples": 11}, "Samples per row must be 1 to 10."),
        ({"concurrency": 0}, "Concurrency must be 1 to 32."),
        ({"sweep": {"param": "stop", "values": ["x"]}}, "Sweep: choose a numeric parameter"),
        ({"sweep": {"param": "temperature", "values": []}}, "Sweep: give the values to sweep"),
        ({"sweep": {"param": "temperature", "values": [0.5, 3]}}, "Sweep: temperature must be"),
        ({"sweep": {"param": "temperature", "values": [0.5, "0.5"]}}, "temperature=0.5 is given twice"),
        ({"sweep": {"param": "top_k", "values": [1.5]}}, "Sweep: top_k must be"),
        ({"sweep": {"param": "temperature", "values": [0], "config": 1}}, "Sweep: no such configuration."),
        ({"sweep": {"param": "temperature", "values": [i / 4 for i in range(9)]}}, "At most 8 columns"),
    ],
)
def test_setup_errors_are_said_and_nothing_is_saved(ada: Any, change: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "prompts": [PROMPT],
        "configs": [{"model": MODEL}],
        "scorers": [],
        "samples": 1,
        "concurrency": 4,
        **change,
    }
    with pytest.raises(services.EvalError) as caught:
        services.eval_create(
            user=ada,
            workspace_id=personal_workspace_of(ada.pk).pk,
            name="x",
            variables=["question"],
            rows=[{"values": {"question": "q"}}],
            **fields,
        )
    assert message in caught.value.messages[0]
    assert not EvalRun.objects.exists() and not Conversation.objects.exists()


def test_a_configuration_takes_a_preset_a_serving_tier_and_a_deployment(ada: Any) -> None:
    eval_run = make_eval(
        ada,
        2,
        samples=3,
        configs=[{"model": MODEL, "service_tier": "priority", "deployment": "accounts/me/deployments/d1"}],
    )
    config = eval_run.configs[0]
    assert config["model"] == f"{MODEL}#accounts/me/deployments/d1"
    assert config["params"]["service_tier"] == "priority"
    assert EvalCell.objects.filter(eval_run=eval_run).count() == 2 * 3
    frame = cell_start(prompt=eval_run.prompts[0], config=config, values={"question": "x"}, stream="s")
    assert (
        frame["messages"] == [{"role": "user", "content": "What is x?"}]
        and frame["system"] == "Answer in one word."
    )


def test_evals_are_seen_like_their_conversation_and_shared_by_its_links(ada: Any, team: Any) -> None:
    _, bob = team
    eval_run = make_eval(ada, 1)
    with pytest.raises(EvalRun.DoesNotExist):
        selectors.eval_get_for_user(user=bob, eval_id=eval_run.pk)
    link = services.eval_share_link_create(user=ada, eval_id=eval_run.pk)
    assert selectors.eval_for_viewer(user=None, share_token=link.token) == eval_run
    page = Client().get(f"/evals/s/{link.token}/")
    assert page.status_code == 200 and b'data-testid="shared-chip"' in page.content
    assert b"ev-stop" not in page.content and b"ev-export" not in page.content
    assert Client().get("/evals/s/nope/").status_code == 404


def test_an_eval_exports_every_request_answer_score_and_figure(ada: Any) -> None:
    eval_run = make_eval(ada, 1, scorers=[{"kind": "exact"}])
    cell = eval_run.cells.first()
    assert cell is not None
    services.cell_finish(
        cell_id=cell.pk,
        status="done",
        answer="zorble",
        figures={"ttft_ms": 12.5, "tokens": 3},
        usage={"prompt_tokens": 9, "completion_tokens": 3},
        scores=[{"kind": "exact", "passed": True, "score": 1.0, "detail": "equal"}],
        passed=True,
        error=None,
        attempts=1,
    )
    client = Client()
    client.force_login(ada)
    exported = client.get(f"/evals/{eval_run.pk}/export.json").json()["eval"]
    first = next(c for c in exported["cells"] if c["id"] == cell.pk)
    assert (first["answer"], first["passed"], first["figures"]["ttft_ms"], first["request"]) == (
        "zorble",
        True,
        12.5,
        None,
    )
    text = client.get(f"/evals/{eval_run.pk}/export.csv").content.decode()
    header, row = text.splitlines()[:2]
    assert header.startswith(
        "row,column,sample,question,expected,answer,status,passed,score:exact,detail:exact,ttft_ms"
    )
    assert row.startswith("1,llama,1,q0,zorble,zorble,done,True,1.0,equal,12.5")
    assert client.get(f"/evals/{eval_run.pk}/export.xml").status_code == 404


def test_repeated_samples_show_how_much_the_answers_vary(ada: Any) -> None:
    eval_run = make_eval(
        ada, 2, samples=3, configs=[{"model": MODEL}], scorers=[{"kind": "contains", "text": "a"}]
    )
    answers = {(0, 0): "a", (0, 1): "a ", (0, 2): "b", (1, 0): "x", (1, 1): "y", (1, 2): "z"}
    for cell in eval_run.cells.all():
        answer = answers[(cell.row, cell.sample)]
        services.cell_finish(
            cell_id=cell.pk,
            status="done",
            answer=answer,
            figures={"ttft_ms": 10.0 * (cell.row + 1)},
            usage=None,
            scores=[{"kind": "contains", "passed": "a" in answer, "score": 1.0, "detail": ""}],
            passed="a" in answer,
            error=None,
            attempts=1,
        )
    [column] = selectors.eval_data(eval_run)["columns"]
    summary = column["summary"]
    # Row 1: "a" twice (spaces aside) and "b": 2 distinct, agreement 2/3; row 2: 3 distinct, 1/3.
    assert summary["distinct_answers"] == 2.5
    assert summary["agreement"] == pytest.approx((2 / 3 + 1 / 3) / 2, abs=0.01)
    assert (summary["pass_rate"], summary["passed"], summary["scored"]) == (round(2 / 6, 4), 2, 6)
    assert summary["ttft_ms"] == {"mean": 15.0, "p95": 20.0}


def test_a_sweep_saves_one_configuration_per_value_and_charts_each_sample(ada: Any) -> None:
    eval_run = make_eval(
        ada,
        2,
        samples=2,
        configs=[{"label": "base", "model": MODEL, "params": {"max_tokens": 12, "temperature": 1}}],
        scorers=[{"kind": "contains", "text": "a"}, {"kind": "regex", "pattern": "^a$"}],
        sweep={"param": "temperature", "values": ["0", 0.5, 1.2]},
    )
    # The configurations saved are the expanded ones: named by the value, recording the axis.
    assert [(c["label"], c["params"], c["sweep"]) for c in eval_run.configs] == [
        ("temperature=0", {"max_tokens": 12, "temperature": 0.0}, {"param": "temperature", "value": 0.0}),
        ("temperature=0.5", {"max_tokens": 12, "temperature": 0.5}, {"param": "temperature", "value": 0.5}),
        ("temperature=1.2", {"max_tokens": 12, "temperature": 1.2}, {"param": "temperature", "value": 1.2}),
    ]
    assert eval_run.cells.count() == 2 * 3 * 2
    # Column 0, sample 0 passes both scorers on both rows; sample 1 passes "contains" on one row only.
    answers = {(0, 0): "a", (1, 0): "a", (0, 1): "ab", (1, 1): "b"}
    for cell in eval_run.cells.filter(column=0):
        answer = answers[(cell.row, cell.sample)]
        scores = [
            {"kind": "contains", "passed": "a" in answer, "score": 1.0, "detail": ""},
            {"kind": "regex", "passed": answer == "a", "score": 1.0, "detail": ""},
        ]
        services.cell_finish(
            cell_id=cell.pk,
            status="done",
            answer=answer,
            figures={"ttft_ms": 10.0 * (cell.sample + 1), "tokens": 4 + cell.row},
            usage=None,
            scores=scores,
            passed=all(s["passed"] for s in scores),
            error=None,
            attempts=1,
        )
    columns = selectors.eval_data(eval_run)["columns"]
    assert [c["sweep"]["value"] for c in columns] == [0.0, 0.5, 1.2]
    first, second = columns[0]["samples"]
    assert (first["pass_rate"], first["scorer_pass_rates"], first["ended"]) == (1.0, [1.0, 1.0], 2)
    assert (second["pass_rate"], second["scorer_pass_rates"]) == (0.0, [0.5, 0.0])
    assert (first["ttft_ms"]["mean"], second["ttft_ms"]["mean"], first["reply_tokens"]["mean"]) == (
        10.0,
        20.0,
        4.5,
    )
    # Columns not run yet: each sample has nothing ended.
    assert [s["ended"] for s in columns[2]["samples"]] == [0, 0]
