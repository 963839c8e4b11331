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

from tests.browser.conftest import LiveServer, click_nav, sign_up
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
    await click_nav(page, "nav-workspace")
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

    # Revoked (after confirming): the link now says so.
    asked: list[str] = []

    async def confirm(dialog: Any) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.once("dialog", confirm)
    await page.get_by_test_id("share-revoke").first.click()
    await page.locator('[data-testid="share-row"][data-state="revoked"]').first.wait_for()
    assert asked and "Revoke this link?" in asked[0]
    gone_context, gone = await open_shared(browser, share_url)
    try:
        assert "was revoked" in await gone.get_by_test_id("gone-page").inner_text()
        await gone.screenshot(path=str(artifacts / "teams-share-revoked-1280.png"))
    finally:
        await gone_context.close()


async def test_team_library_and_a_viewers_read_only_playground(
    page: Any, browser: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path
) -> None:
    """The owner fills the team's preset library and shares a conversation with the team; a viewer's
    playground is read-only (no Send, regenerate or fork), applies library presets and watches live."""
    base = daphne_server.url
    emulator.configure(ttft_ms=10, tokens_per_second=400)
    await click_nav(page, "nav-workspace")
    await page.get_by_test_id("workspace-new").locator("input[name=name]").fill("Library team")
    await page.get_by_test_id("workspace-create").click()
    await page.get_by_test_id("workspace-page").filter(has_text="Library team").wait_for()
    await page.get_by_test_id("invitation-form").locator("select[name=role]").select_option("viewer")
    await page.get_by_test_id("invitation-create").click()
    invite_url = await page.get_by_test_id("invitation-url").first.input_value()

    # A conversation in the team, shared with it by the toggle on the playground page.
    await page.goto(f"{base}/")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await page.fill("#param-temperature", "0.4")
    await send(page, "Summarise the launch plan")
    await wait_status(page, "done")
    await page.wait_for_url(lambda url: "/c/" in url)
    conversation_url = page.url
    await page.reload()
    await page.get_by_test_id("turn-run-by").first.wait_for()
    owner_name = (await page.get_by_test_id("turn-run-by").first.inner_text()).removeprefix("Run by ")
    toggle = page.get_by_test_id("visibility-toggle")
    assert "Private" in await toggle.inner_text()
    await toggle.click()
    await toggle.filter(has_text="Shared with Library team").wait_for()
    assert (
        await page.get_by_test_id("share-button").get_attribute("href")
        == f"{conversation_url[len(base) :]}share/"
    )
    assert not await page.get_by_test_id("readonly-note").is_visible()
    await page.screenshot(path=str(artifacts / "teams-playground-share-toggle-1440.png"))

    # Presets: one saved straight into the library, one personal then moved there with ⇡.
    await page.get_by_test_id("presets-toggle").click()
    await page.get_by_test_id("preset-name").fill("Team sampler")
    await page.get_by_test_id("preset-scope").select_option("workspace")
    await page.get_by_test_id("preset-save").click()
    await page.get_by_test_id("preset-status").filter(has_text="Saved “Team sampler”").wait_for()
    await page.get_by_test_id("preset-name").fill("Scratch")
    await page.get_by_test_id("preset-scope").select_option("personal")
    await page.get_by_test_id("preset-save").click()
    await page.get_by_test_id("preset-status").filter(has_text="Saved “Scratch”").wait_for()
    mine = page.get_by_test_id("preset-list")
    library = page.get_by_test_id("preset-library-list")
    assert "Scratch" in await mine.inner_text() and "Team sampler" in await library.inner_text()
    await mine.get_by_test_id("preset-move").first.click()
    await (
        page.get_by_test_id("preset-status")
        .filter(has_text="Moved “Scratch” to the Library team library")
        .wait_for()
    )
    assert "Scratch" in await library.inner_text()
    await page.get_by_test_id("preset-name").fill("Only mine")
    await page.get_by_test_id("preset-save").click()
    await page.get_by_test_id("preset-status").filter(has_text="Saved “Only mine”").wait_for()
    await page.goto(f"{base}/presets/")
    assert "Library team library" in await page.get_by_test_id("preset-section-library").inner_text()
    assert await page.get_by_test_id("notice").count() == 0  # the toggle left no notice behind
    await page.screenshot(path=str(artifacts / "teams-presets-library-1440.png"), full_page=True)

    # The viewer joins and opens the conversation: read-only, but presets apply and runs show live.
    second = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        viewer = await second.new_page()
        errors: list[str] = []
        viewer.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_up(viewer, base, f"viewer{time.monotonic_ns()}")
        await viewer.goto(invite_url)
        await viewer.get_by_test_id("join-button").click()
        await viewer.wait_for_url(f"{base}/conversations/")
        await viewer.goto(conversation_url)
        note = viewer.get_by_test_id("readonly-note")
        await note.wait_for()
        assert "Read-only: you are a viewer in Library team." in await note.inner_text()
        assert not await viewer.get_by_test_id("send").is_visible()
        await viewer.get_by_test_id("turn-run-by").first.filter(has_text=f"Run by {owner_name}").wait_for()
        assert await viewer.get_by_test_id("turn-regenerate").count() == 0
        assert await viewer.get_by_test_id("turn-fork").count() == 0
        assert await viewer.get_by_test_id("share-button").count() == 0
        # No edits either: the turns' text and role are locked, their ↑ ↓ ✕ and image buttons hidden.
        first_turn = viewer.get_by_test_id("turn").first
        await viewer.wait_for_function(
            "() => [...document.querySelectorAll('[data-testid=turn-text]')].every((t) => t.readOnly)"
        )
        assert await first_turn.get_by_test_id("turn-role").is_disabled()
        for control in ("turn-up", "turn-down", "turn-delete"):
            assert not await first_turn.get_by_test_id(control).is_visible()
        assert not await viewer.get_by_test_id("add-tool").is_visible()
        assert await viewer.get_by_test_id("visibility-chip").inner_text() == "Shared with Library team"
        await viewer.get_by_test_id("presets-toggle").click()
        library = viewer.get_by_test_id("preset-library-list")
        assert "Team sampler" in await library.inner_text()
        assert "Only mine" not in await viewer.get_by_test_id("preset-list").inner_text()
        assert await viewer.get_by_test_id("preset-move").count() == 0
        assert not await viewer.get_by_test_id("preset-scope").is_visible()
        await library.get_by_test_id("preset-apply").filter(has_text="Team sampler").click()
        assert await viewer.locator("#param-temperature").input_value() == "0.4"
        assert not await viewer.get_by_test_id("preset-update").is_visible()
        await viewer.screenshot(path=str(artifacts / "teams-viewer-read-only-1440.png"))
        # The owner runs it again: the viewer watches the stream live.
        emulator.configure(ttft_ms=10, tokens_per_second=40)
        await page.goto(conversation_url)
        await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
        await send(page, "And the risks?")
        await viewer.get_by_test_id("live-stream").first.wait_for(timeout=10_000)
        await wait_status(page, "done")
        assert not errors, errors
    finally:
        await second.close()
        emulator.configure(ttft_ms=10, tokens_per_second=2000)
