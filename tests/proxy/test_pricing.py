"""The server's one cost formula (proxy/pricing.py) against the shared cases the page's formula is
checked against too (tests/pricing_cases.json), and what a Price refuses."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from proxy.client.events import Opened, Perf, Usage
from proxy.pricing import MAX_PRICE, Price, cost
from proxy.relay import StreamRecord

CASES = json.loads((Path(__file__).parents[1] / "pricing_cases.json").read_text())["cases"]


def server_cost(case: dict[str, Any]) -> dict[str, float] | None:
    price = Price.from_dict(case["price"]) if case["price"] is not None else None
    return cost(case["usage"], price, cached_fallback=case.get("cached_fallback"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_formula_gives_each_shared_case(case: dict[str, Any]) -> None:
    got = server_cost(case)
    if case["cost"] is None:
        assert got is None
        return
    assert got is not None and set(got) == {"input", "cached_input", "output", "total"}
    for part, expected in case["cost"].items():
        assert math.isclose(got[part], expected, rel_tol=1e-12, abs_tol=1e-15), (part, got)


def test_cached_prompt_tokens_cost_less_than_the_same_tokens_uncached() -> None:
    price = Price(input=1.0, cached_input=0.25, output=2.0)
    plain = cost({"prompt_tokens": 1000, "completion_tokens": 0}, price)
    cached = cost(
        {"prompt_tokens": 1000, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 800}},
        price,
    )
    assert plain is not None and cached is not None
    assert plain["total"] == pytest.approx(0.001) and cached["total"] == pytest.approx(0.0002 + 0.0002)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"input": -0.1, "output": 1}, "cannot be negative"),
        ({"input": 1, "output": 1, "cached_input": -1}, "cannot be negative"),
        ({"input": MAX_PRICE * 2, "output": 1}, "are refused"),
        ({"input": float("nan"), "output": 1}, "must be a number"),
        ({"input": "0.2", "output": 1}, "must be a number"),
        ({"input": True, "output": 1}, "must be a number"),
    ],
)
def test_a_price_refuses_what_cannot_be_a_price(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Price(**fields)


def test_an_unknown_cached_price_is_the_input_price() -> None:
    assert Price(input=0.9, output=0.9).as_dict() == {"input": 0.9, "cached_input": 0.9, "output": 0.9}


def fold(record: StreamRecord, *events: Any) -> None:
    for event in events:
        record.frame(event)


def test_the_stream_figures_carry_the_cost_at_the_runs_price() -> None:
    record = StreamRecord("s", price=Price(input=0.2, cached_input=0.1, output=0.8))
    opened = Opened(status=200, headers={}, request_id=None, sampling_options=None, rate_limits={})
    fold(
        record,
        opened,
        Usage(prompt_tokens=3000, completion_tokens=1000, total_tokens=4000, cached_tokens=1000),
    )
    figures = record.figures()
    assert figures["cost"] == cost(record.usage, record.price)
    assert figures["cost"]["total"] == pytest.approx((2000 * 0.2 + 1000 * 0.1 + 1000 * 0.8) / 1e6)


def test_fireworks_cached_header_prices_the_cache_when_usage_does_not_say() -> None:
    record = StreamRecord("s", price=Price(input=1.0, cached_input=0.5, output=1.0))
    opened = Opened(
        status=200,
        headers={},
        request_id=None,
        sampling_options=None,
        rate_limits={},
        cached_prompt_tokens=600,
    )
    fold(record, opened, Usage(prompt_tokens=1000, completion_tokens=0, total_tokens=1000))
    assert record.figures()["cost"]["cached_input"] == pytest.approx(600 * 0.5 / 1e6)
    # And the perf metric when the header is missing too.
    record = StreamRecord("s", price=Price(input=1.0, cached_input=0.5, output=1.0))
    fold(
        record,
        Perf(metrics={"cached-prompt-tokens": "400"}),
        Usage(prompt_tokens=1000, completion_tokens=0, total_tokens=1000),
    )
    assert record.figures()["cost"]["cached_input"] == pytest.approx(400 * 0.5 / 1e6)


def test_no_usage_or_no_price_is_no_cost() -> None:
    assert StreamRecord("s", price=Price(input=1, output=1)).figures()["cost"] is None
    record = StreamRecord("s")
    fold(record, Usage(prompt_tokens=10, completion_tokens=10, total_tokens=20))
    assert record.figures()["cost"] is None


def test_chat_opened_says_the_runs_price() -> None:
    record = StreamRecord("s", price=Price(input=0.22, cached_input=0.11, output=0.88))
    opened = Opened(status=200, headers={}, request_id=None, sampling_options=None, rate_limits={})
    frame = record.frame(opened)
    assert frame is not None and frame["price"] == {"input": 0.22, "cached_input": 0.11, "output": 0.88}
    frame = StreamRecord("s").frame(opened)
    assert frame is not None and frame["price"] is None
