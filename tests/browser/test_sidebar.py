"""The playground's recent conversations: a second conversation opened from the sidebar, the current one
marked, the search box searching on the server, and on a phone a drawer that never widens the page.
Screenshots: sidebar-<width>-<theme>.png under tests/artifacts/."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_layout import PHONE, done, new_page, send
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def two_conversations(page: Any) -> int:
    """Two saved conversations (otters, then volcanoes); returns the first one's id."""
    await send(page, "Tell me about otters")
    await done(page)
    first = int(re.search(r"/c/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
    await page.get_by_test_id("new-conversation").click()
    await send(page, "Tell me about volcanoes")
    await done(page)
    return first


async def until(page: Any, expression: str, seconds: float = 10.0) -> None:
    """Poll an expression (wait_for_function evaluates strings, which the page's CSP refuses)."""
    for _ in range(int(seconds / 0.05)):
        if await page.evaluate(expression):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never true: {expression}")


async def slid_in(page: Any) -> None:
    """The drawer's transition has ended with it on screen."""
    await until(page, "document.getElementById('chats-drawer').getBoundingClientRect().left === 0")


def links(page: Any) -> Any:
    return page.get_by_test_id("chats-sidebar").get_by_test_id("chat-link")


async def test_open_a_second_conversation_from_the_sidebar_and_search(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer
) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=400, chunk_tokens=4)
    ctx, page = await new_page(browser, daphne_server, viewport={"width": 1440, "height": 900})
    try:
        sidebar = page.get_by_test_id("chats-sidebar")
        assert await sidebar.is_visible()
        await sidebar.get_by_test_id("chats-status").filter(has_text="No conversations yet").wait_for()
        first = await two_conversations(page)
        # Both listed, newest first; the one on screen (volcanoes) is marked.
        await links(page).nth(1).wait_for()
        titles = await links(page).all_inner_texts()
        assert "volcanoes" in titles[0] and "otters" in titles[1]
        current = sidebar.locator("[aria-current='page']")
        assert await current.count() == 1 and "volcanoes" in await current.inner_text()

        # A click opens the other one: its thread, its address, and the mark moves.
        await links(page).filter(has_text="otters").click()
        await page.wait_for_url(f"{daphne_server.url}/c/{first}/")
        await page.get_by_test_id("turns").filter(has_text="Tell me about otters").wait_for()
        await links(page).nth(1).wait_for()
        assert "otters" in await sidebar.locator("[aria-current='page']").inner_text()
        assert f"#{first}" in await page.get_by_test_id("where-title").inner_text()

        # The search box asks the server (message text matches too) and narrows the list.
        async with page.expect_response(lambda r: "/api/conversations/?q=volcano" in r.url):
            await sidebar.get_by_test_id("chats-search").fill("volcano")
        await until(page, "document.querySelectorAll('[data-testid=chat-link]').length === 1")
        assert "volcanoes" in (await links(page).all_inner_texts())[0]
        await sidebar.get_by_test_id("chats-search").fill("no such chat anywhere")
        await sidebar.get_by_test_id("chats-status").filter(has_text="No conversation matches").wait_for()
        assert await links(page).count() == 0
        # Esc in the box clears the search: both again.
        await sidebar.get_by_test_id("chats-search").press("Escape")
        await links(page).nth(1).wait_for()

        # The ☰ button hides the column on a wide screen and shows it again.
        await page.get_by_test_id("chats-open").click()
        assert not await sidebar.is_visible()
        await page.get_by_test_id("chats-open").click()
        assert await sidebar.is_visible()
        assert not page.errors
    finally:
        await ctx.close()


async def test_on_a_phone_the_sidebar_is_a_drawer_and_the_page_stays_390_wide(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer
) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=400, chunk_tokens=4)
    ctx, page = await new_page(browser, daphne_server, **PHONE)
    try:
        width = "document.documentElement.scrollWidth"
        first = await two_conversations(page)
        sidebar = page.get_by_test_id("chats-sidebar")
        assert not await sidebar.is_visible()
        assert await page.evaluate(width) <= 390
        await page.get_by_test_id("chats-open").click()
        await links(page).nth(1).wait_for(state="visible")
        # Slid in whole (its transition ended): on screen, not past its right edge.
        await slid_in(page)
        box = await sidebar.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert await page.evaluate(width) <= 390
        await page.get_by_test_id("chats-close").click()
        await sidebar.wait_for(state="hidden")
        # Opened again, a tap on a conversation opens it.
        await page.get_by_test_id("chats-open").click()
        await links(page).filter(has_text="otters").click()
        await page.wait_for_url(f"{daphne_server.url}/c/{first}/")
        assert await page.evaluate(width) <= 390
        assert not page.errors
    finally:
        await ctx.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
async def test_screenshots_with_the_sidebar_open(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path, theme: str
) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=400, chunk_tokens=4)
    for width in (390, 1280, 1440):
        size = PHONE if width == 390 else {"viewport": {"width": width, "height": 860}}
        ctx, page = await new_page(browser, daphne_server, color_scheme=theme, **size)
        try:
            await two_conversations(page)
            await page.get_by_test_id("prompt-input").fill("")
            if width == 390:
                await page.get_by_test_id("chats-open").click()
                await slid_in(page)
            await links(page).nth(1).wait_for(state="visible")
            # The sidebar's surface follows the theme's variables.
            background = await page.get_by_test_id("chats-sidebar").evaluate(
                "n => getComputedStyle(n).backgroundColor"
            )
            assert (background == "rgb(23, 26, 34)") == (theme == "dark"), background
            assert await page.evaluate("document.documentElement.scrollWidth") <= width
            await page.screenshot(path=str(artifacts / f"sidebar-{width}-{theme}.png"))
        finally:
            await ctx.close()
