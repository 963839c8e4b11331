"""playground/evals/views.py: the test-set API (typed in, imported, refused line by line) and its exports,
the eval setup endpoint's refusals, and pages for someone who may not see them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from playground.evals.models import EvalRun, TestSet
from tests.playground.evals.conftest import MODEL, make_eval

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(ada: Any) -> Client:
    client = Client()
    client.force_login(ada)
    return client


def test_typed_in_then_saved_then_exported_as_jsonl_and_imported_back(client: Client) -> None:
    rows = [
        {"values": {"city": "Paris", "style": "terse"}, "expected": "France"},
        {"values": {"city": "Oslo", "style": ""}},
    ]
    made = client.post(
        "/api/evals/sets/",
        {"name": "Cities", "variables": ["city", "style"], "rows": rows},
        content_type="application/json",
    )
    assert made.status_code == 201
    test_set = made.json()["test_set"]
    assert test_set["rows"][1] == {"values": {"city": "Oslo", "style": ""}, "expected": None}
    exported = client.get(f"/evals/sets/{test_set['id']}/export.jsonl")
    assert exported.content.decode().splitlines() == [
        '{"city": "Paris", "style": "terse", "expected": "France"}',
        '{"city": "Oslo", "style": ""}',
    ]
    upload = SimpleUploadedFile("again.jsonl", exported.content, content_type="application/x-ndjson")
    again = client.post("/api/evals/sets/", {"file": upload})
    assert again.status_code == 201
    assert (
        again.json()["test_set"]["rows"] == test_set["rows"] and again.json()["test_set"]["name"] == "again"
    )


def test_a_bad_file_is_refused_with_each_bad_line(client: Client) -> None:
    upload = SimpleUploadedFile("bad.jsonl", b'{"q": "a"}\n{"q": [1]}\nnope\n')
    refused = client.post("/api/evals/sets/", {"file": upload})
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "field": "rows",
        "message": "Nothing was imported.",
        "lines": [
            "line 2, q must be text (or a number), not list.",
            "line 3: not JSON (Expecting value: line 1 column 1 (char 0)).",
        ],
    }
    binary = client.post("/api/evals/sets/", {"file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00")})
    assert binary.json()["error"]["message"] == "The file is not UTF-8 text."
    assert not TestSet.objects.exists()


def test_the_setup_endpoint_says_what_is_wrong(client: Client) -> None:
    body = {"name": "x", "test_set": 999, "prompts": [], "configs": [{"model": MODEL}]}
    answer = client.post("/evals/new/", body, content_type="application/json")
    assert (answer.status_code, answer.json()["error"]["message"]) == (400, "No such test set.")
    assert client.get("/evals/new/").status_code == 200
    assert not EvalRun.objects.exists()


def test_someone_elses_eval_and_test_set_are_not_found(ada: Any) -> None:
    eval_run = make_eval(ada, 1)
    bob = get_user_model().objects.create_user("bob")
    other = Client()
    other.force_login(bob)
    for url in (f"/evals/{eval_run.pk}/", f"/evals/{eval_run.pk}/data/", f"/evals/{eval_run.pk}/export.csv"):
        assert other.get(url).status_code == 404
    assert other.post(f"/evals/{eval_run.pk}/share/").status_code == 404
    assert other.post(f"/evals/{eval_run.pk}/rerun/").status_code == 404
    assert EvalRun.objects.count() == 1


def test_the_list_and_the_columns_summary(client: Client, ada: Any) -> None:
    eval_run = make_eval(ada, 3)
    page = client.get("/evals/")
    assert page.status_code == 200 and b"capitals" in page.content
    assert b'<td class="num">6</td>' in page.content  # 3 rows x 2 configurations
    columns = client.get(f"/evals/{eval_run.pk}/data/?part=columns").json()["eval"]["columns"]
    assert [(c["label"], c["summary"]["cells"], c["summary"]["finished"]) for c in columns] == [
        ("llama", 3, 0),
        ("qwen", 3, 0),
    ]
