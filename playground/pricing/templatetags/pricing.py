"""``{{ value|usd }}``: a cost in USD as server-rendered pages write it, the same way as the page's
``fmtCost`` (static/playground/core/format.js): cents from a dollar up, three significant digits below."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def usd(value: Any) -> str:
    """ "$0.0000234", "$1.50", "$0", or "—" for no cost."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) < 0.0000001:
        return "< $0.0000001"
    text = format(float(f"{value:.3g}"), ".10f").rstrip("0").rstrip(".")
    return f"${text}"
