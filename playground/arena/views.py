"""The arena's pages: the presenter's list and setup, the stage, the audience's phone page (no sign-in),
the results (and their CSV and JSON export), the QR code of the audience link. The rounds themselves go
over ``/ws/arena/`` (proxy/arena.py)."""

from __future__ import annotations

import csv
import io
import json
import secrets
from typing import Any

import segno
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from playground.arena import selectors, services
from playground.arena.models import Arena, PromptStatus
from playground.current import current_workspace_id
from playground.jsonbody import json_object, not_an_object
from playground.models import Workspace
from playground.params import registry_json, server_kind
from playground.views.playground import WEBSOCKET_PATH
from proxy.arena import VOTER_COOKIE, VOTER_MAX_AGE, voter_cookie_value, voter_token

WS_PATH = "/ws/arena/"


def _emulator() -> bool:
    from django.conf import settings

    return server_kind(settings.FIREWORKS_BASE_URL) == "emulator"


def _arena_or_404(request: HttpRequest, arena_id: int, action: str = "run") -> Arena:
    try:
        return selectors.arena_get_for_user(user=request.user, arena_id=arena_id, action=action)
    except Arena.DoesNotExist:
        raise Http404("No such arena.") from None


def _link_or_404(token: str) -> Arena:
    try:
        return selectors.arena_for_link(token=token)
    except Arena.DoesNotExist:
        raise Http404("No such arena, or its link was revoked.") from None


def audience_url(request: HttpRequest, arena: Arena) -> str:
    """The absolute address of the audience's page (what the QR code says)."""
    return request.build_absolute_uri(reverse("arena_audience", args=[arena.share_token]))


@login_required
@require_GET
def arena_list(request: HttpRequest) -> HttpResponse:
    """The user's arenas in the current workspace, and the setup of a new one."""
    arenas = selectors.arena_list_for_user(user=request.user, workspace_id=current_workspace_id(request))
    from django.conf import settings

    config = {
        "default_model": settings.PLAYGROUND_DEFAULT_MODEL,
        "create_url": reverse("api_arenas"),
        **selectors.arena_sources_for_user(user=request.user, workspace_id=current_workspace_id(request)),
    }
    context = {"arenas": arenas[:100], "registry": registry_json(), "config": config}
    return render(request, "arena/list.html", context)


@login_required
@require_http_methods(["POST"])
def api_arenas(request: HttpRequest) -> JsonResponse:
    """Create an arena: ``{title, system?, configs: [{model, params?, extra?, system?, label?, preset?,
    version?, variable?}],
    prompts: [text]}``; errors as ``{"error": {"field", "message"}}``."""
    body = json_object(request)
    if body is None:
        return not_an_object()
    workspace_id = current_workspace_id(request)
    if workspace_id is None:
        return JsonResponse({"error": {"field": "workspace", "message": "No current workspace."}}, status=400)
    try:
        arena = services.arena_create(
            user=request.user,
            workspace_id=workspace_id,
            title=body.get("title", ""),
            configs=body.get("configs"),
            prompts=body.get("prompts"),
            system_prompt=body.get("system") or "",
        )
    except services.ArenaError as exc:
        return JsonResponse({"error": {"field": exc.field, "message": exc.text}}, status=400)
    except (PermissionDenied, Workspace.DoesNotExist) as exc:
        return JsonResponse({"error": {"field": "workspace", "message": str(exc)}}, status=403)
    return JsonResponse(
        {"arena": {"id": arena.pk, "url": reverse("arena_stage", args=[arena.pk])}}, status=201
    )


@login_required
@require_GET
def arena_stage(request: HttpRequest, arena_id: int) -> HttpResponse:
    """The stage: projected, blind until each reveal, with the QR code of the audience link."""
    arena = _arena_or_404(request, arena_id)
    # A prompt left streaming by a server that is gone can be sent again (README.md, "Interrupted").
    services.arena_interrupt_orphans(arena_id=arena.pk)
    config = {
        "arena": arena.pk,
        "title": arena.title,
        "ws_path": WS_PATH,
        "audience_url": audience_url(request, arena),
        "results_url": reverse("arena_results", args=[arena.pk]),
        "emulator": _emulator(),
        # The readiness check (panels/readiness.js) probes the configurations over the chat socket; they
        # are the presenter's, named on this page only (never in an audience frame or page).
        "probe_ws_path": WEBSOCKET_PATH,
        "workspace": arena.workspace_id,
        "configs": selectors.arena_probe_configs(arena),
    }
    started = arena.prompts.exclude(status=PromptStatus.QUEUED).exists()
    context = {
        "arena": arena,
        "config": config,
        "qr_url": reverse("arena_qr", args=[arena.pk]),
        "readiness_open": not started,
    }
    return render(request, "arena/stage.html", context)


