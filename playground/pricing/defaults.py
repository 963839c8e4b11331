"""Fireworks' public serverless prices, read from a data file that names its source and date
(``defaults.json`` beside this module, or the file ``PLAYGROUND_PRICING_FILE`` names)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from proxy.pricing import Price

BUILT_IN = Path(__file__).with_name("defaults.json")


@dataclass(frozen=True)
class PriceList:
    """The default prices by model id, with where they come from."""

    source: str
    as_of: str
    note: str
    prices: dict[str, Price]
    path: str


def parse(data: Any, path: str = "") -> PriceList:
    """A price list from the file's JSON; ImproperlyConfigured naming the first thing wrong."""
    where = f"The pricing file {path or '(defaults)'}"
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise ImproperlyConfigured(f"{where} must be a JSON object with a 'models' object.")
    for key in ("source", "as_of"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ImproperlyConfigured(f"{where} must say its {key!r} (where and when the prices were read).")
    prices: dict[str, Price] = {}
    for model, entry in data["models"].items():
        if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
            raise ImproperlyConfigured(
                f"{where}: {model} needs 'input' and 'output' (and may have 'cached_input'), "
                "in USD per million tokens."
            )
        try:
            prices[model] = Price(
                input=entry["input"], output=entry["output"], cached_input=entry.get("cached_input")
            )
        except ValueError as exc:
            raise ImproperlyConfigured(f"{where}: {model}: {exc}") from exc
    note = data.get("note") if isinstance(data.get("note"), str) else ""
    return PriceList(source=data["source"], as_of=data["as_of"], note=note, prices=prices, path=path)


@lru_cache(maxsize=4)
def _load(path: str) -> PriceList:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ImproperlyConfigured(f"The pricing file {path} cannot be read: {exc.strerror}.") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"The pricing file {path} is not valid JSON: {exc}.") from exc
    return parse(data, path)


def price_list() -> PriceList:
    """The default prices in use (read once per file)."""
    return _load(str(getattr(settings, "PLAYGROUND_PRICING_FILE", "") or BUILT_IN))


def default_price(model: str) -> Price | None:
    """The default price of a model id (None: not listed)."""
    return price_list().prices.get(model)
