"""Evals in headless Chromium: a CSV import (a bad file refused line by line, then a good one), an eval
with every scorer run on the server with the progress bar moving, the "only different" filter, sharing
and export; screenshots at 390 and 1280 px, light and dark."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")
SHOTS = Path("/tmp/shots-evals")
ROWS = 12


async def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240
    for width, scheme in ((1280, "light"), (1280, "dark"), (390, "light"), (390, "dark")):
        await page.set_viewport_size({"width": width, "height": 900})
        await page.emulate_media(color_scheme=scheme)
        await page.wait_for_timeout(100)
        assert await page.evaluate("document.documentElement.scrollWidth") <= width, (
            f"{name} scrolls at {width}"
        )
        await page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}.png"))
        if width == 390 and await page.locator("table").count():  # lower down: the table (cards on a phone)
            await page.locator("table").last.scroll_into_view_if_needed()
            await page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}-table.png"))
            await page.evaluate("window.scrollTo(0, 0)")
    await page.set_viewport_size({"width": 1440, "height": 900})
    await page.emulate_media(color_scheme="light")


async def test_import_run_every_scorer_filter_share_export(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, tmp_path: Path
) -> None:
    emulator.configure(ttft_ms=30, tokens_per_second=300)
    base = daphne_server.url
    await page.goto(f"{base}/evals/sets/new/")
    bad = tmp_path / "bad.csv"
    bad.write_text("question,expected\nfine,ok\ntoo,many,fields\n")
    await page.get_by_test_id("ts-file").set_input_files(str(bad))
    await page.get_by_test_id("ts-error").filter(has_text="Nothing was imported").wait_for()
    assert await page.get_by_test_id("ts-error-lines").inner_text() == "line 3: 3 fields, the header has 2."
    good = tmp_path / "capitals.csv"
    lines = ["question,expected"] + [f"code{i},{'zorble' if i % 2 else 'widget'}" for i in range(ROWS)]
    good.write_text("\n".join(lines) + "\n")
    await page.get_by_test_id("ts-file").set_input_files(str(good))
    await page.wait_for_url(re.compile(r".*/evals/sets/\d+/$"))
    assert await page.get_by_test_id("ts-row").count() == ROWS
    assert await page.get_by_test_id("ts-name").input_value() == "capitals"
    await shoot(page, "test-set-editor")
    export = await page.request.get(page.url + "export.csv")
    assert await export.text() == "\n".join(lines) + "\n"

    await page.get_by_test_id("eval-this").click()
    await page.get_by_test_id("ev-name").fill("every scorer")
    await page.get_by_test_id("ev-message").fill("Tell me about {{question}}")
    configs = page.get_by_test_id("ev-config")
    await configs.nth(0).locator("[name=params]").fill('{"max_tokens": 8, "temperature": 0}')
    await configs.nth(1).locator("[name=params]").fill('{"max_tokens": 40, "temperature": 1}')
    await page.get_by_test_id("ev-concurrency").fill("2")
    for kind in ("exact", "contains", "regex", "json", "json_schema", "latency", "judge"):
        await page.get_by_test_id(f"scorer-{kind}").locator("[name=on]").check()
    await page.get_by_test_id("scorer-regex").locator("[name=pattern]").fill("(unclosed")
    await shoot(page, "eval-setup")
    await page.get_by_test_id("ev-create").click()
    await page.get_by_test_id("ev-error").filter(has_text="does not compile").wait_for()
    await page.get_by_test_id("scorer-regex").locator("[name=pattern]").fill(r"emulator\]")
    await page.get_by_test_id("scorer-contains").locator("[name=text]").fill("zorble")
    await page.get_by_test_id("ev-create").click()
    await page.wait_for_url(re.compile(r".*/evals/\d+/$"))
    # The bar moves while cells end, then the eval is done with every cell filled.
    seen: set[str] = set()
    for _ in range(600):
        seen.add(await page.get_by_test_id("ev-bar").get_attribute("aria-valuenow") or "")
        if await page.get_by_test_id("ev-status").get_attribute("data-status") == "done":
            break
        await page.wait_for_timeout(50)
    assert await page.get_by_test_id("ev-status").get_attribute("data-status") == "done"
    assert len(seen - {"0", "100"}) >= 1, seen
    total = ROWS * 2
    assert await page.get_by_test_id("ev-count").inner_text() == f"{total} of {total} cells"
    assert await page.get_by_test_id("ev-cell").count() == total
    # Every scorer scored every cell; the judge ran through the same upstream.
    for kind in ("exact", "contains", "regex", "json", "json_schema", "latency", "judge"):
        assert await page.get_by_test_id(f"ev-score-{kind}").count() == total
    assert await page.get_by_test_id("ev-pass-rate").count() == 2
    # The judge's reasoning is kept and shown (the emulator's judge gives no verdict: "?").
    await page.get_by_text("Judge's reasoning").first.click()
    reasoning = await page.get_by_test_id("ev-judge-reasoning").first.inner_text()
    assert reasoning.startswith("[offline emulator]")
    assert await page.get_by_test_id("ev-score-judge").first.inner_text() == "? judge"
    await shoot(page, "eval-grid")
    # Only the rows where the two configurations differ: the filter keeps exactly those.
    data = json.loads(await (await page.request.get(page.url + "data/")).text())["eval"]
    verdicts: dict[int, set[Any]] = {}
    for cell in data["cells"]:
        verdicts.setdefault(cell["row"], set()).add(tuple(s["passed"] for s in cell["scores"]))
    differing = sum(1 for v in verdicts.values() if len(v) > 1)
    assert 0 < differing < ROWS  # the 8-token answers never say "zorble"; some 40-token ones do
    await page.get_by_test_id("ev-only-diff").check()
    assert await page.get_by_test_id("ev-row").count() == differing
    await page.get_by_test_id("ev-only-diff").uncheck()
    assert await page.get_by_test_id("ev-row").count() == ROWS
    # Export: every cell's exact request, answer and scores.
    exported = json.loads(await (await page.request.get(page.url + "export.json")).text())
    assert len(exported["eval"]["cells"]) == total
    assert all(
        c["request"]["messages"][-1]["content"].startswith("Tell me about code")
        for c in exported["eval"]["cells"]
    )
    csv_text = await (await page.request.get(page.url + "export.csv")).text()
    assert len(list(csv.reader(io.StringIO(csv_text)))) == total + 1
    # Share: a signed-out visitor opens the read-only grid through the link.
    await page.get_by_test_id("ev-share").click()
    url = await page.get_by_test_id("ev-share-url").input_value()
    visitor = await page.context.browser.new_context()
    try:
        shared = await visitor.new_page()
        await shared.goto(url)
        await shared.get_by_test_id("shared-chip").wait_for()
        assert await shared.get_by_test_id("ev-cell").count() == total
        assert await shared.get_by_test_id("ev-stop").count() == 0
        await shared.get_by_test_id("connection").filter(has_text="Connected").wait_for()
    finally:
        await visitor.close()
    # The only errors: the two refusals this test provoked (the bad CSV, the bad pattern), answered 400.
    refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert page.console_errors == [refused, refused]
