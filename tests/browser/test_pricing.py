"""Cost in headless Chromium against daphne and the emulator: the page's formula gives the shared cases'
numbers (the same as the server's), a reply's cost is the formula applied to the usage the emulator
reported at the price the run was started with (an estimate until the usage arrives), a workspace
override on the Pricing page changes the next run's cost (cached prompt tokens at the cached price),
compare's columns and summary, the workspace's day chart, and a sweep's chart (one point per sample).

Screenshots under tests/artifacts/: pricing-reply-1440.png, pricing-page-1440.png, spending-1440.png,
sweep-chart-1440.png.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from proxy.pricing import Price, cost
from tests.browser.conftest import LiveServer, click_nav
from tests.browser.test_compare import open_compare, wait_summary
from tests.browser.test_playground import send, wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DEFAULT = Price(input=0.2, cached_input=0.1, output=0.2)  # playground/pricing/defaults.json
CASES = json.loads((Path(__file__).parents[1] / "pricing_cases.json").read_text())["cases"]


def received(page: Any, kind: str) -> list[dict[str, Any]]:
    """The frames of one type the page received, in order."""
    out = []
    for text in page.frames_log.received:
        try:
            frame = json.loads(text)
        except ValueError:
            continue
        if isinstance(frame, dict) and frame.get("type") == kind:
            out.append(frame)
    return out


def expected_total(usage: dict[str, Any], price: Price) -> float:
    result = cost(usage, price)
    assert result is not None
    return result["total"]


async def usd(locator: Any) -> float:
    """The exact figure a cost element carries (its text is rounded for reading)."""
    return float(await locator.get_attribute("data-usd"))


async def test_the_pages_formula_gives_every_shared_case_exactly_as_the_server(
    page: Any, daphne_server: LiveServer
) -> None:
    got = await page.evaluate(
        """async (cases) => {
          const { costOf } = await import("/static/playground/core/stream.js");
          return cases.map((c) => costOf(c.usage, c.price, c.cached_fallback ?? null));
        }""",
        CASES,
    )
    for case, page_cost in zip(CASES, got, strict=True):
        price = Price.from_dict(case["price"]) if case["price"] is not None else None
        server = cost(case["usage"], price, cached_fallback=case.get("cached_fallback"))
        assert page_cost == server, case["name"]  # the same floating-point numbers, not only close
        if case["cost"] is not None:
            for part, value in case["cost"].items():
                assert math.isclose(page_cost[part], value, rel_tol=1e-12, abs_tol=1e-15), (
                    case["name"],
                    part,
                )


async def test_a_replys_cost_follows_the_usage_and_the_workspaces_price(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    # Slow enough to see the estimate while it streams.
    emulator.configure(ttft_ms=50, tokens_per_second=30, chunk_tokens=1, seed=11)
    await send(page, "Tell me about the price of bread")
    await page.get_by_test_id("reply-status").filter(has_text="streaming").wait_for(timeout=10_000)
    shown = page.get_by_test_id("usage-cost")
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=usage-cost]')?.dataset.estimated === 'true'",
        timeout=10_000,
    )
    assert (await shown.inner_text()).startswith("≈ $") and "estimate" in await shown.inner_text()
    await wait_status(page, "done")
    [opened] = received(page, "chat.opened")
    [usage] = received(page, "chat.usage")
    assert opened["price"] == DEFAULT.as_dict()
    first = expected_total(usage, DEFAULT)
    assert await shown.get_attribute("data-estimated") == "false"
    assert await usd(shown) == first
    assert "≈" not in await shown.inner_text() and "$0.2/M input" in await shown.inner_text()
    [done] = received(page, "chat.done")
    assert done["timings"]["cost"]["total"] == first  # the server's figure, saved with the run
    assert await usd(page.get_by_test_id("turn-cost").last) == first
    await page.screenshot(path=str(artifacts / "pricing-reply-1440.png"))
    # Nothing about prices went upstream: the body the emulator received is the request the page was shown.
    [started] = received(page, "chat.started")
    chats = [r for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
    assert chats[-1]["body"] == started["request"]

    # An override on the Pricing page: a bad value is refused, says why and keeps what was typed.
    conversation_url = page.url
    await click_nav(page, "nav-workspace")
    await page.get_by_test_id("nav-pricing").click()
    await page.get_by_test_id("price-model").fill(MODEL)
    await page.get_by_test_id("price-input").fill("-2")
    await page.get_by_test_id("price-cached").fill("0.5")
    await page.get_by_test_id("price-output").fill("10")
    await page.get_by_test_id("price-save").click()
    errors = await page.get_by_test_id("pricing-error").all_inner_texts()
    assert errors == ["Input: a price cannot be negative."]
    assert await page.get_by_test_id("price-output").input_value() == "10"
    await page.get_by_test_id("price-input").fill("2")
    await page.get_by_test_id("price-save").click()
    await page.get_by_test_id("notice").filter(has_text="Saved the price").wait_for(timeout=5_000)
    row = page.locator(f"[data-testid=own-price][data-model='{MODEL}']")
    assert await row.get_by_test_id("own-input").inner_text() == "$2.00"
    await page.screenshot(path=str(artifacts / "pricing-page-1440.png"), full_page=True)

    # The next run of the conversation is costed at the override; its earlier prompt is cached.
    await page.goto(conversation_url)
    await page.get_by_test_id("turn-cost").first.wait_for(timeout=10_000)
    emulator.configure(ttft_ms=20, tokens_per_second=400, chunk_tokens=1, seed=12)
    await send(page, "And of butter?")
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=turn-cost]').length === 2", timeout=15_000
    )
    opened, usage = received(page, "chat.opened")[-1], received(page, "chat.usage")[-1]
    override = Price(input=2.0, cached_input=0.5, output=10.0)
    assert opened["price"] == override.as_dict()
    assert usage["cached_tokens"] > 0  # the first turn's prefix, from the emulator's prompt cache
    second = expected_total(usage, override)
    parts = cost(usage, override)
    assert parts is not None and parts["cached_input"] == usage["cached_tokens"] * 0.5 / 1_000_000
    assert await usd(page.get_by_test_id("usage-cost")) == second
    assert await usd(page.get_by_test_id("turn-cost").last) == second
    assert await usd(page.get_by_test_id("conversation-cost")) == pytest.approx(first + second, rel=1e-12)
    # And once reloaded, from what the server saved.
    await page.reload()
    await page.get_by_test_id("conversation-cost").wait_for(timeout=10_000)
    assert await usd(page.get_by_test_id("conversation-cost")) == pytest.approx(first + second, rel=1e-12)
    assert "over 2 runs" in await page.get_by_test_id("conversation-cost").inner_text()

    # The workspace page: today's bar and row hold what the two runs cost.
    await click_nav(page, "nav-workspace")
    chart = page.get_by_test_id("spending-chart")
    await chart.wait_for(timeout=5_000)
    bars = chart.locator("rect")
    assert await bars.count() == 30
    today = page.get_by_test_id("spending-row").first
    assert await usd(today) == pytest.approx(first + second, rel=1e-12)
    title = await bars.last.locator("title").text_content()
    assert title.startswith(await today.get_attribute("data-day")) and "2 runs" in title
    assert float(await bars.last.get_attribute("height")) > 0
    assert "over 2 costed runs" in (await chart.get_attribute("aria-label"))
    await page.screenshot(path=str(artifacts / "spending-1440.png"), full_page=True)


async def test_compare_columns_and_summary_carry_each_runs_cost(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer
) -> None:
    await open_compare(page, daphne_server.url)
    await page.get_by_test_id("compare-prompt").fill("Name a cheese")
    await page.get_by_test_id("run-all").click()
    columns = await page.get_by_test_id("compare-column").count()
    await wait_summary(page, columns)
    usages = {f["stream"]: f for f in received(page, "chat.usage")}
    runs = {f["stream"]: f["run"] for f in received(page, "chat.done")}
    assert len(usages) == columns
    expected = {runs[stream]: expected_total(usage, DEFAULT) for stream, usage in usages.items()}
    for index in range(columns):
        column = page.get_by_test_id("compare-column").nth(index)
        run = int((await column.get_by_test_id("col-run-link").inner_text()).removeprefix("Run #"))
        assert await usd(column.get_by_test_id("col-cost")) == expected[run]
    assert await usd(page.get_by_test_id("summary-cost")) == pytest.approx(sum(expected.values()), rel=1e-12)
    # Ranked by cost: cheapest first.
    await page.get_by_test_id("rank-by").select_option("cost")
    cells = await page.locator("[data-testid=summary-row] td:nth-child(8)").all_inner_texts()
    ranked = [float(text.replace("★", "").strip().removeprefix("$")) for text in cells]
    assert ranked == sorted(ranked) and len(ranked) == columns


async def test_a_temperature_sweep_plots_one_point_per_sample(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    await open_compare(page, daphne_server.url)
    await page.get_by_test_id("compare-prompt").fill("Write a tagline for a cheese shop")
    await page.get_by_test_id("tab-sweep").click()
    await page.get_by_test_id("sweep-values").fill("0, 0.7, 1.4")
    await page.get_by_test_id("sweep-samples").fill("2")
    await page.get_by_test_id("sweep-base").fill("max_tokens=24")
    await page.get_by_test_id("sweep-generate").click()
    await page.get_by_test_id("run-all").click()
    await wait_summary(page, 6)
    chart = page.get_by_test_id("sweep-chart")
    for series in ("ttft_ms", "tokens_per_second", "reply_tokens", "cost"):
        svg = chart.get_by_test_id(f"sweep-svg-{series}")
        await svg.wait_for(timeout=5_000)
        points = svg.get_by_test_id("sweep-point")
        assert await points.count() == 6, series
        values = [await p.get_attribute("data-value") for p in await points.all()]
        assert sorted(values) == ["0", "0", "0.7", "0.7", "1.4", "1.4"], series
        assert await svg.get_by_test_id("sweep-spread").count() == 3
        assert "against temperature" in await svg.get_attribute("aria-label")
    # Each sample's point is its column's figure; the table says the same in words.
    points = await chart.get_by_test_id("sweep-svg-reply_tokens").get_by_test_id("sweep-point").all()
    tokens = sorted([float(await p.get_attribute("data-y")) for p in points])
    shown = sorted(float(t) for t in await page.get_by_test_id("col-tokens").all_inner_texts())
    assert tokens == shown
    assert await chart.get_by_test_id("sweep-table-ttft_ms").locator("tbody tr").count() == 3
    # No test set is attached: no pass-rate chart.
    assert await chart.get_by_test_id("sweep-figure").count() == 4
    await chart.screenshot(path=str(artifacts / "sweep-chart-1440.png"))


async def test_cost_pages_fit_a_phone_in_the_dark_and_pass_axe(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path
) -> None:
    from tests.browser.test_layout import PHONE, new_page, serious_violations

    # bypass_csp: axe-core is injected as an inline script (the page itself runs under the CSP as ever).
    ctx, page = await new_page(browser, daphne_server, color_scheme="dark", bypass_csp=True, **PHONE)
    try:
        width = "document.documentElement.scrollWidth"
        await send(page, "How much does a phone reply cost?")
        await wait_status(page, "done")
        assert await page.get_by_test_id("usage-cost").get_attribute("data-usd")
        assert await page.evaluate(width) <= 390
        await page.get_by_test_id("usage-cost").scroll_into_view_if_needed()
        await page.screenshot(path=str(artifacts / "pricing-reply-390-dark.png"))
        workspace = await page.get_by_test_id("nav-workspace").get_attribute("href")
        await page.goto(f"{daphne_server.url}{workspace}pricing/")
        assert await page.evaluate(width) <= 390
        assert await serious_violations(page) == []
        await page.goto(f"{daphne_server.url}{workspace}")
        await page.get_by_test_id("spending-chart").wait_for(timeout=5_000)
        assert await page.evaluate(width) <= 390
        assert await serious_violations(page) == []
        await page.screenshot(path=str(artifacts / "spending-390-dark.png"))
        await page.goto(f"{daphne_server.url}/compare/")  # on a phone the nav is behind Menu
        await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
        await page.get_by_test_id("compare-prompt").fill("Short tagline")
        await page.get_by_test_id("tab-sweep").click()
        await page.get_by_test_id("sweep-values").fill("0, 1")
        await page.get_by_test_id("sweep-base").fill("max_tokens=16")
        await page.get_by_test_id("sweep-generate").click()
        await page.get_by_test_id("run-all").click()
        await wait_summary(page, 2)
        await page.get_by_test_id("sweep-svg-cost").wait_for(timeout=5_000)
        assert await page.evaluate(width) <= 390
        await page.get_by_test_id("sweep-chart").screenshot(path=str(artifacts / "sweep-chart-390-dark.png"))
    finally:
        await ctx.close()
