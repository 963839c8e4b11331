"""playground/jsonbody.py: the one reading of a JSON API view's body."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory

from playground.jsonbody import json_object, not_an_object


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"title": "x"}', {"title": "x"}),
        (b"", {}),
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'"text"', None),
    ],
)
def test_only_a_json_object_is_a_body(body: bytes, expected: object) -> None:
    request = RequestFactory().post("/api/", data=body, content_type="application/json")
    assert json_object(request) == expected


def test_anything_else_is_refused_with_the_field_named() -> None:
    response = not_an_object()
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "error": {"field": "body", "message": "The body must be a JSON object."}
    }
