"""Teams and sharing in a real browser: an owner creates a workspace and an invitation, a second user
joins it as an editor (a second browser context), the owner shares a conversation and an anonymous
visitor opens the link (a third context). Screenshots in tests/artifacts/.

Live watching through the link extends ``open_shared`` (the anonymous context on the shared page).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, sign_up
from tests.browser.test_playground import send, wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def open_shared(browser: Any, url: str) -> tuple[Any, Any]:
    """A fresh anonymous browser context on a share link's page: (context, page)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 860})
    page = await context.new_page()
    await page.goto(url)
    return context, page


async def test_owner_invites_an_editor_and_shares_with_an_anonymous_visitor(
    page: Any, browser: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path
) -> None:
    base = daphne_server.url
    # The owner makes a team workspace (it becomes the current one) and an editor invitation.
    await page.get_by_test_id("nav-workspace").click()
    await page.get_by_test_id("workspace-new").locator("input[name=name]").fill("Demo team")
    await page.get_by_test_id("workspace-create").click()
    await page.get_by_test_id("workspace-page").filter(has_text="Demo team").wait_for()
    await page.get_by_test_id("invitation-form").locator("select[name=role]").select_option("editor")
    await page.get_by_test_id("invitation-create").click()
    invite_url = await page.get_by_test_id("invitation-url").first.input_value()
    assert "/join/" in invite_url

    # A second user joins as an editor in their own browser context.
    second = await browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        guest = await second.new_page()
        await sign_up(guest, base, f"editor{time.monotonic_ns()}")
        await guest.goto(invite_url)
        assert await guest.get_by_test_id("join-role").inner_text() == "editor"
        await guest.screenshot(path=str(artifacts / "teams-join-1280.png"))
        await guest.get_by_test_id("join-button").click()
        await guest.wait_for_url(f"{base}/conversations/")
        assert "Demo team" in await guest.get_by_test_id("workspace-select").inner_text()
    finally:
        await second.close()

    await page.reload()
    roles = page.get_by_test_id("member-row")
    assert await roles.count() == 2
    await page.screenshot(path=str(artifacts / "teams-workspace-1440.png"), full_page=True)

    # The owner runs a conversation in the team and shares it.
    await page.goto(f"{base}/")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await send(page, "Explain rivers to the stakeholders")
    await wait_status(page, "done")
    await page.wait_for_url(lambda url: "/c/" in url)
    conversation = page.url.rstrip("/").rsplit("/", 1)[-1]
    await page.goto(f"{base}/c/{conversation}/share/")
    await page.get_by_test_id("share-create").click()
    share_url = await page.get_by_test_id("share-url").first.input_value()
    await page.screenshot(path=str(artifacts / "teams-share-1440.png"))

    # Anyone with the link reads it, signed out, with the run's metrics.
    third, viewer = await open_shared(browser, share_url)
    try:
        await viewer.get_by_test_id("shared-turn").nth(1).wait_for()
        assert "Explain rivers" in await viewer.get_by_test_id("shared-turns").inner_text()
        assert "TTFT" in await viewer.get_by_test_id("shared-metrics").first.inner_text()
        assert await viewer.get_by_test_id("shared-sign-in").is_visible()
        await viewer.screenshot(path=str(artifacts / "teams-shared-anonymous-1280.png"), full_page=True)
    finally:
        await third.close()

    # Revoked: the link now says so.
    await page.get_by_test_id("share-revoke").first.click()
    gone_context, gone = await open_shared(browser, share_url)
    try:
        assert "was revoked" in await gone.get_by_test_id("gone-page").inner_text()
        await gone.screenshot(path=str(artifacts / "teams-share-revoked-1280.png"))
    finally:
        await gone_context.close()
