"""Pricing reads: the price a run is started with, and what a workspace's runs cost."""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from playground.models import Run
from playground.pricing.defaults import default_price
from playground.pricing.models import ModelPrice
from proxy.pricing import Price


def price_of(row: ModelPrice) -> Price:
    """A saved price as the formula takes it."""
    cached = None if row.cached_input is None else float(row.cached_input)
    return Price(input=float(row.input), output=float(row.output), cached_input=cached)


def price_from(own: Mapping[str, Price], model: str) -> Price | None:
    """The price of a run of ``model`` in a workspace whose own prices are ``own``: its own price for that
    exact id (a deployment or an override), else the default list's, else None (cost unknown)."""
    price = own.get(model)
    return price if price is not None else default_price(model)


def price_for(*, workspace_id: int, model: str) -> Price | None:
    """The price of a run of ``model`` in the workspace (``price_from``). One query."""
    row = ModelPrice.objects.filter(workspace_id=workspace_id, model=model).first()
    return price_from({model: price_of(row)} if row is not None else {}, model)


def workspace_prices(*, workspace_ids: Iterable[int]) -> dict[int, dict[str, Price]]:
    """Each of these workspaces' own prices by model id, for ``price_from`` (what a socket keeps, so a
    stream is costed without a query). One query."""
    prices: dict[int, dict[str, Price]] = {pk: {} for pk in workspace_ids}
    for row in ModelPrice.objects.filter(workspace_id__in=list(prices)):
        prices[row.workspace_id][row.model] = price_of(row)
    return prices


def model_price_list(*, workspace_id: int) -> QuerySet[ModelPrice]:
    """The workspace's own prices: overrides first, then deployments, by model id."""
    return ModelPrice.objects.filter(workspace_id=workspace_id).select_related("updated_by")


def timings_cost(timings: Any) -> float | None:
    """The saved cost of a run in USD, from its figures (``Run.timings["cost"]["total"]``); None for a
    run saved without one (no price, no usage, or saved before costs were kept)."""
    cost = timings.get("cost") if isinstance(timings, dict) else None
    total = cost.get("total") if isinstance(cost, dict) else None
    return float(total) if isinstance(total, int | float) and not isinstance(total, bool) else None


def cost_sum(timings: Iterable[Any]) -> dict[str, Any]:
    """The sum of runs' saved costs: ``{total (None when no run had one), runs costed, unpriced}``."""
    total, priced, unpriced = 0.0, 0, 0
    for one in timings:
        value = timings_cost(one)
        if value is None:
            unpriced += 1
        else:
            total += value
            priced += 1
    return {"total": total if priced else None, "runs": priced, "unpriced": unpriced}


def conversation_cost(*, conversation_id: int) -> dict[str, Any]:
    """What a conversation's runs cost, summed (``cost_sum``)."""
    return cost_sum(Run.objects.filter(conversation_id=conversation_id).values_list("timings", flat=True))


def workspace_daily_cost(
    *, workspace_id: int, days: int = 30, today: datetime.date | None = None
) -> list[dict[str, Any]]:
    """What the workspace's runs cost per day (UTC) over the last ``days`` days, oldest first, every
    day present (0 when nothing ran): ``{day, total, runs, unpriced}``."""
    today = today or timezone.now().date()
    first = today - datetime.timedelta(days=days - 1)
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=datetime.UTC)
    sums: dict[datetime.date, list[float]] = defaultdict(lambda: [0.0, 0, 0])
    # Only the cost's total leaves the database (as JSON text: an imported run may hold anything there),
    # not each run's whole timings.
    rows = (
        Run.objects.filter(conversation__workspace_id=workspace_id, started_at__gte=start)
        .annotate(cost_total=KeyTransform("total", KeyTransform("cost", "timings")))
        .values_list("started_at", "cost_total")
    )
    for started_at, total in rows:
        day = started_at.astimezone(datetime.UTC).date()
        value = timings_cost({"cost": {"total": total}})
        entry = sums[day]
        if value is None:
            entry[2] += 1
        else:
            entry[0] += value
            entry[1] += 1
    out = []
    for offset in range(days):
        day = first + datetime.timedelta(days=offset)
        total, runs, unpriced = sums.get(day, [0.0, 0, 0])
        out.append({"day": day.isoformat(), "total": total, "runs": int(runs), "unpriced": int(unpriced)})
    return out


def as_decimal_text(value: Decimal | float | None) -> str:
    """A price as pages and forms show it: at least cents, no trailing zeros past them ("0.22", "3.00",
    "0.075"); "" for none."""
    if value is None:
        return ""
    text = format(Decimal(str(value)).normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"
