"""Saved prompts: the JSON endpoints the playground and the prompt page use, and the two pages.

A view reads the request, calls one service or selector and answers; errors are
``{"error": {"field", "message"}}`` (400), 403 when the user's role does not allow it, 404 for a prompt
they may not see (its existence is not revealed).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from playground.current import current_workspace_facts
from playground.jsonbody import json_object
from playground.models import Workspace
from playground.prompts import selectors, services
from playground.prompts.models import PromptVersion, SavedPrompt
from playground.prompts.services import PromptError

View = Callable[..., HttpResponse]


def _error(field: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"field": field, "message": message}}, status=status)


def _answers(view: View) -> View:
    """Turn the services' and selectors' refusals into the JSON errors (400, 403, 404)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PromptError as exc:
            return _error(exc.field, exc.message)
        except PermissionDenied as exc:
            return _error("role", str(exc) or "Your role does not allow that.", 403)
        except (SavedPrompt.DoesNotExist, PromptVersion.DoesNotExist, Workspace.DoesNotExist):
            return _error("prompt", "No such prompt.", 404)

    return wrapped


def _body(request: HttpRequest) -> dict[str, Any]:
    data = json_object(request)
    if data is None:
        raise PromptError("body", "The request body must be a JSON object.")
    return data


def _prompt_summary(prompt: SavedPrompt, *, user: Any) -> dict[str, Any]:
    return {
        "id": prompt.pk,
        "name": prompt.name,
        "scope": prompt.scope,
        "workspace": prompt.workspace_id,
        "owner": prompt.owner.get_username(),
        "latest": getattr(prompt, "latest", None),
        "versions": getattr(prompt, "version_count", None),
        "updated_at": prompt.updated_at.isoformat(),
    }


def _prompt_detail(prompt: SavedPrompt, *, user: Any) -> dict[str, Any]:
    versions = [selectors.version_data(v) for v in selectors.version_list(prompt)]
    return {
        "prompt": {
            **_prompt_summary(prompt, user=user),
            "latest": versions[0]["number"] if versions else None,
            "versions": len(versions),
            "rights": selectors.prompt_rights(prompt, user=user),
            "labels": {name: v["number"] for v in versions for name in v["labels"]},
        },
        "versions": versions,
    }


@login_required
@require_http_methods(["GET", "POST"])
@_answers
def api_prompts(request: HttpRequest) -> HttpResponse:
    """GET: the prompts the user sees here (their own and the current workspace's library). POST
    ``{name, scope, note, version}``: a new prompt with its first version (201)."""
    workspace = current_workspace_facts(request)
    if request.method == "GET":
        prompts = selectors.prompt_list_for_user(user=request.user, workspace_id=workspace["id"])
        listed = [_prompt_summary(p, user=request.user) for p in prompts.select_related("owner")]
        return JsonResponse({"prompts": listed, "workspace": workspace})
    data = _body(request)
    version = services.prompt_create(
        user=request.user,
        workspace_id=workspace["id"],
        name=data.get("name"),
        scope=data.get("scope", "personal"),
        version=data.get("version"),
        note=data.get("note", ""),
    )
    return JsonResponse(selectors.version_data(version), status=201)


@login_required
@require_http_methods(["GET", "DELETE"])
@_answers
def api_prompt(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """GET: the prompt with every version (newest first), its labels and the user's rights. DELETE."""
    if request.method == "DELETE":
        services.prompt_delete(user=request.user, prompt_id=prompt_id)
        return JsonResponse({"deleted": prompt_id})
    prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    return JsonResponse(_prompt_detail(prompt, user=request.user))


@login_required
@require_http_methods(["POST"])
@_answers
def api_versions(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """POST ``{note, version}``: save the next version (201)."""
    data = _body(request)
    version = services.version_create(
        user=request.user, prompt_id=prompt_id, version=data.get("version"), note=data.get("note", "")
    )
    return JsonResponse(selectors.version_data(version), status=201)


@login_required
@require_GET
@_answers
def api_version(request: HttpRequest, version_id: int) -> HttpResponse:
    """One version (to restore it into the playground)."""
    return JsonResponse(
        selectors.version_data(selectors.version_get_for_user(user=request.user, version_id=version_id))
    )


@login_required
@require_http_methods(["POST"])
@_answers
def api_labels(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """POST ``{name, version: version id}``: put the label on that version (moved if it was elsewhere)."""
    data = _body(request)
    services.label_set(
        user=request.user, prompt_id=prompt_id, name=data.get("name"), version_id=data.get("version")
    )
    prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    return JsonResponse(_prompt_detail(prompt, user=request.user))


@login_required
@require_http_methods(["DELETE"])
@_answers
def api_label(request: HttpRequest, prompt_id: int, name: str) -> HttpResponse:
    """DELETE: take the label off."""
    if not services.label_remove(user=request.user, prompt_id=prompt_id, name=name):
        return _error("name", f"This prompt has no label {name!r}.", 404)
    prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    return JsonResponse(_prompt_detail(prompt, user=request.user))


@login_required
@require_GET
@_answers
def api_diff(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """``?a=<version id>&b=<version id>``: the two versions side by side (``version_compare``)."""
    prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    picked = []
    for key in ("a", "b"):
        raw = request.GET.get(key, "")
        version = prompt.versions.filter(pk=int(raw)).first() if raw.isdigit() else None
        if version is None:
            raise PromptError(key, f"'{key}' must be the id of one of this prompt's versions.")
        picked.append(version)
    return JsonResponse(selectors.version_compare(picked[0], picked[1]))


# --- Pages -------------------------------------------------------------------------------------------


@login_required
@require_GET
def prompts_page(request: HttpRequest) -> HttpResponse:
    """The prompts the user sees here, with their latest version and labels."""
    workspace = current_workspace_facts(request)
    prompts = selectors.prompt_list_for_user(user=request.user, workspace_id=workspace["id"]).select_related(
        "owner"
    )
    return render(request, "prompts/prompts.html", {"prompts": prompts, "workspace": workspace})


@login_required
@require_GET
def prompt_page(request: HttpRequest, prompt_id: int) -> HttpResponse:
    """One prompt: its versions with notes and labels, labelling, the diff of two versions, restore."""
    try:
        prompt = selectors.prompt_get_for_user(user=request.user, prompt_id=prompt_id)
    except SavedPrompt.DoesNotExist:
        raise Http404("No such prompt.") from None
    return render(
        request, "prompts/prompt.html", {"prompt": prompt, "data": _prompt_detail(prompt, user=request.user)}
    )
