"""The ONE cost formula on the server: a run's usage times the price it was started with.

No Django here: the relay (``proxy/relay.py`` ``figures``) calls ``cost``, and
``playground/pricing`` decides which ``Price`` a run gets (defaults, workspace overrides, deployments).
The page's formula (``static/playground/core/stream.js`` ``costOf``) is the same, operation for
operation, so both sides give the same floating-point numbers; ``tests/pricing_cases.json`` holds the
cases both are checked against.

Cost in USD = (uncached prompt tokens * input + cached prompt tokens * cached input + completion
tokens * output) / 1,000,000, prices being USD per million tokens. Cached prompt tokens are the
server's ``prompt_tokens_details.cached_tokens`` (the Responses API's ``input_tokens_details``), the
relay's flattened ``cached_tokens``, or Fireworks' ``fireworks-cached-prompt-tokens`` header /
``cached-prompt-tokens`` perf metric when usage does not say; never more than the prompt tokens.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

PER = 1_000_000
# The largest price accepted, USD per million tokens: no serverless model costs near this; a value past
# it is a typo (a price per token typed as per million, or an extra digit).
MAX_PRICE = 10_000.0


def _count(value: Any) -> int | None:
    """A token count: a non-negative whole number (a float with no fraction included, as JSON may
    carry one); anything else is no count."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value >= 0 else None


# A count sent as text (a header, a perf metric): digits, perhaps with a zero fraction ("12", "12.0").
_COUNT_TEXT = re.compile(r"\s*([0-9]+)(?:\.0*)?\s*")


def _header_count(value: Any) -> int | None:
    """A count that may come as text (a header, a perf metric); the page reads it the same way."""
    if isinstance(value, str):
        match = _COUNT_TEXT.fullmatch(value)
        return int(match.group(1)) if match else None
    return _count(value)


@dataclass(frozen=True)
class Price:
    """USD per million tokens: prompt (input), cached prompt, completion (output). A cached-input price
    that is not known is the input price (no discount assumed)."""

    input: float
    output: float
    cached_input: float | None = None

    def __post_init__(self) -> None:
        for name in ("input", "output", "cached_input"):
            value = getattr(self, name)
            if value is None and name == "cached_input":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"The {name.replace('_', ' ')} price must be a number.")
            if value < 0:
                raise ValueError(f"The {name.replace('_', ' ')} price cannot be negative.")
            if value > MAX_PRICE:
                raise ValueError(
                    f"The {name.replace('_', ' ')} price is {value:g} USD per million tokens; "
                    f"prices above {MAX_PRICE:g} are refused (is it per token, or a digit too many?)."
                )
        if self.cached_input is None:
            object.__setattr__(self, "cached_input", self.input)

    def as_dict(self) -> dict[str, float]:
        """The price as frames and saved figures carry it."""
        return {"input": self.input, "cached_input": self.cached_input or 0.0, "output": self.output}

    @classmethod
    def from_dict(cls, data: Any) -> Price | None:
        """A price from ``as_dict``'s shape (None when it is not one)."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(input=data["input"], output=data["output"], cached_input=data.get("cached_input"))
        except (KeyError, ValueError, TypeError):
            return None


def cached_tokens(usage: dict[str, Any], fallback: Any = None) -> int:
    """The cached prompt tokens of a usage object in any of its shapes, else ``fallback`` (Fireworks'
    header or perf metric), else 0; never more than the prompt tokens."""
    found = _count(usage.get("cached_tokens"))
    for details in ("prompt_tokens_details", "input_tokens_details"):
        if found is None and isinstance(usage.get(details), dict):
            found = _count(usage[details].get("cached_tokens"))
    if found is None:
        found = _header_count(fallback)
    prompt = prompt_tokens(usage)
    return min(found or 0, prompt)


def prompt_tokens(usage: dict[str, Any]) -> int:
    """The prompt tokens of a usage object (chat's name or the Responses API's)."""
    count = _count(usage.get("prompt_tokens"))
    return count if count is not None else (_count(usage.get("input_tokens")) or 0)


def completion_tokens(usage: dict[str, Any]) -> int:
    """The completion tokens of a usage object (chat's name or the Responses API's)."""
    count = _count(usage.get("completion_tokens"))
    return count if count is not None else (_count(usage.get("output_tokens")) or 0)


def cost(
    usage: dict[str, Any] | None, price: Price | None, *, cached_fallback: Any = None
) -> dict[str, float] | None:
    """What a run cost in USD, by part: ``input`` (uncached prompt tokens), ``cached_input``, ``output``
    and ``total``; None when there is no price or no usage. ``cached_fallback``: Fireworks' count of
    cached prompt tokens from the response header, used when usage does not say."""
    if price is None or not isinstance(usage, dict):
        return None
    prompt = prompt_tokens(usage)
    cached = cached_tokens(usage, cached_fallback)
    completion = completion_tokens(usage)
    assert price.cached_input is not None  # set by __post_init__
    parts = {
        "input": ((prompt - cached) * price.input) / PER,
        "cached_input": (cached * price.cached_input) / PER,
        "output": (completion * price.output) / PER,
    }
    parts["total"] = parts["input"] + parts["cached_input"] + parts["output"]
    return parts
