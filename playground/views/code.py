"""View code: a saved run's exact request as Python, JavaScript and curl (playground/codegen.py)."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from playground import codegen
from playground.models import Run
from playground.selectors.conversations import run_get_for_user


@login_required
@require_GET
def run_code(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run's request in the four languages, with tabs and copy buttons (404 for others' runs)."""
    try:
        run = run_get_for_user(user=request.user, run_id=run_id)
    except Run.DoesNotExist:
        raise Http404("No such run.") from None
    snippets = codegen.snippets(run.request, endpoint=run.endpoint, **codegen.codegen_urls())
    tabs = [{"key": key, "label": label, "code": snippets[key]} for key, label in codegen.LANGUAGES]
    context = {
        "run": run,
        "tabs": tabs,
        "request_json": json.dumps(run.request, indent=2, ensure_ascii=False),
        "base_url": settings.FIREWORKS_BASE_URL,
    }
    return render(request, "playground/run_code.html", context)
