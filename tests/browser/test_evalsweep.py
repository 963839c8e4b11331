"""An eval's "Sweep a parameter" in headless Chromium: a temperature sweep of 3 values x 2 samples over a
small test set, run on the server; the eval page charts each sample's pass rate (and each scorer's, and
the speed figures) against the temperature; screenshots at 390 and 1280 px, light and dark."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_evals import shoot
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")
SHOTS = Path("/tmp/shots-evalsweep")
ROWS = 4


async def test_a_temperature_sweep_charts_each_samples_pass_rate(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("tests.browser.test_evals.SHOTS", SHOTS)
    emulator.configure(ttft_ms=20, tokens_per_second=400)
    base = daphne_server.url
    await page.goto(f"{base}/evals/sets/new/")
    table = tmp_path / "words.csv"
    table.write_text(
        "question,expected\n" + "".join(f"w{i},{'zorble' if i % 2 else 'widget'}\n" for i in range(ROWS))
    )
    await page.get_by_test_id("ts-file").set_input_files(str(table))
    await page.wait_for_url(re.compile(r".*/evals/sets/\d+/$"))
    await page.get_by_test_id("eval-this").click()
    await page.get_by_test_id("ev-name").fill("temperature sweep")
    configs = page.get_by_test_id("ev-config")
    await configs.nth(1).get_by_role("button", name="Remove configuration").click()
    await configs.nth(0).locator("[name=params]").fill('{"max_tokens": 40}')
    await page.get_by_test_id("ev-samples").fill("2")
    await page.get_by_test_id("scorer-contains").locator("[name=on]").check()  # the expected answer
    await page.get_by_test_id("scorer-regex").locator("[name=on]").check()
    await page.get_by_test_id("scorer-regex").locator("[name=pattern]").fill(r"emulator\]")
    await page.get_by_test_id("ev-sweep-on").check()
    assert await page.get_by_test_id("ev-sweep-param").input_value() == "temperature"
    # A value out of the registry's range is refused on the page, as compare's Sweep refuses it.
    await page.get_by_test_id("ev-sweep-values").fill("0, 0.7, 9")
    await page.get_by_test_id("ev-create").click()
    await page.get_by_test_id("ev-error").filter(has_text="Sweep: temperature must be").wait_for()
    await page.get_by_test_id("ev-sweep-values").fill("0, 0.7, 1.4")
    await shoot(page, "evalsweep-setup")
    await page.get_by_test_id("ev-create").click()
    await page.wait_for_url(re.compile(r".*/evals/\d+/$"))
    # One column per value, named by it.
    head = await page.locator("#ev-grid-head th").all_inner_texts()
    assert head[-3:] == ["temperature=0", "temperature=0.7", "temperature=1.4"]
    status = page.get_by_test_id("ev-status")
    for _ in range(600):
        if await status.get_attribute("data-status") == "done":
            break
        await page.wait_for_timeout(50)
    assert await status.get_attribute("data-status") == "done"
    # The pass-rate chart: a point per sample (3 values x 2), each at that sample's pass rate.
    chart = page.get_by_test_id("sweep-svg-pass_rate")
    await chart.wait_for()
    points = chart.get_by_test_id("sweep-point")
    await page.wait_for_function(
        "document.querySelectorAll('[data-testid=sweep-svg-pass_rate] [data-testid=sweep-point]')"
        ".length === 6"
    )
    got = sorted(
        [
            (float(await p.get_attribute("data-value")), float(await p.get_attribute("data-y")))
            for p in await points.all()
        ]
    )
    data = json.loads(await (await page.request.get(page.url + "data/")).text())["eval"]
    cells = data["cells"]
    wanted = []
    for column in data["columns"]:
        for sample in range(2):
            mine = [c for c in cells if c["column"] == column["index"] and c["sample"] == sample]
            assert len(mine) == ROWS and all(c["status"] == "done" for c in mine)
            wanted.append((column["sweep"]["value"], sum(1 for c in mine if c["passed"]) / ROWS))
    assert got == sorted(wanted)
    # Each scorer has its own chart too; the regex always passes here.
    regex_ys = (
        await page.get_by_test_id("sweep-svg-pass_rate_1")
        .get_by_test_id("sweep-point")
        .evaluate_all("points => points.map((p) => p.dataset.y)")
    )
    assert regex_ys == ["1"] * 6
    figures = await page.get_by_test_id("sweep-figure").evaluate_all(
        "figs => figs.map((f) => f.dataset.series)"
    )
    # The pass rates first, then the speed and size figures.
    assert figures[:6] == [
        "pass_rate",
        "pass_rate_0",
        "pass_rate_1",
        "ttft_ms",
        "tokens_per_second",
        "reply_tokens",
    ]
    note = await page.get_by_test_id("sweep-chart-note").inner_text()
    assert note.startswith("temperature against each figure · 3 values \u00d7 2 samples")
    assert "finished" not in note  # every sample ended
    await shoot(page, "evalsweep-page")
