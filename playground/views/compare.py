"""Compare, sweep, replay and presentation pages, and the comparisons' JSON endpoints.

The streams themselves go over the websocket (one ``chat.start`` per column); these views render the
pages, save a comparison once its columns' runs exist (and move it to the new runs when it is run
again in place), and hand saved runs to the client-side replay. A comparison follows the conversation
rules: one the user may not view is a 404, an action their role does not allow a 403.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground.current import current_workspace_id
from playground.forms.conversations import RenameForm
from playground.jsonbody import json_object, not_an_object
from playground.models import Comparison, Membership, Run
from playground.params import registry_json, server_kind
from playground.selectors.comparisons import (
    comparison_get_for_user,
    comparison_list_for_user,
    comparison_page_data,
    comparison_rights,
    run_latest_recorded,
    run_replay_for_user,
)
from playground.services.comparisons import (
    ComparisonError,
    comparison_create,
    comparison_delete,
    comparison_rename,
    comparison_update_runs,
)
from playground.views.playground import WEBSOCKET_PATH
from proxy.frames import parse_start
from proxy.protocol import FrameError


def _config(request: HttpRequest, **more: Any) -> dict[str, Any]:
    return {
        "default_model": settings.PLAYGROUND_DEFAULT_MODEL,
        "emulator": server_kind(settings.FIREWORKS_BASE_URL) == "emulator",
        "ws_path": WEBSOCKET_PATH,
        **more,
    }


def _comparison_or_404(request: HttpRequest, comparison_id: int) -> dict[str, Any]:
    try:
        return comparison_page_data(user=request.user, comparison_id=comparison_id)
    except Comparison.DoesNotExist:
        raise Http404("No such comparison.") from None


@login_required
@require_GET
def compare_page(request: HttpRequest, comparison_id: int | None = None) -> HttpResponse:
    """The compare page: empty, or a saved comparison (``/compare/<id>/``) with its columns' runs."""
    comparison = _comparison_or_404(request, comparison_id) if comparison_id is not None else None
    if comparison is not None and comparison["rights"]["can_share"]:
        comparison["share_url"] = reverse("comparison_share_links", args=[comparison_id])
    context = {"registry": registry_json(), "config": _config(request, comparison=comparison)}
    return render(request, "playground/compare.html", context)


@login_required
@require_GET
def comparison_list(request: HttpRequest) -> HttpResponse:
    """The saved comparisons of the current workspace the user may see, newest first."""
    role = Membership.objects.filter(workspace_id=OuterRef("workspace_id"), user=request.user).values("role")
    comparisons = list(
        comparison_list_for_user(user=request.user, workspace_id=current_workspace_id(request))
        .select_related("owner")
        .annotate(member_role=Subquery(role[:1]))[:200]
    )
    for comparison in comparisons:
        comparison.rights = comparison_rights(comparison, user=request.user)
    return render(request, "playground/comparisons.html", {"comparisons": comparisons})


@login_required
@require_POST
def comparison_rename_view(request: HttpRequest, comparison_id: int) -> HttpResponse:
    """Rename a saved comparison from the list (editors and owners who see it)."""
    form = RenameForm(request.POST)
    try:
        if not form.is_valid():
            raise ComparisonError("title", "A title needs 1 to 200 characters.")
        comparison = comparison_rename(
            user=request.user, comparison_id=comparison_id, title=form.cleaned_data["title"]
        )
    except Comparison.DoesNotExist:
        raise Http404("No such comparison.") from None
    except ComparisonError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Renamed to “{comparison}”.")
    return redirect("comparison_list")


@login_required
@require_POST
def comparison_delete_view(request: HttpRequest, comparison_id: int) -> HttpResponse:
    """Delete a saved comparison from the list (its author or a workspace owner); the runs stay."""
    try:
        comparison = comparison_get_for_user(user=request.user, comparison_id=comparison_id, action="delete")
    except Comparison.DoesNotExist:
        raise Http404("No such comparison.") from None
    name = str(comparison)
    comparison_delete(comparison=comparison)
    messages.success(request, f"Deleted “{name}”. Its columns' conversations and runs are kept.")
    return redirect("comparison_list")


