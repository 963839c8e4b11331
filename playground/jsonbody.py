"""A JSON API view's request body: one reading of it for every view that takes a JSON object."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse

BODY_IS_NOT_AN_OBJECT = "The body must be a JSON object."


def json_object(request: HttpRequest) -> dict[str, Any] | None:
    """The request's body as a JSON object (an empty body is ``{}``); None when it is not valid JSON or
    not an object."""
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def not_an_object() -> JsonResponse:
    """The answer to a body that is not a JSON object."""
    return JsonResponse({"error": {"field": "body", "message": BODY_IS_NOT_AN_OBJECT}}, status=400)
