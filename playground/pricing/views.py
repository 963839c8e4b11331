"""The Pricing page of a workspace: its own prices (owners set and remove them; every member reads
them) and the default prices with their source and date. Non-members get 404 (playground/permissions.py)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from playground.models import Workspace
from playground.permissions import can
from playground.pricing import services
from playground.pricing.defaults import price_list
from playground.pricing.models import ModelPrice
from playground.pricing.selectors import as_decimal_text, model_price_list
from playground.selectors.workspaces import workspace_get_for_user


class PriceForm(forms.Form):
    """One model's price, as typed (the service checks the values and says what is wrong)."""

    model = forms.CharField(max_length=services.MODEL_LENGTH, required=False)
    kind = forms.ChoiceField(choices=ModelPrice.Kind.choices, initial=ModelPrice.Kind.OVERRIDE)
    input = forms.CharField(max_length=40, required=False)
    cached_input = forms.CharField(max_length=40, required=False)
    output = forms.CharField(max_length=40, required=False)
    note = forms.CharField(max_length=400, required=False)


def _workspace(request: HttpRequest, workspace_id: int) -> tuple[Workspace, str]:
    try:
        return workspace_get_for_user(user=request.user, workspace_id=workspace_id)
    except Workspace.DoesNotExist:
        raise Http404("No such workspace.") from None


def _page(
    request: HttpRequest,
    workspace: Workspace,
    role: str,
    form: PriceForm,
    errors: list[str],
    status: int = 200,
) -> HttpResponse:
    defaults = price_list()
    own = list(model_price_list(workspace_id=workspace.pk))
    overridden = {row.model for row in own}
    context: dict[str, Any] = {
        "workspace": workspace,
        "role": role,
        "manage": can(role, "manage_settings"),
        "form": form,
        "errors": errors,
        "own": [
            {
                "row": row,
                "input": as_decimal_text(row.input),
                "cached_input": as_decimal_text(row.cached_input) or "= input",
                "output": as_decimal_text(row.output),
                "default": defaults.prices.get(row.model) is not None,
            }
            for row in own
        ],
        "defaults": defaults,
        "default_rows": [
            {
                "model": model,
                "input": as_decimal_text(price.input),
                "cached_input": as_decimal_text(price.cached_input),
                "output": as_decimal_text(price.output),
                "overridden": model in overridden,
            }
            for model, price in sorted(defaults.prices.items())
        ],
    }
    return render(request, "pricing/pricing.html", context, status=status)


@login_required
def pricing_page(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """The workspace's prices; ``?model=`` fills the form with that model's price (to change it)."""
    workspace, role = _workspace(request, workspace_id)
    initial: dict[str, Any] = {}
    model = request.GET.get("model", "")
    if model:
        row = ModelPrice.objects.filter(workspace=workspace, model=model).first()
        default = price_list().prices.get(model)
        if row is not None:
            initial = {
                "model": row.model,
                "kind": row.kind,
                "input": as_decimal_text(row.input),
                "cached_input": as_decimal_text(row.cached_input),
                "output": as_decimal_text(row.output),
                "note": row.note,
            }
        elif default is not None:
            initial = {
                "model": model,
                "kind": ModelPrice.Kind.OVERRIDE,
                "input": as_decimal_text(default.input),
                "cached_input": as_decimal_text(default.cached_input),
                "output": as_decimal_text(default.output),
            }
        else:
            initial = {"model": model, "kind": ModelPrice.Kind.DEPLOYMENT}
    return _page(request, workspace, role, PriceForm(initial=initial), [])


@require_POST
@login_required
def pricing_set(request: HttpRequest, workspace_id: int) -> HttpResponse:
    """Set (or replace) one model's price; owners only. A refusal shows the page again with what was
    typed and every problem, nothing saved."""
    workspace, role = _workspace(request, workspace_id)
    form = PriceForm(request.POST)
    if not form.is_valid():
        errors = [
            f"{form.fields[name].label or name.replace('_', ' ').capitalize()}: {' '.join(e)}"
            for name, e in form.errors.items()
        ]
        return _page(request, workspace, role, form, errors, status=400)
    data = form.cleaned_data
    try:
        row = services.model_price_set(
            user=request.user,
            workspace_id=workspace.pk,
            model=data["model"],
            kind=data["kind"],
            input=data["input"],
            cached_input=data["cached_input"],
            output=data["output"],
            note=data["note"],
        )
    except PermissionDenied as exc:
        return _page(request, workspace, role, form, [str(exc)], status=403)
    except ValidationError as exc:
        return _page(request, workspace, role, form, exc.messages, status=400)
    messages.success(request, f"Saved the price of {row.model}: runs started from now on are costed at it.")
    return redirect("pricing", workspace_id=workspace.pk)


@require_POST
@login_required
def pricing_delete(request: HttpRequest, workspace_id: int, price_id: int) -> HttpResponse:
    """Remove one of the workspace's prices; owners only."""
    workspace, role = _workspace(request, workspace_id)
    try:
        services.model_price_delete(user=request.user, workspace_id=workspace.pk, price_id=price_id)
    except ModelPrice.DoesNotExist:
        raise Http404("No such price.") from None
    except PermissionDenied as exc:
        return _page(request, workspace, role, PriceForm(), [str(exc)], status=403)
    messages.success(request, "Removed the price: the default applies again where there is one.")
    return redirect("pricing", workspace_id=workspace.pk)
