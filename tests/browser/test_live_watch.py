"""Live watching in headless Chromium: while the owner streams, a second tab of the owner and a signed-out
browser holding a share link both see the reply grow, token by token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_playground import send, wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def live_text(page: Any) -> str:
    return await page.get_by_test_id("live-text").first.inner_text()


async def conversation_with_share_link(
    page: Any, emulator: EmulatorServer, *, seed: int
) -> tuple[str, int, str]:
    """A short first exchange, then a share link made on its share page; back on the conversation,
    connected. Returns the conversation's URL, its id and the share link."""
    emulator.configure(ttft_ms=30, tokens_per_second=400, chunk_tokens=1, seed=seed)
    await page.fill("#param-max_tokens", "5")
    await send(page, "A first question")
    await wait_status(page, "Done")
    await page.wait_for_url(re.compile(r"/c/\d+/$"))
    conversation_url = page.url
    conversation = int(conversation_url.rstrip("/").rsplit("/", 1)[1])
    await page.goto(f"{conversation_url}share/")
    await page.get_by_test_id("share-create").click()
    share_url = await page.get_by_test_id("share-url").first.input_value()
    await page.goto(conversation_url)
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    return conversation_url, conversation, share_url


async def test_a_share_link_holder_and_a_second_tab_watch_the_stream_live(
    page: Any, browser: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    conversation_url, conversation, share_url = await conversation_with_share_link(page, emulator, seed=3)

    # A second tab of the owner on the same conversation, and a signed-out browser with the link.
    tab = await page.context.new_page()
    await tab.goto(conversation_url)
    guest_context = await browser.new_context(viewport={"width": 1280, "height": 900})
    guest = await guest_context.new_page()
    errors: list[str] = []
    guest.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        await guest.goto(share_url)
        await guest.get_by_test_id("shared-page").wait_for()
        selector = "document.querySelector('[data-testid=live-watch]')"
        watching = f"() => {selector}?.dataset.watching === '{conversation}'"
        for watcher in (tab, guest):
            await watcher.wait_for_function(watching, timeout=10_000)

        # A slow stream (about 4 s): the watchers' text must grow while it runs.
        emulator.configure(ttft_ms=100, tokens_per_second=20, chunk_tokens=1, seed=3)
        await page.fill("#param-max_tokens", "80")
        await send(page, "Tell me a long story")
        await guest.get_by_test_id("live-text").filter(has_text="[offline emulator]").wait_for(timeout=10_000)
        first = await live_text(guest)
        await guest.screenshot(path=str(artifacts / "live-watch-share-1.png"))
        await guest.wait_for_timeout(1200)
        second = await live_text(guest)
        await guest.screenshot(path=str(artifacts / "live-watch-share-2.png"))
        assert len(second) > len(first) and second.startswith(first)
        title = await tab.get_by_test_id("live-title").first.inner_text()
        assert re.match(r"Live: user\d+ is generating…", title), title
        await tab.screenshot(path=str(artifacts / "live-watch-second-tab.png"))
        assert (await guest.get_by_test_id("live-status").first.inner_text()).lower() == "live"

        await wait_status(page, "Done")
        await guest.get_by_test_id("live-status").filter(has_text="done").wait_for(timeout=10_000)
        final = await live_text(guest)
        reply = await page.get_by_test_id("assistant-message").inner_text()
        assert " ".join(final.split())[:60] in " ".join(reply.split())
        assert "chunks" in await guest.get_by_test_id("live-metrics").first.inner_text()
        await guest.screenshot(path=str(artifacts / "live-watch-share-done.png"))
        # The owner's second tab shows the saved reply in the conversation once the stream is saved.
        await tab.wait_for_function(
            "() => !document.querySelector('[data-testid=live-stream]')", timeout=10_000
        )
        assert final[:40] in await tab.get_by_test_id("assistant-message").inner_text()
        assert not errors
    finally:
        await guest_context.close()
        await tab.close()
