"""Preset pages and JSON endpoints (HackSoft style: a form checks the request, one service or selector).

The playground page saves and applies presets through the JSON endpoints (CSRF-protected like any
POST); the presets page lists, renames, deletes, marks the default, compares, imports and exports.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from playground.current import current_workspace_facts
from playground.forms.presets import CompareForm, DefaultForm, ImportForm, MoveForm, PresetForm, RenameForm
from playground.jsonbody import json_object
from playground.models import Preset, Scope
from playground.selectors.presets import (
    PRESET_FIELDS,
    preset_api_data,
    preset_compare,
    preset_data,
    preset_export,
    preset_get_for_user,
    preset_list_with_rights,
)
from playground.services.presets import (
    PresetError,
    preset_create,
    preset_delete,
    preset_import,
    preset_move,
    preset_set_default,
    preset_update,
)

MAX_IMPORT_BYTES = 2_000_000


def _get_or_404(request: HttpRequest, preset_id: int, action: str = "view") -> Preset:
    # Not seen: 404; seen but the role does not allow ``action`` (a viewer and the team library): 403.
    try:
        return preset_get_for_user(user=request.user, preset_id=preset_id, action=action)
    except Preset.DoesNotExist:
        raise Http404("No such preset.") from None


def _error(field: str, message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"field": field, "message": message}}, status=status)


def _form_error(form: Any) -> JsonResponse:
    field, errors = next(iter(form.errors.items()))
    return _error(field, f"{field}: {errors[0]}" if field != "__all__" else errors[0])


def _download(data: dict[str, Any], filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n", content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- JSON endpoints for the playground page -------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def api_presets(request: HttpRequest) -> JsonResponse:
    """GET: the user's presets (personal ones and their workspaces' libraries, each with ``rights``) and
    the current workspace. POST (JSON preset, ``scope`` "personal" or "workspace"): save a new one, in
    "My presets" or the current workspace's library (editors and owners; a viewer gets a 403)."""
    library = current_workspace_facts(request)
    if request.method == "GET":
        presets = preset_list_with_rights(user=request.user, current_workspace_id=library["id"])
        listed = [preset_api_data(p, user=request.user) for p in presets]
        return JsonResponse({"presets": listed, "workspace": library})
    data = json_object(request)
    if data is None:
        return _error("body", "The request body must be a JSON object.")
    form = PresetForm(data)
    if not form.is_valid():
        return _form_error(form)
    try:
        preset = preset_create(owner=request.user, workspace_id=library["id"], **form.cleaned_data)
    except PresetError as exc:
        return _error(exc.field, exc.message)
    except PermissionDenied:
        role = library["role"]
        return _error("scope", f"As a {role} in {library['name']} you cannot add to its library.", 403)
    return JsonResponse({"preset": preset_api_data(preset, user=request.user)}, status=201)


@login_required
@require_http_methods(["GET", "POST", "DELETE"])
def api_preset(request: HttpRequest, preset_id: int) -> JsonResponse:
    """GET: one preset. POST (JSON, any subset of the fields): update it; with ``scope``, move it to
    "My presets" or the current workspace's library. DELETE: delete it."""
    action = {"GET": "view", "DELETE": "delete"}.get(request.method or "", "edit")
    preset = _get_or_404(request, preset_id, action)
    if request.method == "GET":
        return JsonResponse({"preset": preset_api_data(preset, user=request.user)})
    if request.method == "DELETE":
        preset_delete(preset=preset)
        return JsonResponse({"deleted": preset_id})
    data = json_object(request)
    if data is None:
        return _error("body", "The request body must be a JSON object.")
    # The form checks the whole preset as it would be after the change; only the sent fields change.
    form = PresetForm({**preset_data(preset), **data})
    if not form.is_valid():
        return _form_error(form)
    changes = {k: form.cleaned_data[k] for k in data if k in PRESET_FIELDS}
    try:
        with transaction.atomic():
            if changes:
                preset = preset_update(preset=preset, data=changes, user=request.user)
            if "scope" in data:
                preset = preset_move(
                    user=request.user,
                    preset=preset,
                    scope=form.cleaned_data["scope"],
                    workspace_id=current_workspace_facts(request)["id"],
                )
    except PresetError as exc:
        return _error(exc.field, exc.message)
    except PermissionDenied as exc:
        return _error("scope" if "scope" in data else "is_default", str(exc), 403)
    return JsonResponse({"preset": preset_api_data(preset, user=request.user)})


# --- The presets page -----------------------------------------------------------------------------