@login_required
@require_http_methods(["GET", "POST"])
def api_comparisons(request: HttpRequest) -> JsonResponse:
    """GET: the user's comparisons. POST (JSON): save one from runs the page made."""
    if request.method == "GET":
        rows = comparison_list_for_user(user=request.user, workspace_id=current_workspace_id(request))
        items = [
            {
                "id": r["pk"],
                "title": r["title"],
                "kind": r["kind"],
                "visibility": r["visibility"],
                "created_at": r["created_at"].isoformat(),
            }
            for r in rows.values("pk", "title", "kind", "visibility", "created_at")[:200]
        ]
        return JsonResponse({"comparisons": items})
    data = json_object(request)
    if data is None:
        return not_an_object()
    try:
        comparison = comparison_create(
            owner=request.user,
            columns=data.get("columns"),
            system_prompt=data.get("system_prompt") or "",
            messages=data.get("messages"),
            title=data.get("title") or "",
            kind=data.get("kind") or Comparison.Kind.COMPARE,
            sweep=data.get("sweep"),
        )
    except ComparisonError as exc:
        return JsonResponse({"error": {"field": exc.field, "message": exc.message}}, status=400)
    url = reverse("comparison", args=[comparison.pk])
    # What the page shows for a saved comparison (its owner may share it): the visibility and Share….
    share_url = reverse("comparison_share_links", args=[comparison.pk])
    body = {"id": comparison.pk, "url": url, "visibility": comparison.visibility, "share_url": share_url}
    return JsonResponse({"comparison": body}, status=201)


@login_required
@require_http_methods(["GET", "PATCH", "DELETE"])
def api_comparison(request: HttpRequest, comparison_id: int) -> JsonResponse:
    """GET: a comparison with its columns' runs. PATCH (JSON ``{columns}``): after running it again in
    place, each column's new run. DELETE: delete it (the runs stay)."""
    data = _comparison_or_404(request, comparison_id)
    forbidden = JsonResponse(
        {"error": {"field": "comparison", "message": "Your role cannot do that."}}, status=403
    )
    if request.method == "DELETE":
        try:
            comparison = comparison_get_for_user(
                user=request.user, comparison_id=comparison_id, action="delete"
            )
        except PermissionDenied:
            return forbidden
        comparison_delete(comparison=comparison)
        return JsonResponse({"deleted": comparison_id})
    if request.method == "PATCH":
        body = json_object(request)
        if body is None:
            return not_an_object()
        try:
            comparison_update_runs(
                user=request.user, comparison_id=comparison_id, columns=body.get("columns")
            )
        except PermissionDenied:
            return forbidden
        except ComparisonError as exc:
            return JsonResponse({"error": {"field": exc.field, "message": exc.message}}, status=400)
        data = _comparison_or_404(request, comparison_id)
    return JsonResponse({"comparison": data})


def _replay_or_404(request: HttpRequest, run_id: int) -> dict[str, Any]:
    try:
        return run_replay_for_user(user=request.user, run_id=run_id)
    except Run.DoesNotExist:
        raise Http404("No such run.") from None


@login_required
@require_GET
def run_replay_json(request: HttpRequest, run_id: int) -> JsonResponse:
    """A saved run's reply, metrics and chunk timeline, for the client-side replay."""
    return JsonResponse({"run": _replay_or_404(request, run_id)})


@login_required
@require_GET
def run_replay(request: HttpRequest, run_id: int) -> HttpResponse:
    """Replay a saved run at its recorded pace (1x, 2x, 4x) in the browser, without calling the API."""
    run = _replay_or_404(request, run_id)
    return render(request, "playground/replay.html", {"run": run, "config": _config(request, run=run)})


@login_required
@require_POST
def api_recorded_run(request: HttpRequest) -> JsonResponse:
    """The most recent successful run of a prompt and configuration (the fields of a ``chat.start``),
    for a slot on stage switched to a replay: ``{"run": replay data}``, or ``{"run": null}``."""
    fields = json_object(request)
    if fields is None:
        return not_an_object()
    try:
        # The exact body this configuration sends, built by the one request builder.
        start = parse_start({**fields, "stream": "recorded"})
    except FrameError as exc:
        return JsonResponse({"error": {"field": exc.param or "body", "message": exc.message}}, status=400)
    run = run_latest_recorded(user=request.user, request=start.body, endpoint=start.mode)
    return JsonResponse({"run": run})


@login_required
@require_GET
def present_page(request: HttpRequest) -> HttpResponse:
    """Presentation mode: large type, a prepared queue of prompts stepped through with one key."""
    return render(
        request, "playground/present.html", {"registry": registry_json(), "config": _config(request)}
    )