@login_required
@require_GET
def arena_qr(request: HttpRequest, arena_id: int) -> HttpResponse:
    """The audience link as a QR code (SVG, drawn by segno)."""
    arena = _arena_or_404(request, arena_id)
    qr = segno.make(audience_url(request, arena), error="m")
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=8, border=2, dark="#111111", light="#ffffff", xmldecl=False)
    return HttpResponse(out.getvalue(), content_type="image/svg+xml")


@require_GET
def arena_audience(request: HttpRequest, token: str) -> HttpResponse:
    """A phone's page (no sign-in): the answers live as "A", "B", … and the vote. It gives the browser
    a signed voter cookie, the one identity its votes are counted by."""
    arena = _link_or_404(token)
    config = {
        "token": token,
        "title": arena.title,
        "ws_path": WS_PATH,
        "results_url": reverse("arena_shared_results", args=[token]),
    }
    response = render(request, "arena/audience.html", {"title": arena.title, "config": config})
    if voter_token(request.COOKIES) is None:
        response.set_cookie(
            VOTER_COOKIE,
            voter_cookie_value(secrets.token_urlsafe(18)),
            max_age=VOTER_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


def _results_page(request: HttpRequest, arena: Arena, *, shared: bool, token: str = "") -> HttpResponse:
    results = selectors.arena_results(arena)
    base = (
        reverse("arena_shared_results", args=[token]) if shared else reverse("arena_results", args=[arena.pk])
    )
    context = {"results": results, "shared": shared, "arena": arena, "export_base": base}
    return render(request, "arena/results.html", context)


def _export(results: dict[str, Any], kind: str) -> HttpResponse:
    if kind not in ("csv", "json"):
        raise Http404("Results export as results.csv or results.json.")
    name = f"arena-{results['arena']}-results"
    if kind == "json":
        response = HttpResponse(json.dumps(results, indent=2), content_type="application/json")
    else:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "scope",
                "prompt",
                "config",
                "label",
                "model",
                "slot",
                "wins",
                "votes",
                "win_rate",
                "ci95_low",
                "ci95_high",
                "void",
                "self_named",
            ]
        )
        for c in results["configs"]:
            writer.writerow(
                [
                    "overall",
                    "",
                    c["config"],
                    c["label"],
                    c["model"],
                    "",
                    c["wins"],
                    c["n"],
                    c["rate"],
                    c["low"],
                    c["high"],
                    "",
                    "",
                ]
            )
        for p in results["prompts"]:
            for a in p["answers"]:
                writer.writerow(
                    [
                        "prompt",
                        p["position"] + 1,
                        a["config"],
                        a["label"],
                        a["model"],
                        a["slot"],
                        a["wins"],
                        a["n"],
                        a["rate"],
                        a["low"],
                        a["high"],
                        p["void"],
                        " ".join(a["self_named"]),
                    ]
                )
        response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    return response


@login_required
@require_GET
def arena_results(request: HttpRequest, arena_id: int, kind: str = "") -> HttpResponse:
    """The results of the revealed prompts (page, or ``results.csv`` / ``results.json``)."""
    arena = _arena_or_404(request, arena_id, action="view")
    if kind:
        return _export(selectors.arena_results(arena), kind)
    return _results_page(request, arena, shared=False)


@require_GET
def arena_shared_results(request: HttpRequest, token: str, kind: str = "") -> HttpResponse:
    """The same results, read-only, to anyone with the audience link."""
    arena = _link_or_404(token)
    if kind:
        return _export(selectors.arena_results(arena), kind)
    return _results_page(request, arena, shared=True, token=token)
