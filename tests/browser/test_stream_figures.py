"""Issue 12, page side, in headless Chromium: one stream, one fold. A run's time to first token, tokens per
second and token count read off every view that shows it are the same (the playground, a second member's
tab and a share link's page watching it live, compare, presentation mode, the run page, replay); tokens per
second is never negative while tool-call arguments stream; and View code shows exactly the request that
Send then sends."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_compare import open_compare, set_spec, wait_summary
from tests.browser.test_live_watch import conversation_with_share_link
from tests.browser.test_playground import send, wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

WEATHER = '{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}'


def frames(log: list[str], kind: str) -> list[dict[str, Any]]:
    """The JSON frames of one type in a websocket log (chat.deltas items are not needed here)."""
    out = []
    for text in log:
        try:
            frame = json.loads(text)
        except ValueError:
            continue
        if isinstance(frame, dict) and frame.get("type") == kind:
            out.append(frame)
    return out


def clean(text: str) -> str:
    """A figure as shown, without its label or unit, and without the estimate marks."""
    return text.replace("≈", "").replace("~", "").strip()


async def text_of(scope: Any, testid: str) -> str:
    return clean(await scope.get_by_test_id(testid).first.inner_text())


async def playground_figures(page: Any) -> dict[str, str]:
    return {
        "ttft": clean(await page.locator("[data-testid=ttft-proxy] .value").inner_text()),
        "tps": clean(await page.locator("[data-testid=tokens-per-second] .value").inner_text()),
        "tokens": clean(await page.locator("[data-testid=usage-completion] .value").inner_text()),
    }


LIVE_DONE = """() => {
  const box = document.querySelector('[data-testid=live-stream]');
  if (!box || box.querySelector('[data-testid=live-status]').textContent !== 'done') return false;
  return box.querySelector('[data-testid=live-metrics]').innerText;
}"""


async def live_figures(page: Any) -> dict[str, str]:
    """The live box's figures once the watched stream is done (a member's tab then shows the saved reply)."""
    text = await (await page.wait_for_function(LIVE_DONE, timeout=15_000)).json_value()
    found = re.search(
        r"TTFT (?P<ttft>[^·]+?) · (?P<tps>[\d.,]+) tokens/s · tokens [^→]+→ ~?(?P<tokens>[\d,]+)", text
    )
    assert found, text
    return {key: clean(value) for key, value in found.groupdict().items()}


async def column_figures(column: Any) -> dict[str, str]:
    return {
        "ttft": await text_of(column, "col-ttft"),
        "tps": await text_of(column, "col-tps"),
        "tokens": await text_of(column, "col-tokens"),
    }


async def run_page_figures(page: Any, base: str, run: int) -> dict[str, str]:
    await page.goto(f"{base}/runs/{run}/")
    await page.get_by_test_id("timeline-svg").wait_for(timeout=10_000)
    return {
        "ttft": await text_of(page, "run-ttft"),
        "tps": await text_of(page, "run-tps"),
        "tokens": await text_of(page, "run-tokens"),
    }


REPLAY_ENDED = """() => {
  window.__ended = false;
  document.addEventListener("replay:end", () => { window.__ended = true; });
}"""


async def replay_figures(page: Any, base: str, run: int) -> tuple[dict[str, str], dict[str, str]]:
    """The replay page's figures before playing (the saved frames folded at once) and after a 4x replay."""
    await page.goto(f"{base}/runs/{run}/replay/")
    column = page.get_by_test_id("compare-column")
    await column.get_by_test_id("col-status").filter(has_text="done").wait_for(timeout=10_000)
    before = await column_figures(column)
    await page.evaluate(REPLAY_ENDED)
    await page.get_by_test_id("speed-4").click()
    await page.get_by_test_id("replay-play").click()
    await page.wait_for_function("() => window.__ended", timeout=30_000)
    await column.get_by_test_id("col-status").filter(has_text="done").wait_for(timeout=10_000)
    return before, await column_figures(column)


