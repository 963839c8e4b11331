"""Demos on stage, in headless Chromium against daphne and the emulator: the readiness check with one
configuration failing and switched to a replay (labelled on the stage), and a serving-path comparison
with the ramp.

Screenshots under tests/artifacts/: stage-readiness-1440.png, stage-replay-1440.png,
serving-paths-1440.png.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.emulator_fixture import EmulatorServer

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DEPLOYMENT = f"{MODEL}#stage-demo"
OTHER = "accounts/fireworks/models/llama-v3p3-70b-instruct"
PROMPT = "Explain tides in two sentences"

pytestmark = pytest.mark.asyncio(loop_scope="session")


def starts(page: Any) -> list[dict[str, Any]]:
    """The chat.start frames the page sent."""
    frames = [json.loads(f) for f in page.frames_log.sent]
    return [f for f in frames if f.get("type") == "chat.start"]


async def test_readiness_check_then_a_failing_slot_replays_a_recorded_run(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=40, tokens_per_second=200, cold_start_ms=1700, cold_after_s=0.5)
    await page.goto(f"{daphne_server.url}/present/")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await page.get_by_test_id("present-queue").fill(f"{PROMPT}\nWrite a haiku about tea")
    await page.get_by_test_id("present-model").nth(0).fill(DEPLOYMENT)
    await page.get_by_test_id("present-params").nth(0).fill("max_tokens=24")
    await page.get_by_test_id("present-model").nth(1).fill(OTHER)
    await page.get_by_test_id("present-params").nth(1).fill("temperature=0.3 max_tokens=30")

    # A rehearsal: both models answer the first prompt live (these runs are what a replay can play).
    await page.get_by_test_id("present-start").click()
    await page.keyboard.press("ArrowRight")
    statuses = page.get_by_test_id("col-status")
    for i in range(2):
        await statuses.nth(i).filter(has_text="done").wait_for(timeout=15_000)
    rehearsed = await page.get_by_test_id("col-reply").nth(1).inner_text()
    await page.keyboard.press("Escape")
    await page.get_by_test_id("present-setup").wait_for()
    await asyncio.sleep(0.6)  # the deployment idles past cold_after_s: it is cold again

    # Before going on stage: the second model is overloaded.
    emulator.inject({"kind": "status", "status": 503, "model": OTHER})
    before = len(emulator.state()["requests"])
    await page.get_by_test_id("readiness-run").click()
    summary = page.get_by_test_id("readiness-summary")
    await summary.filter(has_text="1 of 2 ready").wait_for(timeout=15_000)
    rows = page.get_by_test_id("readiness-row")
    ready, failed = rows.nth(0), rows.nth(1)
    assert await ready.get_attribute("data-status") == "ready"
    assert await failed.get_attribute("data-status") == "failed"
    assert (await ready.get_by_test_id("ready-status").inner_text()).lower() == "ready"
    assert not await ready.get_by_test_id("ready-ttft").count()  # the cold line says both times
    cold = await ready.get_by_test_id("ready-cold").inner_text()
    assert cold.startswith("cold: 1.") and "warmed:" in cold  # the cold first token, then the warmed one
    assert "requests" in await ready.get_by_test_id("ready-headroom").inner_text()
    error = await failed.get_by_test_id("ready-error").inner_text()
    assert (
        error.startswith("overloaded (503): ")
        and "The server is overloaded, please try again later." in error
    )
    # The exact tiny bodies the upstream received: the deployment twice (cold, warmed), the other once.
    probes = [r["body"] for r in emulator.state()["requests"][before:] if r["method"] == "POST"]
    assert sorted(b["model"] for b in probes) == sorted([DEPLOYMENT, DEPLOYMENT, OTHER])
    assert all(b["max_tokens"] == 4 and b["messages"][-1]["content"] == PROMPT for b in probes)
    assert next(b for b in probes if b["model"] == OTHER)["temperature"] == 0.3
    await page.get_by_test_id("readiness-panel").screenshot(path=str(artifacts / "stage-readiness-1440.png"))

    # The failing slot goes on a replay; on stage it plays the rehearsed run, clearly labelled.
    await failed.get_by_test_id("ready-switch").click()
    assert (await failed.get_by_test_id("ready-replay-chip").inner_text()).lower() == "replay on stage"
    sent_before = len(starts(page))
    await page.get_by_test_id("present-start").click()
    await page.keyboard.press("ArrowRight")
    notes = page.get_by_test_id("col-replay-note")
    await notes.nth(1).filter(has_text="Replay of a recorded run").wait_for(timeout=10_000)
    assert "not live" in await notes.nth(1).inner_text()
    assert not await notes.nth(0).is_visible()
    for i in range(2):
        await statuses.nth(i).filter(has_text="done").wait_for(timeout=15_000)
    assert await page.get_by_test_id("col-reply").nth(1).inner_text() == rehearsed
    await page.screenshot(path=str(artifacts / "stage-replay-1440.png"))
    # Only the live slot sent a request.
    assert [s["model"] for s in starts(page)[sent_before:]] == [DEPLOYMENT]

    # The next prompt was never recorded: the replay slot says so, and sends nothing either.
    await page.keyboard.press("ArrowRight")
    await notes.nth(1).filter(has_text="no recorded run of this prompt").wait_for(timeout=10_000)
    await statuses.nth(0).filter(has_text="done").wait_for(timeout=15_000)
    assert [s["model"] for s in starts(page)[sent_before:]] == [DEPLOYMENT, DEPLOYMENT]
    # Back to live from the slot's own button: the slot is sent the prompt again, live.
    toggle = page.get_by_test_id("col-replay-toggle").nth(1)
    assert await toggle.inner_text() == "Back to live"
    await toggle.click()
    await statuses.nth(1).filter(has_text="done").wait_for(timeout=15_000)
    assert not await notes.nth(1).is_visible()
    assert starts(page)[-1]["model"] == OTHER
    assert not page.console_errors


async def test_serving_paths_side_by_side_with_the_ramp(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=30, tokens_per_second=400, cold_start_ms=300, queue_ms_per_stream=20)
    await page.get_by_test_id("nav-compare").click()
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await page.get_by_test_id("tab-serving").click()
    await page.get_by_test_id("serving-base").fill("max_tokens=40")
    await page.get_by_test_id("path-lora").uncheck()
    await page.get_by_test_id("serving-cache-key").fill("stage-session")
    await page.get_by_test_id("serving-prediction").fill("Tides rise and fall twice a day.")
    await page.get_by_test_id("serving-generate").click()
    labels = [
        "Standard tier",
        "Priority tier",
        "Dedicated deployment",
        "Prompt-cache key",
        "Predicted output",
    ]
    assert await page.get_by_test_id("spec").count() == len(labels)
    await page.get_by_test_id("compare-prompt").fill(PROMPT)
    await page.get_by_test_id("ramp-on").check()
    await page.get_by_test_id("run-all").click()
    await page.get_by_test_id("ramp-status").filter(has_text="Ramp done").wait_for(timeout=90_000)

    # The live columns: each path's figures side by side.
    columns = page.get_by_test_id("compare-column")
    assert [await columns.nth(i).get_by_test_id("col-label").inner_text() for i in range(5)] == labels
    dedicated = columns.nth(2)
    assert (await dedicated.get_by_test_id("col-queue").inner_text()).endswith(
        "ms"
    )  # its cold start, reported
    assert await columns.nth(0).get_by_test_id("col-queue").inner_text() == "not reported"  # serverless: none
    assert "of" in await columns.nth(4).get_by_test_id("col-cached").inner_text()
    for i in range(5):
        assert (await columns.nth(i).get_by_test_id("col-ttft").inner_text()) != "—"

    # The exact bodies the upstream received, live and in the ramp: each path's field as chosen.
    bodies = [r["body"] for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
    live = [b for b in bodies if b["max_tokens"] == 40]
    ramp = [b for b in bodies if b["max_tokens"] == 8]
    assert len(live) == 5 and len(ramp) == 5 * (1 + 2 + 4 + 8)
    tiers = [b.get("service_tier") for b in live]
    assert tiers.count("priority") == 1
    assert [b["model"] for b in live].count(f"{MODEL}#demo-dedicated") == 1
    assert [b.get("prompt_cache_key") for b in live].count("stage-session") == 1
    predicted = [b["prediction"] for b in live if "prediction" in b]
    assert predicted == [{"type": "content", "content": "Tides rise and fall twice a day."}]
    # The ramp sends each path's own body: 15 requests each.
    assert sum(b.get("service_tier") == "priority" for b in ramp) == 15
    assert sum(b.get("prompt_cache_key") == "stage-session" for b in ramp) == 15
    assert sum("prediction" in b for b in ramp) == 15
    assert sum(b["model"] == f"{MODEL}#demo-dedicated" for b in ramp) == 15
    assert not any(b.get("service_tier") or "prediction" in b for b in ramp if b["model"] != MODEL)

    # The chart: a point at 1, 2, 4 and 8 at once for every path.
    points = page.get_by_test_id("ramp-point")
    seen = {
        (await points.nth(i).get_attribute("data-path"), await points.nth(i).get_attribute("data-level"))
        for i in range(await points.count())
    }
    assert seen == {(str(p), str(level)) for p in range(5) for level in (1, 2, 4, 8)}
    rows = page.get_by_test_id("ramp-row")
    assert await rows.count() == 5
    standard = await rows.nth(0).inner_text()
    priority = await rows.nth(1).inner_text()
    assert "failed" not in standard + priority
    await page.screenshot(path=str(artifacts / "serving-paths-1440.png"), full_page=True)
    assert not page.console_errors
