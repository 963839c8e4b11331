"""What anyone sees on every screen: a phone without sideways scrolling (composer and latest reply in
reach, parameters in a drawer), dark mode, the keyboard (Esc stops, one shortcuts list), accessibility
checked with axe-core, the model field, the waiting timer, the thread, presentation stepping and the
styled error pages. Screenshots: layout-*.png under tests/artifacts/."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, LiveServer, sign_up
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
FULL_MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


async def send(page: Any, text: str) -> None:
    await page.get_by_test_id("prompt-input").fill(text)
    await page.get_by_test_id("send").click()


async def done(page: Any, label: str = "Done") -> None:
    await page.get_by_test_id("reply-status").filter(has_text=label).wait_for(timeout=20_000)


async def new_page(browser: Any, server: LiveServer, **context: Any) -> tuple[Any, Any]:
    """A signed-up user's playground in a context of its own (phone, dark…)."""
    ctx = await browser.new_context(**({"viewport": {"width": 1280, "height": 800}} | context))
    page = await ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    await sign_up(page, server.url, f"layout{time.monotonic_ns()}")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    return ctx, page


async def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is."""
    assert AXE.exists(), "npm ci installs axe-core (package.json)"
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def test_a_phone_has_no_sideways_scroll_and_keeps_the_composer_and_reply_in_reach(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=40, tokens_per_second=200, chunk_tokens=2)
    ctx, page = await new_page(browser, daphne_server, **PHONE)
    try:
        width = "document.documentElement.scrollWidth"
        assert await page.evaluate(width) <= 390
        # The navigation is one tap away, not off-screen.
        assert not await page.get_by_test_id("nav-conversations").is_visible()
        await page.get_by_test_id("menu-toggle").click()
        await page.get_by_test_id("nav-conversations").wait_for(state="visible")
        assert (await page.get_by_test_id("nav-conversations").bounding_box())["x"] < 390
        await page.get_by_test_id("menu-toggle").click()

        await send(page, "Tell me about fireworks over a lake.")
        await done(page)
        await send(page, "And one more thing about the colours.")
        await done(page)
        assert await page.evaluate(width) <= 390
        # The composer stays on screen wherever the page is scrolled.
        await page.evaluate("window.scrollTo(0, 0)")
        box = await page.get_by_test_id("prompt-input").bounding_box()
        assert box and box["y"] + box["height"] <= 844 and box["x"] >= 0 and box["x"] + box["width"] <= 390
        # The latest reply: scrolled to, it is on screen above the composer.
        reply = page.get_by_test_id("reply-text").first
        await reply.scroll_into_view_if_needed()
        rbox = await reply.bounding_box()
        assert rbox and rbox["y"] < box["y"] and "colours" in await reply.inner_text()
        await page.screenshot(path=str(artifacts / "layout-phone-390.png"))

        # Parameters: a drawer, closed until asked for.
        temperature = page.locator("#param-temperature")
        assert not await temperature.is_visible() or (await temperature.bounding_box())["x"] >= 390
        await page.get_by_test_id("params-open").click()
        await page.wait_for_timeout(300)
        tbox = await temperature.bounding_box()
        assert tbox and 0 <= tbox["x"] < 390
        await page.screenshot(path=str(artifacts / "layout-phone-drawer-390.png"))
        await page.get_by_test_id("params-close").click()
        await page.wait_for_timeout(300)
        assert (await temperature.bounding_box())["x"] >= 390
        assert await page.evaluate(width) <= 390

        # The saved conversations: the table is wider than a phone and scrolls inside itself; its hidden
        # column label (absolute) once widened the page when the table was wide enough.
        await page.goto(f"{daphne_server.url}/conversations/")
        table = page.get_by_test_id("conversation-table")
        assert await table.evaluate("(e) => e.scrollWidth > e.clientWidth")
        assert await page.evaluate(width) <= 390
        assert not page.errors
    finally:
        await ctx.close()


async def test_dark_mode_follows_the_system_and_the_toggle_pins_a_theme(
    browser: Any, daphne_server: LiveServer, artifacts: Path
) -> None:
    background = "getComputedStyle(document.body).backgroundColor"
    light_ctx, light = await new_page(browser, daphne_server, color_scheme="light")
    dark_ctx, dark = await new_page(browser, daphne_server, color_scheme="dark")
    try:
        light_bg, dark_bg = await light.evaluate(background), await dark.evaluate(background)
        assert light_bg != dark_bg
        # Dark is dark: the page is darker than its text.
        lum = "(c) => c.match(/\\d+/g).slice(0, 3).map(Number).reduce((a, b) => a + b)"
        text = "getComputedStyle(document.body).color"
        assert await dark.evaluate(f"({lum})({background})") < await dark.evaluate(f"({lum})({text})")
        await dark.screenshot(path=str(artifacts / "layout-dark-1280.png"))
        # The toggle: auto → dark → light, kept across pages.
        toggle = dark.get_by_test_id("theme-toggle")
        await toggle.click()
        assert await dark.evaluate("document.documentElement.dataset.theme") == "dark"
        await toggle.click()
        assert await dark.evaluate("document.documentElement.dataset.theme") == "light"
        assert await dark.evaluate(background) == light_bg
        await dark.goto(f"{daphne_server.url}/conversations/")
        assert await dark.evaluate(background) == light_bg
    finally:
        await light_ctx.close()
        await dark_ctx.close()


async def test_esc_stops_a_stream_and_the_shortcuts_are_listed_in_one_place(
    page: Any, emulator: EmulatorServer
) -> None:
    emulator.configure(ttft_ms=1200, tokens_per_second=8, chunk_tokens=1)
    await page.fill("#param-max_tokens", "400")
    await send(page, "A long answer, please.")
    # Before the first token, a timer counts.
    timer = page.get_by_test_id("waiting-time")
    await timer.wait_for()
    first = await timer.inner_text()
    await page.wait_for_timeout(450)
    assert await timer.inner_text() != first and first.endswith(" s")
    await page.get_by_test_id("reply-text").wait_for(timeout=10_000)
    await page.get_by_test_id("waiting").wait_for(state="hidden")
    await page.keyboard.press("Escape")
    await done(page, "Stopped")
    ended = [s for s in emulator.state()["streams"] if s["end"] == "client_disconnected"]
    assert ended, "Esc closed the upstream"
    # The screen-reader region says it once, at the end (it is not every token).
    assert (await page.get_by_test_id("reply-announce").inner_text()).startswith("Reply stopped.")

    await page.locator("body").click(position={"x": 5, "y": 300})
    await page.keyboard.press("?")
    shortcuts = page.get_by_test_id("shortcuts")
    await shortcuts.wait_for()
    listed = await shortcuts.inner_text()
    for key in ("Ctrl/⌘ + Enter", "Esc", "→ or Space", "?"):
        assert key in listed
    await page.get_by_test_id("shortcuts-close").click()
    await shortcuts.wait_for(state="hidden")


async def test_a_short_model_name_sends_the_full_id_and_the_field_shows_it_whole(
    page: Any, emulator: EmulatorServer
) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=300, chunk_tokens=4)
    await page.wait_for_function("() => document.querySelectorAll('#model-options option').length > 0")
    # At 1280 px the full default id fits in the field (not cut before the part that tells models apart).
    await page.set_viewport_size({"width": 1280, "height": 800})
    fits = "(e) => e.scrollWidth <= e.clientWidth"
    assert await page.get_by_test_id("model-input").evaluate(fits)
    assert await page.get_by_test_id("models-status").evaluate(fits)
    await page.get_by_test_id("model-input").fill("llama-v3p1-8b-instruct")
    await send(page, "Which model are you?")
    await done(page)
    assert await page.get_by_test_id("model-input").input_value() == FULL_MODEL
    bodies = [r["body"] for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
    assert bodies[-1]["model"] == FULL_MODEL


async def test_the_thread_shows_messages_edits_on_demand_and_the_last_reply_once(page: Any) -> None:
    await send(page, "First question about rivers")
    await done(page)
    reply = await page.get_by_test_id("reply-text").first.inner_text()
    turns = page.get_by_test_id("turn")
    assert await turns.count() == 2
    # Messages are shown as text, not as editable boxes.
    user = turns.nth(0)
    assert await user.get_by_test_id("turn-body").inner_text() == "First question about rivers"
    assert not await user.get_by_test_id("turn-text").is_visible()
    # The reply is read once: in the Response card; the thread points there.
    assert reply.strip()[:40] not in await page.get_by_test_id("turns").inner_text()
    # Click to edit; Esc leaves the editor and keeps the change.
    await user.get_by_test_id("turn-body").click()
    box = user.get_by_test_id("turn-text")
    await box.wait_for(state="visible")
    await box.fill("First question about lakes")
    await page.keyboard.press("Escape")
    assert await user.get_by_test_id("turn-body").inner_text() == "First question about lakes"


async def test_presentation_stepping_mid_answer_keeps_both_answers(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=40, tokens_per_second=12, chunk_tokens=1)
    await page.goto(f"{daphne_server.url}/present/")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await page.get_by_test_id("present-queue").fill("Explain rainbows to a child\nWrite a haiku about tea")
    await page.get_by_test_id("present-params").nth(0).fill("max_tokens=60")
    await page.get_by_test_id("present-start").click()
    await page.keyboard.press("ArrowRight")
    status = page.get_by_test_id("col-status").first
    await status.filter(has_text="streaming").wait_for(timeout=10_000)
    await page.get_by_test_id("col-reply").first.filter(has_text="rainbows").wait_for(timeout=10_000)
    emulator.configure(ttft_ms=40, tokens_per_second=200, chunk_tokens=2)
    await page.keyboard.press("ArrowRight")  # mid-answer
    assert await page.get_by_test_id("stage-prompt").inner_text() == "Write a haiku about tea"
    await status.filter(has_text="done").wait_for(timeout=15_000)
    await asyncio.sleep(0.5)  # the first answer's "stopped" has come back by now: it must not land here
    assert "done" in (await status.inner_text()).lower()
    text = await page.get_by_test_id("col-reply").first.inner_text()
    assert "haiku about tea" in text and "rainbows" not in text
    assert await page.get_by_test_id("col-tokens").first.inner_text() == "60"
    await page.screenshot(path=str(artifacts / "layout-present-step-1440.png"))
    # Both prompts reached the model, each as its own request.
    bodies = [r["body"] for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
    asked = [b["messages"][-1]["content"] for b in bodies]
    assert asked[-1] == "Write a haiku about tea" and "Explain rainbows to a child" in asked


async def test_error_pages_share_the_apps_look(page: Any, daphne_server: LiveServer) -> None:
    response = await page.goto(f"{daphne_server.url}/c/987654/")
    assert response.status == 404
    assert await page.get_by_test_id("topbar").is_visible()
    card = page.get_by_test_id("error-page")
    assert await card.get_attribute("data-status") == "404"
    assert "Nothing here" in await card.inner_text()
    assert await page.locator("h1").count() == 1
    await page.get_by_role("link", name="Back to the playground").click()
    await page.get_by_test_id("prompt-input").wait_for()


async def test_main_pages_have_no_serious_accessibility_violations(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer
) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=300, chunk_tokens=4)
    # axe-core is injected as a script: the context lets it past the page's Content-Security-Policy.
    wide = {"width": 1440, "height": 900}
    ctx, page = await new_page(browser, daphne_server, bypass_csp=True, viewport=wide)
    try:
        await send(page, "Hello, accessibility.")
        await done(page)
        playground = page.url.removeprefix(daphne_server.url)
        await page.goto(f"{daphne_server.url}/conversations/")
        run = await page.get_by_test_id("last-run-status").first.get_attribute("href")
        found: dict[str, list[str]] = {}
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            for path in (playground, "/conversations/", "/compare/", run, "/presets/", "/present/"):
                await page.goto(f"{daphne_server.url}{path}")
                await page.wait_for_timeout(400)
                assert await page.locator("h1").count() == 1, f"{path}: one h1"
                violations = await serious_violations(page)
                if violations:
                    found[f"{scheme} {path}"] = violations
        assert not found, json.dumps(found, indent=1, ensure_ascii=False)
    finally:
        await ctx.close()


async def test_the_header_fits_every_width_and_more_holds_the_rest(
    browser: Any, daphne_server: LiveServer, artifacts: Path
) -> None:
    ctx, page = await new_page(browser, daphne_server)
    header = "[data-testid='topbar']"
    overflow = (
        f'(() => {{ const h = document.querySelector("{header}"); '
        "return [h.scrollWidth, h.clientWidth, document.documentElement.scrollWidth]; })()"
    )
    try:
        for path in ("/", "/conversations/", "/evals/"):
            await page.goto(daphne_server.url + path)
            for width in (390, 800, 1100, 1101, 1280, 1440, 1920):
                await page.set_viewport_size({"width": width, "height": 800})
                scroll, client, doc = await page.evaluate(overflow)
                assert scroll <= client and doc <= width, (path, width, scroll, client, doc)
                folded = await page.get_by_test_id("menu-toggle").is_visible()
                assert folded == (width <= 1100), (path, width)
                if not folded:  # the main links on the bar, in one row
                    tops = {
                        round((await page.get_by_test_id(t).bounding_box())["y"])
                        for t in ("nav-playground", "nav-prompts", "nav-evals", "nav-arena", "nav-more")
                    }
                    assert len(tops) == 1, (path, width, tops)
        await page.set_viewport_size({"width": 1280, "height": 800})
        await page.goto(daphne_server.url + "/")
        assert not await page.get_by_test_id("nav-presets").is_visible()
        await page.get_by_test_id("nav-more").click()
        for testid in ("nav-presets", "nav-workspace", "username", "sign-out"):
            assert await page.get_by_test_id(testid).is_visible(), testid
        await page.screenshot(path=str(artifacts / "header-more-1280.png"))
        await page.keyboard.press("Escape")
        await page.get_by_test_id("nav-presets").wait_for(state="hidden")
        assert await page.get_by_test_id("nav-more").get_attribute("aria-expanded") == "false"
        await page.get_by_test_id("nav-more").click()
        await page.get_by_test_id("nav-presets").click()
        await page.wait_for_url("**/presets/")
        assert await page.get_by_test_id("nav-more").get_attribute("data-current") == "true"
        assert not page.errors
    finally:
        await ctx.close()
