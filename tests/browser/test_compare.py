"""Compare, sweep, replay and presentation mode in headless Chromium against daphne and the emulator.

Screenshots: compare-1440.png (columns + summary + word diff), compare-stop-1440.png, sweep-1440.png,
replay-1440.png, present-1440.png under tests/artifacts/.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.emulator_fixture import EmulatorServer

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def open_compare(page: Any, base: str) -> None:
    await page.get_by_test_id("nav-compare").click()
    await page.wait_for_url(f"{base}/compare/")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)


async def set_spec(page: Any, index: int, params: str) -> None:
    await page.get_by_test_id("spec-params").nth(index).fill(params)


async def wait_summary(page: Any, rows: int, wait_ms: float = 30_000) -> None:
    await page.get_by_test_id("summary").wait_for(state="visible", timeout=wait_ms)
    assert await page.get_by_test_id("summary-row").count() == rows


async def test_compare_columns_summary_diff_save_and_reopen(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=60, tokens_per_second=150, chunk_tokens=1)
    base = daphne_server.url
    await open_compare(page, base)
    await page.get_by_test_id("compare-system").fill("Answer in one paragraph.")
    await page.get_by_test_id("compare-prompt").fill("Compare three sorting algorithms")
    await set_spec(page, 0, "temperature=0.2 max_tokens=40 seed=1")
    await set_spec(page, 1, "temperature=1.2 max_tokens=30 seed=2")
    await page.get_by_test_id("add-column").click()
    await set_spec(page, 2, "max_tokens=12 seed=3")
    # An out-of-range value is refused on the page, naming the range.
    await set_spec(page, 2, "temperature=9")
    assert "between 0 and 2" in await page.get_by_test_id("spec").nth(2).inner_text()
    await set_spec(page, 2, "max_tokens=12 seed=3")
    await page.get_by_test_id("run-all").click()
    await wait_summary(page, 3)

    frames = [json.loads(f) for f in page.frames_log.sent]
    starts = [f for f in frames if f.get("type") == "chat.start"]
    assert len(starts) == 3 and len({f["stream"] for f in starts}) == 3
    assert [f["params"].get("max_tokens") for f in starts] == [40, 30, 12]
    columns = page.get_by_test_id("compare-column")
    for i in range(3):
        column = columns.nth(i)
        assert await column.get_by_test_id("col-status").text_content() == "done"
        assert (await column.get_by_test_id("col-reply").inner_text()).startswith("[offline emulator]")
        assert await column.get_by_test_id("col-ttft").inner_text() != "—"
        assert "temperature=" in await column.get_by_test_id("col-sampling").inner_text()
    assert await columns.nth(2).get_by_test_id("col-tokens").inner_text() == "12"
    assert await columns.nth(2).get_by_test_id("col-finish").inner_text() == "length"
    assert "★" in await page.get_by_test_id("summary-table").inner_text()

    await page.get_by_test_id("diff-on").check()
    await page.get_by_test_id("diff-del").first.wait_for(timeout=5_000)
    assert await page.get_by_test_id("diff-ins").count() > 0
    assert "changed" in await page.get_by_test_id("diff-note").inner_text()

    # Saved once every column had its run: the address is the comparison's.
    await page.get_by_test_id("saved-link").wait_for(timeout=10_000)
    assert re.search(r"/compare/\d+/$", page.url)
    await page.screenshot(path=str(artifacts / "compare-1440.png"), full_page=True)

    texts = [await columns.nth(i).get_by_test_id("col-reply").inner_text() for i in range(3)]
    await page.reload()
    await wait_summary(page, 3)
    assert [await columns.nth(i).get_by_test_id("col-reply").inner_text() for i in range(3)] == texts
    assert await page.get_by_test_id("compare-prompt").input_value() == "Compare three sorting algorithms"
    await page.goto(f"{base}/comparisons/")
    assert await page.get_by_test_id("comparison-row").count() == 1
    assert not page.console_errors


async def test_stop_one_column_then_all(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=30, tokens_per_second=25, chunk_tokens=1)
    await open_compare(page, daphne_server.url)
    await page.get_by_test_id("compare-prompt").fill("Tell a long story")
    await set_spec(page, 0, "max_tokens=400")
    await set_spec(page, 1, "max_tokens=400")
    await page.get_by_test_id("add-column").click()
    await set_spec(page, 2, "max_tokens=6")
    await page.get_by_test_id("run-all").click()
    columns = page.get_by_test_id("compare-column")
    words = re.compile(r"\S+ \S+ \S+ \S+")
    await columns.nth(0).get_by_test_id("col-reply").filter(has_text=words).wait_for()
    await columns.nth(0).get_by_test_id("col-stop").click()
    await columns.nth(0).get_by_test_id("col-status").filter(has_text="stopped").wait_for(timeout=10_000)
    await columns.nth(2).get_by_test_id("col-status").filter(has_text="done").wait_for(timeout=10_000)
    assert await columns.nth(1).get_by_test_id("col-status").text_content() == "streaming"
    await page.get_by_test_id("stop-all").click()
    await wait_summary(page, 3)
    statuses = [await columns.nth(i).get_by_test_id("col-status").text_content() for i in range(3)]
    assert statuses == ["stopped", "stopped", "done"]
    assert "partial reply is saved" in await columns.nth(0).get_by_test_id("col-flag").inner_text()
    await page.screenshot(path=str(artifacts / "compare-stop-1440.png"), full_page=True)


async def test_sweep_generates_columns_and_saves_one_as_a_preset(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=40, tokens_per_second=200, chunk_tokens=1)
    await open_compare(page, daphne_server.url)
    await page.get_by_test_id("compare-prompt").fill("Write a tagline for a bakery")
    await page.get_by_test_id("tab-sweep").click()
    await page.get_by_test_id("sweep-values").fill("0, 0.5, 3")
    await page.get_by_test_id("sweep-generate").click()
    assert "between 0 and 2" in await page.get_by_test_id("setup-error").inner_text()
    await page.get_by_test_id("sweep-values").fill("0, 0.5, 1")
    await page.get_by_test_id("sweep-samples").fill("2")
    await page.get_by_test_id("sweep-base").fill("max_tokens=24")
    await page.get_by_test_id("sweep-generate").click()
    assert await page.get_by_test_id("spec").count() == 6
    await page.get_by_test_id("run-all").click()
    await wait_summary(page, 6)
    labels = await page.get_by_test_id("col-label").all_inner_texts()
    assert labels[0] == "temperature=0 · #1" and labels[5] == "temperature=1 · #2"
    starts = [json.loads(f) for f in page.frames_log.sent if '"chat.start"' in f]
    assert [s["params"]["temperature"] for s in starts] == [0, 0, 0.5, 0.5, 1, 1]

    column = page.get_by_test_id("compare-column").nth(2)
    await column.get_by_test_id("col-save-preset").click()
    await column.get_by_test_id("preset-name").fill("Bakery t0.5")
    await column.get_by_test_id("preset-save").click()
    await column.get_by_test_id("preset-saved").wait_for(timeout=10_000)
    presets = await page.evaluate("fetch('/api/presets/').then(r => r.json())")
    [preset] = [p for p in presets["presets"] if p["name"] == "Bakery t0.5"]
    assert preset["params"] == {"temperature": 0.5, "max_tokens": 24}
    await page.get_by_test_id("saved-link").wait_for(timeout=10_000)
    await page.screenshot(path=str(artifacts / "sweep-1440.png"), full_page=True)


REPLAY_LOG = """() => {
  window.__chunks = [];
  window.__ended = false;
  document.addEventListener("replay:chunk", (e) => window.__chunks.push(e.detail));
  document.addEventListener("replay:end", () => { window.__ended = true; });
}"""


async def replay_at(page: Any, speed: int) -> list[dict[str, Any]]:
    await page.evaluate("() => { window.__chunks = []; window.__ended = false; }")
    await page.get_by_test_id(f"speed-{speed}").click()
    await page.get_by_test_id("replay-play").click()
    await page.wait_for_function("() => window.__ended", timeout=30_000)
    return await page.evaluate("() => window.__chunks")


async def test_replay_keeps_the_recorded_pace(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    # About 2.5 s of timeline (60 tokens at 25 tokens/s after 100 ms), so that even at 2x the 10 %
    # tolerance (over a second of replay) is more than a loaded machine's stray stall.
    emulator.configure(ttft_ms=100, tokens_per_second=25, chunk_tokens=1)
    await open_compare(page, daphne_server.url)
    await page.get_by_test_id("compare-prompt").fill("Recite something slowly")
    await set_spec(page, 0, "max_tokens=60")
    await set_spec(page, 1, "max_tokens=20")
    await page.get_by_test_id("run-all").click()
    await wait_summary(page, 2)
    link = page.get_by_test_id("compare-column").nth(0).get_by_test_id("col-replay-link")
    href = await link.get_attribute("href")
    run_id = int(href.split("/")[2])
    run = await page.evaluate(f"fetch('/runs/{run_id}/replay.json').then(r => r.json())")
    # The saved frames (the stream's timeline, then chat.done): the deltas are replayed at their `t`.
    timeline = [f for f in run["run"]["frames"] if f["type"] == "chat.delta"]
    recorded = timeline[-1]["t"] - timeline[0]["t"]
    assert recorded >= 2000, recorded

    await page.goto(f"{daphne_server.url}{href}")
    await page.evaluate(REPLAY_LOG)
    assert await page.get_by_test_id("replay-label").inner_text() == "Replay"
    for speed in (1, 2):
        chunks = await replay_at(page, speed)
        assert [c["i"] for c in chunks] == [f["i"] for f in timeline]
        played = chunks[-1]["at"] - chunks[0]["at"]
        expected = recorded / speed
        assert abs(played - expected) <= 0.1 * expected, (speed, played, expected)
        # Each chunk is shown no earlier than its recorded time after the replay's own start (deadlines
        # are absolute; the player allows 1 ms for timer granularity). Measured from the replay's start,
        # not from the first chunk's display, which a loaded machine may show late.
        late = [c["at"] - (c["start"] + c["t"] / speed) for c in chunks]
        assert min(late) >= -1, min(late)
    # The reply renders as Markdown; its raw view is the saved text exactly.
    await page.get_by_test_id("col-md-raw-toggle").click()
    assert await page.get_by_test_id("col-md-raw").text_content() == run["run"]["content"]
    assert await page.get_by_test_id("col-tokens").inner_text() == "60"
    assert await page.get_by_test_id("col-status").text_content() == "done"
    frames_before = len(page.frames_log.sent)
    await page.get_by_test_id("speed-4").click()
    await page.get_by_test_id("replay-play").click()
    await page.wait_for_timeout(150)
    await page.screenshot(path=str(artifacts / "replay-1440.png"), full_page=True)
    assert len(page.frames_log.sent) == frames_before  # a replay sends nothing


async def test_presentation_mode_steps_through_the_queue(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=40, tokens_per_second=120, chunk_tokens=1)
    await page.goto(f"{daphne_server.url}/present/")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await page.get_by_test_id("present-queue").fill("Explain rainbows to a child\nWrite a haiku about tea")
    await page.get_by_test_id("present-params").nth(0).fill("max_tokens=30")
    await page.get_by_test_id("present-params").nth(1).fill("temperature=1.2 max_tokens=40")
    await page.get_by_test_id("present-start").click()
    stage = page.get_by_test_id("present-stage")
    await stage.wait_for()
    assert not await page.locator(".topbar").is_visible()
    assert not await page.get_by_test_id("col-params").first.is_visible()
    await page.keyboard.press("ArrowRight")
    assert await page.get_by_test_id("stage-prompt").inner_text() == "Explain rainbows to a child"
    statuses = page.get_by_test_id("col-status")
    for i in range(2):
        await statuses.nth(i).filter(has_text="done").wait_for(timeout=15_000)
    assert await page.get_by_test_id("stage-count").inner_text() == "1 / 2"
    assert await page.get_by_test_id("col-tokens").nth(0).inner_text() == "30"
    await page.screenshot(path=str(artifacts / "present-1440.png"))

    await page.keyboard.press("p")
    assert await page.get_by_test_id("col-params").first.is_visible()
    await page.keyboard.press("p")
    emulator.configure(ttft_ms=40, tokens_per_second=10, chunk_tokens=1)
    await page.keyboard.press(" ")
    assert await page.get_by_test_id("stage-prompt").inner_text() == "Write a haiku about tea"
    await statuses.nth(0).filter(has_text="streaming").wait_for(timeout=10_000)
    await page.keyboard.press("Escape")
    for i in range(2):
        await statuses.nth(i).filter(has_text="stopped").wait_for(timeout=10_000)
    await page.keyboard.press("Escape")
    await page.get_by_test_id("present-setup").wait_for()
    # The queue is kept in this browser.
    await page.reload()
    assert "haiku about tea" in await page.get_by_test_id("present-queue").input_value()
    assert not page.console_errors


async def column_texts(page: Any) -> list[str]:
    columns = page.get_by_test_id("compare-column")
    return [
        await columns.nth(i).get_by_test_id("col-reply").inner_text() for i in range(await columns.count())
    ]


async def test_a_comparison_share_link_holder_watches_every_column_live(
    page: Any, browser: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    """The owner saves a comparison, makes a share link on /compare/<id>/share/, and runs the comparison
    again at /compare/<id>/: a signed-out browser on the link sees both columns grow token by token."""
    emulator.configure(ttft_ms=30, tokens_per_second=400, chunk_tokens=1, seed=5)
    base = daphne_server.url
    await open_compare(page, base)
    await page.get_by_test_id("compare-prompt").fill("Describe a lighthouse")
    await set_spec(page, 0, "temperature=0.2 max_tokens=6 seed=1")
    await set_spec(page, 1, "temperature=1.2 max_tokens=6 seed=2")
    await page.get_by_test_id("run-all").click()
    await wait_summary(page, 2)
    await page.get_by_test_id("saved-link").wait_for(timeout=10_000)
    comparison_url = page.url
    assert re.search(r"/compare/\d+/$", comparison_url)
    # Just saved, before any reload: its visibility and Share… are there, and its columns are watched.
    await page.get_by_test_id("compare-share").wait_for()
    assert await page.get_by_test_id("compare-visibility").text_content() == "private"
    await page.wait_for_function("() => document.getElementById('columns').dataset.watching === '2'")

    # The reopened comparison offers Share…: the links page makes a read-only link.
    await page.goto(comparison_url)
    await page.get_by_test_id("compare-share").click()
    await page.get_by_test_id("share-create").click()
    share_url = await page.get_by_test_id("share-url").first.input_value()
    await page.goto(comparison_url)
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    saved = await column_texts(page)

    guest_context = await browser.new_context(viewport={"width": 1440, "height": 900})
    guest = await guest_context.new_page()
    errors: list[str] = []
    guest.on("pageerror", lambda exc: errors.append(str(exc)))
    guest.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    try:
        await guest.goto(share_url)
        await guest.get_by_test_id("shared-comparison-page").wait_for()
        assert await column_texts(guest) == saved
        assert "temperature=" in await guest.get_by_test_id("col-sampling").first.inner_text()
        assert await guest.get_by_test_id("col-run-link").count() == 0  # not the link holder's to open
        await guest.wait_for_function(
            "() => document.getElementById('columns').dataset.watching === '2'", timeout=10_000
        )

        # The owner runs it again, slowly (about 3 s): both columns grow on the guest's page.
        emulator.configure(ttft_ms=100, tokens_per_second=20, chunk_tokens=1, seed=5)
        await set_spec(page, 0, "temperature=0.2 max_tokens=60 seed=1")
        await set_spec(page, 1, "temperature=1.2 max_tokens=60 seed=2")
        await page.get_by_test_id("run-all").click()
        columns = guest.get_by_test_id("compare-column")
        for i in range(2):
            await (
                columns.nth(i)
                .get_by_test_id("col-status")
                .filter(has_text="streaming")
                .wait_for(timeout=10_000)
            )
        await (
            guest.get_by_test_id("live-note")
            .filter(has_text=re.compile(r"Live: user\d+ is running"))
            .wait_for()
        )
        await guest.wait_for_timeout(400)
        first = await column_texts(guest)
        await guest.screenshot(path=str(artifacts / "compare-share-live-1.png"), full_page=True)
        await guest.wait_for_timeout(1200)
        second = await column_texts(guest)
        await guest.screenshot(path=str(artifacts / "compare-share-live-2.png"), full_page=True)
        for a, b in zip(first, second, strict=True):
            assert len(b) > len(a) and b.startswith(a), (a, b)
        assert await columns.nth(0).get_by_test_id("col-ttft").inner_text() != "—"
        assert "max_tokens=60" in await columns.nth(0).get_by_test_id("col-params").inner_text()

        await wait_summary(page, 2)
        for i in range(2):
            await columns.nth(i).get_by_test_id("col-status").filter(has_text="done").wait_for(timeout=10_000)
        assert await column_texts(guest) == await column_texts(page)
        assert await guest.get_by_test_id("live-note").is_hidden()
        assert (
            await columns.nth(0).get_by_test_id("col-tokens").inner_text()
            == await page.get_by_test_id("compare-column").nth(0).get_by_test_id("col-tokens").inner_text()
        )
        await guest.screenshot(path=str(artifacts / "compare-share-live-done.png"), full_page=True)
        # Run again in place: the same comparison, now pointing at the new runs.
        await page.get_by_test_id("saved-note").filter(has_text="Ran again").wait_for(timeout=10_000)
        assert page.url == comparison_url
        await guest.reload()
        await guest.get_by_test_id("shared-comparison-page").wait_for()
        assert await column_texts(guest) == await column_texts(page)
        assert not errors, errors
        assert not page.console_errors
    finally:
        await guest_context.close()


CREATE_PRESET = """async (preset) => {
  const token = document.querySelector("input[name=csrfmiddlewaretoken]")?.value
    || decodeURIComponent((document.cookie.match(/(?:^|;\\s*)csrftoken=([^;]+)/) || [])[1] || "");
  const response = await fetch("/api/presets/", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
    body: JSON.stringify(preset) });
  return (await response.json()).preset;
}"""


async def test_running_a_saved_comparison_again_sends_a_preset_column_with_the_presets_system_prompt(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer
) -> None:
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    preset = await page.evaluate(
        CREATE_PRESET,
        {
            "name": "Pirate",
            "mode": "chat",
            "model": MODEL,
            "system_prompt": "Answer as a pirate.",
            "params": {"max_tokens": 8},
            "scope": "personal",
        },
    )
    await open_compare(page, daphne_server.url)
    await page.get_by_test_id("compare-system").fill("Be brief.")
    await page.get_by_test_id("compare-prompt").fill("Name a sea")
    await page.get_by_test_id("spec-preset").nth(0).select_option(str(preset["id"]))
    await set_spec(page, 1, "max_tokens=8")
    await page.get_by_test_id("run-all").click()
    await wait_summary(page, 2)
    await page.get_by_test_id("saved-link").wait_for(timeout=10_000)

    def systems() -> list[str]:
        chats = [r for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
        return sorted(r["body"]["messages"][0]["content"] for r in chats[-2:])

    assert systems() == ["Answer as a pirate.", "Be brief."]
    emulator.reset()
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    await page.reload()  # the saved comparison, reopened, run again in place
    await wait_summary(page, 2)
    await page.get_by_test_id("run-all").click()
    await page.get_by_test_id("saved-link").filter(has_text="comparison").wait_for(timeout=10_000)
    for _ in range(100):
        if len([r for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]) == 2:
            break
        await asyncio.sleep(0.1)
    # Exactly what the upstream received the second time: each column's own system prompt again.
    assert systems() == ["Answer as a pirate.", "Be brief."]
