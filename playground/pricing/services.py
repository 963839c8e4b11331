"""Pricing writes: a workspace's own price for a model id (an override or a deployment), and its
removal. Owners only (``manage_settings``, playground/permissions.py); each is one transaction, and
every value is checked by the formula's own ``Price`` (non-negative, finite, sane magnitude). Each tells
the workspace's sockets, which keep its prices (``access_changed``)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from playground.pricing.models import ModelPrice
from playground.selectors.workspaces import workspace_get_for_user
from playground.services.access import access_changed
from proxy.pricing import MAX_PRICE, Price

MODEL_LENGTH = 300
NOTE_LENGTH = 200
# A model id or deployment path as runs send it: no spaces, no control characters.
MODEL_RE = re.compile(r"[A-Za-z0-9][\w.\-/#:@]*")
PRICE_FIELDS = (("input", "Input"), ("cached_input", "Cached input"), ("output", "Output"))


def _price_value(raw: Any, label: str, *, required: bool) -> Decimal | None:
    text = "" if raw is None else str(raw).strip()
    if not text:
        if required:
            raise ValidationError(f"{label}: a price is needed (USD per million tokens).")
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValidationError(
            f"{label}: {text[:40]!r} is not a number (e.g. 0.2 for $0.20 per million tokens)."
        ) from None
    if not value.is_finite():
        raise ValidationError(f"{label}: the price must be a finite number.")
    if value < 0:
        raise ValidationError(f"{label}: a price cannot be negative.")
    if value > Decimal(str(MAX_PRICE)):
        raise ValidationError(
            f"{label}: {value:f} USD per million tokens is above the {MAX_PRICE:g} limit "
            "(prices here are per million tokens, not per token)."
        )
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise ValidationError(f"{label}: at most 6 decimal places (USD per million tokens).")
    return value


def clean_model(raw: Any) -> str:
    """A model id or deployment path as typed, or a ValidationError saying what is wrong."""
    model = str(raw or "").strip()
    if not model:
        raise ValidationError(
            "Model: give the model id or deployment path, e.g. accounts/me/deployments/abc123."
        )
    if len(model) > MODEL_LENGTH:
        raise ValidationError(f"Model: at most {MODEL_LENGTH} characters.")
    if not MODEL_RE.fullmatch(model):
        raise ValidationError(
            "Model: an id has no spaces, e.g. accounts/fireworks/models/llama-v3p1-8b-instruct."
        )
    return model


def clean_price(values: dict[str, Any]) -> dict[str, Decimal | None]:
    """The three prices from a form's values, checked; ValidationError with every problem."""
    errors: list[str] = []
    out: dict[str, Decimal | None] = {}
    for name, label in PRICE_FIELDS:
        try:
            out[name] = _price_value(values.get(name), label, required=name != "cached_input")
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    Price(  # the formula's own checks, once more, on what will be saved
        input=float(out["input"] or 0),
        output=float(out["output"] or 0),
        cached_input=None if out["cached_input"] is None else float(out["cached_input"]),
    )
    return out


@transaction.atomic
def model_price_set(
    *,
    user: Any,
    workspace_id: int,
    model: str,
    kind: str,
    input: Any,
    output: Any,
    cached_input: Any = None,
    note: str = "",
) -> ModelPrice:
    """Set the workspace's price for a model id (replacing the one it had); owners only. Runs started
    from now on are costed at it; runs already saved keep the cost they were saved with."""
    workspace, _ = workspace_get_for_user(user=user, workspace_id=workspace_id, action="manage_settings")
    if kind not in ModelPrice.Kind.values:
        raise ValidationError("Kind: an override of a listed model, or a deployment you price.")
    model = clean_model(model)
    errors: list[str] = []
    try:
        prices = clean_price({"input": input, "cached_input": cached_input, "output": output})
    except ValidationError as exc:
        errors.extend(exc.messages)
        prices = {}
    note = " ".join(str(note or "").split())
    if len(note) > NOTE_LENGTH:
        errors.append(f"Note: at most {NOTE_LENGTH} characters.")
    if errors:
        raise ValidationError(errors)
    row, _ = ModelPrice.objects.update_or_create(
        workspace=workspace,
        model=model,
        defaults={"kind": kind, **prices, "note": note, "updated_by": user},
    )
    # The workspace's sockets keep its prices (proxy/access.py): they read them again.
    access_changed(workspaces=[workspace.pk])
    return row


@transaction.atomic
def model_price_delete(*, user: Any, workspace_id: int, price_id: int) -> None:
    """Remove one of the workspace's prices (the default applies again, if the model has one)."""
    workspace, _ = workspace_get_for_user(user=user, workspace_id=workspace_id, action="manage_settings")
    deleted, _ = ModelPrice.objects.filter(workspace=workspace, pk=price_id).delete()
    if not deleted:
        raise ModelPrice.DoesNotExist("No such price in this workspace.")
    access_changed(workspaces=[workspace.pk])