@login_required
@require_GET
def presets_page(request: HttpRequest) -> HttpResponse:
    """List the presets in two sections, "My presets" and the current workspace's library; with
    ``?a=<id>&b=<id>``, also show those two side by side."""
    library = current_workspace_facts(request)
    presets = [
        p
        for p in preset_list_with_rights(user=request.user, current_workspace_id=library["id"])
        if p.in_current
    ]
    compare = None
    form = CompareForm(request.GET) if "a" in request.GET or "b" in request.GET else CompareForm()
    if form.is_bound and form.is_valid():
        left = _get_or_404(request, form.cleaned_data["a"])
        right = _get_or_404(request, form.cleaned_data["b"])
        rows = preset_compare(left, right)
        compare = {"left": left, "right": right, "rows": rows, "differences": sum(r.differs for r in rows)}
    return render(
        request,
        "playground/presets.html",
        {
            "presets": presets,
            "mine": [p for p in presets if p.scope == Scope.PERSONAL],
            "team": [p for p in presets if p.scope == Scope.WORKSPACE],
            "library": library,
            "compare": compare,
            "compare_form": form,
            "import_form": ImportForm(),
        },
    )


@login_required
@require_POST
def preset_rename(request: HttpRequest, preset_id: int) -> HttpResponse:
    """Rename a preset (names are unique per user)."""
    preset = _get_or_404(request, preset_id, "edit")
    form = RenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A preset needs a name of at most 120 characters.")
        return redirect("presets")
    old = preset.name
    try:
        preset_update(preset=preset, data={"name": form.cleaned_data["name"]}, user=request.user)
    except PresetError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Renamed {old!r} to {preset.name!r}.")
    return redirect("presets")


@login_required
@require_POST
def preset_default(request: HttpRequest, preset_id: int) -> HttpResponse:
    """Make a preset the default for new conversations, or stop it being the default."""
    preset = _get_or_404(request, preset_id, "edit")
    form = DefaultForm(request.POST)
    form.is_valid()  # a missing box means "not the default"
    preset_set_default(
        preset=preset, user=request.user, is_default=form.cleaned_data.get("is_default", False)
    )
    if preset.is_default:
        messages.success(request, f"New conversations start from {preset.name!r}.")
    else:
        messages.success(request, f"{preset.name!r} is no longer the default.")
    return redirect("presets")


@login_required
@require_POST
def preset_move_view(request: HttpRequest, preset_id: int) -> HttpResponse:
    """Move a preset to the current workspace's library or back to "My presets"."""
    preset = _get_or_404(request, preset_id)
    form = MoveForm(request.POST)
    if not form.is_valid():
        raise Http404("No such place for a preset.")
    library = current_workspace_facts(request)
    try:
        preset_move(
            user=request.user, preset=preset, scope=form.cleaned_data["scope"], workspace_id=library["id"]
        )
    except PresetError as exc:
        messages.error(request, exc.message)
        return redirect("presets")
    where = f"the {library['name']} library" if preset.scope == Scope.WORKSPACE else "My presets"
    messages.success(request, f"Moved {preset.name!r} to {where}.")
    return redirect("presets")


@login_required
@require_POST
def preset_delete_view(request: HttpRequest, preset_id: int) -> HttpResponse:
    """Delete a preset."""
    preset = _get_or_404(request, preset_id, "delete")
    name = preset.name
    preset_delete(preset=preset)
    messages.success(request, f"Deleted {name!r}.")
    return redirect("presets")


@login_required
@require_POST
def presets_import(request: HttpRequest) -> HttpResponse:
    """Import an exported JSON file: presets with the same name are overwritten, nothing on an error."""
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a presets JSON file to import.")
        return redirect("presets")
    upload = form.cleaned_data["file"]
    if upload.size > MAX_IMPORT_BYTES:
        messages.error(request, f"The file is too large (the limit is {MAX_IMPORT_BYTES // 1_000_000} MB).")
        return redirect("presets")
    try:
        data = json.loads(upload.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        messages.error(request, f"The file is not valid JSON: {exc}")
        return redirect("presets")
    try:
        saved = preset_import(owner=request.user, data=data)
    except PresetError as exc:
        messages.error(request, f"Nothing was imported. {exc.message}")
    else:
        names = ", ".join(p.name for p in saved)
        messages.success(request, f"Imported {len(saved)} preset{'s' if len(saved) != 1 else ''}: {names}.")
    return redirect("presets")


@login_required
@require_GET
def presets_export(request: HttpRequest) -> HttpResponse:
    """Download the presets (all, or ``?id=`` ones) as JSON that the import reads back."""
    ids = [int(i) for i in request.GET.getlist("id") if i.isdigit()]
    return _download(preset_export(user=request.user, preset_ids=ids or None), "presets.json")


@login_required
@require_GET
def preset_export_one(request: HttpRequest, preset_id: int) -> HttpResponse:
    """Download one preset as a presets file."""
    preset = _get_or_404(request, preset_id)
    filename = f"preset-{slugify(preset.name) or preset.pk}.json"
    return _download(preset_export(user=request.user, preset_ids=[preset.pk]), filename)