def assert_figures(figures: dict[str, dict[str, str]]) -> None:
    first = next(iter(figures.values()))
    assert re.fullmatch(r"\d+ ms|\d+\.\d\d s", first["ttft"]), figures
    assert re.fullmatch(r"\d+(\.\d)?", first["tps"]), figures
    assert re.fullmatch(r"\d+", first["tokens"]), figures
    for view, shown in figures.items():
        assert shown == first, (view, figures)


async def test_a_runs_figures_are_the_same_in_the_playground_live_watching_run_page_and_replay(
    page: Any, browser: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    base = daphne_server.url
    conversation_url, conversation, share_url = await conversation_with_share_link(page, emulator, seed=5)

    tab = await page.context.new_page()
    await tab.goto(conversation_url)
    guest_context = await browser.new_context(viewport={"width": 1280, "height": 900})
    guest = await guest_context.new_page()
    try:
        await guest.goto(share_url)
        watching = (
            f"() => document.querySelector('[data-testid=live-watch]')?.dataset.watching === '{conversation}'"
        )
        for watcher in (tab, guest):
            await watcher.wait_for_function(watching, timeout=10_000)

        emulator.configure(ttft_ms=120, tokens_per_second=40, chunk_tokens=1, seed=5)
        await page.fill("#param-max_tokens", "24")
        await send(page, "Tell me about the sea")
        figures = {"second tab": await live_figures(tab), "share link": await live_figures(guest)}
        await guest.screenshot(path=str(artifacts / "figures-share-link.png"))
        await wait_status(page, "Done")
        await page.wait_for_timeout(200)  # the panels draw on the next animation frame
        figures["playground"] = await playground_figures(page)
        # The member's tab then shows the saved run in its panels: the last-run summary's frames.
        await tab.wait_for_function(
            "() => !document.querySelector('[data-testid=live-stream]')", timeout=10_000
        )
        await (
            tab.locator("[data-testid=tokens-per-second] .value")
            .filter(has_text=re.compile(r"\d"))
            .wait_for(timeout=10_000)
        )
        figures["second tab (saved run)"] = await playground_figures(tab)
    finally:
        await guest_context.close()
        await tab.close()
    [done] = [f for f in frames(page.frames_log.received, "chat.done") if f.get("run")][-1:]
    figures["run page"] = await run_page_figures(page, base, done["run"])
    figures["replay (folded)"], figures["replay (played)"] = await replay_figures(page, base, done["run"])
    assert_figures(figures)
    assert figures["playground"]["tokens"] == "24"


async def test_a_columns_figures_are_the_same_in_compare_presentation_run_page_and_replay(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    base = daphne_server.url
    emulator.configure(ttft_ms=90, tokens_per_second=60, chunk_tokens=1, seed=9)
    await open_compare(page, base)
    await page.get_by_test_id("compare-prompt").fill("Name three rivers")
    await set_spec(page, 0, "max_tokens=18")
    await set_spec(page, 1, "max_tokens=12")
    await page.get_by_test_id("run-all").click()
    await wait_summary(page, 2)
    column = page.get_by_test_id("compare-column").nth(0)
    compare = await column_figures(column)
    row = page.get_by_test_id("summary-row").filter(has_text="Column 1")
    cells = [clean(c) for c in await row.locator("td").all_inner_texts()]
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=str(artifacts / "compare-1280.png"), full_page=True)
    href = await column.get_by_test_id("col-run-link").get_attribute("href")
    run = int(href.split("/")[2])
    figures = {
        "compare": compare,
        "summary": {
            "ttft": cells[3].lstrip("★ "),
            "tps": cells[4].lstrip("★ "),
            "tokens": cells[5].lstrip("★ "),
        },
    }
    figures["run page"] = await run_page_figures(page, base, run)
    figures["replay (folded)"], figures["replay (played)"] = await replay_figures(page, base, run)
    assert_figures(figures)
    assert figures["compare"]["tokens"] == "18"

    # Presentation mode: its column's figures are its run's everywhere else too.
    await page.goto(f"{base}/present/")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await page.get_by_test_id("present-queue").fill("Describe a lighthouse")
    await page.get_by_test_id("present-params").nth(0).fill("max_tokens=16")
    await page.get_by_test_id("present-params").nth(1).fill("max_tokens=8")
    await page.get_by_test_id("present-start").click()
    await page.get_by_test_id("present-stage").wait_for()
    await page.keyboard.press("ArrowRight")
    for i in range(2):
        await page.get_by_test_id("col-status").nth(i).filter(has_text="done").wait_for(timeout=15_000)
    present = await column_figures(page.get_by_test_id("compare-column").nth(0))
    sent = frames(page.frames_log.sent, "chat.start")
    started = {f["stream"]: f["run"] for f in frames(page.frames_log.received, "chat.started")}
    first_column = [f for f in sent if f["params"].get("max_tokens") == 16][-1]
    run = started[first_column["stream"]]
    assert_figures({"presentation": present, "run page": await run_page_figures(page, base, run)})
    assert present["tokens"] == "16"


async def test_b_tokens_per_second_is_never_negative_while_tool_call_arguments_stream(
    page: Any, emulator: EmulatorServer, artifacts: Path
) -> None:
    await page.get_by_test_id("tools-panel").locator("summary").click()
    await page.get_by_test_id("add-tool").click()
    tool = page.get_by_test_id("tool-def").first
    await tool.get_by_test_id("tool-name").fill("get_weather")
    await tool.get_by_test_id("tool-description").fill("The weather in a city")
    await tool.get_by_test_id("tool-parameters").fill(WEATHER)
    # A slow pace: the call's arguments arrive as many deltas, none of them content.
    # (Slow enough that the rate is read several times even beside a second test process.)
    emulator.configure(ttft_ms=60, tokens_per_second=12, chunk_tokens=1, seed=4)
    await send(page, "Use the get_weather tool for Paris")
    shown: list[str] = []
    rate = page.locator("[data-testid=tokens-per-second] .value")
    while not await page.get_by_test_id("reply-status").filter(has_text="Done").count():
        shown.append(await rate.inner_text())
        await page.wait_for_timeout(60)
    shown.append(await rate.inner_text())
    await page.get_by_test_id("tool-call").first.wait_for()
    await page.screenshot(path=str(artifacts / "figures-tool-call.png"))
    numbers = [float(v) for v in shown if v != "—"]
    assert len(numbers) >= 3, shown  # the rate was on screen while the arguments streamed
    assert all(v >= 0 for v in numbers), shown
    assert not any(v.startswith("-") or "Infinity" in v or "NaN" in v for v in shown), shown
    [done] = frames(page.frames_log.received, "chat.done")[-1:]
    assert done["finish_reasons"] == {"0": "tool_calls"}


async def test_c_view_code_shows_exactly_what_send_sends(
    page: Any, emulator: EmulatorServer, artifacts: Path
) -> None:
    await page.fill("#param-max_tokens", "12")
    await page.get_by_test_id("tools-panel").locator("summary").click()
    await page.get_by_test_id("add-tool").click()
    tool = page.get_by_test_id("tool-def").first
    await tool.get_by_test_id("tool-name").fill("get_weather")
    await tool.get_by_test_id("tool-parameters").fill(WEATHER)
    await page.get_by_test_id("prediction-panel").locator("summary").click()
    await page.get_by_test_id("prediction-input").fill("The weather in Paris is mild.")
    await page.get_by_test_id("prompt-input").fill("What is the weather like in Paris?")

    await page.get_by_test_id("view-code").click()
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=code-dialog]')?.textContent.includes('get_weather')",
        timeout=10_000,
    )
    [rendered] = frames(page.frames_log.received, "code.rendered")
    await page.keyboard.press("Escape")
    await page.get_by_test_id("send").click()
    await wait_status(page, "Done")
    [started] = frames(page.frames_log.received, "chat.started")[-1:]
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.wait_for_timeout(200)
    await page.screenshot(path=str(artifacts / "playground-reply-1280.png"))
    assert rendered["request"]["tools"][0]["function"]["name"] == "get_weather"
    assert rendered["request"]["prediction"] == {
        "type": "content",
        "content": "The weather in Paris is mild.",
    }
    assert rendered["request"]["messages"][-1]["content"] == "What is the weather like in Paris?"
    assert started["request"] == rendered["request"]
