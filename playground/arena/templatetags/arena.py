"""Template helpers of the results page: a rate as a percentage and an interval drawn as a bar (its
geometry as CSS classes of 2 % steps: the Content-Security-Policy allows no style attributes)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def percent(value: Any) -> str:
    """0.4321 → "43 %" (a dash when there is no figure)."""
    return "\u2013" if value is None else f"{round(float(value) * 100)} %"


def _step(value: float) -> int:
    return max(0, min(50, round(value * 50)))


@register.simple_tag
def ci_bar(row: dict[str, Any]) -> str:
    """The interval [low, high] and the rate on a 0 to 100 % track, with the figures in words."""
    if row.get("rate") is None:
        return format_html('<span class="muted small">no votes</span>')
    low, high, rate = _step(row["low"]), _step(row["high"]), _step(row["rate"])
    return format_html(
        '<span class="ci" title="{} to {}"><span class="ci-track"><span class="ci-range l{} w{}"></span>'
        '<span class="ci-dot l{}"></span></span><span class="small muted">{}\u2013{}</span></span>',
        percent(row["low"]),
        percent(row["high"]),
        low,
        max(1, high - low),
        rate,
        percent(row["low"]),
        percent(row["high"]),
    )
