"""The parameters panel: friendly names beside the API's, help only when asked for, and the set values
summarised at the top and counted on the toolbar's badge, exactly the values the next request carries.
Screenshots: params-panel-*.png under tests/artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_layout import PHONE, done, new_page, send
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


def chat_requests(emulator: EmulatorServer) -> list[dict[str, Any]]:
    return [r for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]


async def test_labels_help_on_demand_and_a_summary_of_what_is_sent(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    ctx, page = await new_page(browser, daphne_server, viewport={"width": 1440, "height": 900})
    try:
        # A friendly name beside the API's, from the registry.
        label = page.get_by_test_id("label-temperature")
        assert await label.inner_text() == "Temperature · temperature"
        assert await page.get_by_test_id("label-max_tokens").inner_text() == "Maximum length · max_tokens"
        # The label still names the input for assistive technology.
        assert await page.get_by_label("Temperature · temperature").get_attribute("id") == "param-temperature"

        # Help is hidden until its (?) is pressed, and hidden again on a second press.
        help_text = page.get_by_test_id("help-temperature")
        assert not await help_text.is_visible()
        assert await page.locator(".param-help:visible").count() == 0
        toggle = page.get_by_test_id("help-toggle-temperature")
        await toggle.click()
        assert await help_text.is_visible() and "Randomness" in await help_text.inner_text()
        assert await toggle.get_attribute("aria-expanded") == "true"
        await toggle.click()
        assert not await help_text.is_visible()

        summary = page.get_by_test_id("params-summary")
        count = page.get_by_test_id("params-count")
        assert "Nothing set" in await summary.inner_text()
        assert await count.inner_text() == ""

        await page.fill("#param-temperature", "0.7")
        await page.fill("#param-max_tokens", "200")
        assert await summary.inner_text() == "temperature 0.7 · max_tokens 200"
        assert await count.inner_text() == "2"
        await page.screenshot(path=str(artifacts / "params-panel-1440.png"))

        # The summary is what the next request carries, exactly.
        await send(page, "Hello")
        await done(page)
        body = chat_requests(emulator)[-1]["body"]
        assert body["temperature"] == 0.7 and body["max_tokens"] == 200
        assert "top_p" not in body and "top_k" not in body

        # Unset one: the summary, the count and the next request follow.
        await page.get_by_test_id("reset-temperature").click()
        assert await summary.inner_text() == "max_tokens 200"
        assert await count.inner_text() == "1"
        await send(page, "Again")
        await done(page)
        body = chat_requests(emulator)[-1]["body"]
        assert "temperature" not in body and body["max_tokens"] == 200
        assert not page.errors
    finally:
        await ctx.close()


async def test_the_count_badge_on_a_phone(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path
) -> None:
    ctx, page = await new_page(browser, daphne_server, color_scheme="dark", **PHONE)
    try:
        count = page.get_by_test_id("params-count")
        assert not await count.is_visible()
        await page.get_by_test_id("params-open").click()
        await page.wait_for_timeout(300)
        await page.fill("#param-top_k", "40")
        assert await page.get_by_test_id("params-summary").inner_text() == "top_k 40"
        await page.screenshot(path=str(artifacts / "params-panel-390-dark.png"))
        await page.get_by_test_id("params-close").click()
        assert await count.inner_text() == "1" and await count.is_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        await ctx.close()


async def test_no_red_error_on_a_field_not_yet_written_until_send(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer
) -> None:
    ctx, page = await new_page(browser, daphne_server, viewport={"width": 1440, "height": 900})
    try:
        errors = page.locator("[data-testid=param-response_format] .param-error")
        await page.locator("#param-response_format").select_option("json_schema")
        # Just chosen: the schema is still to be written, so nothing is shown in red.
        assert await page.get_by_test_id("json-schema-editor").is_visible()
        assert not await errors.is_visible()
        assert await page.locator("[data-testid=param-response_format].has-error").count() == 0
        # Sent without one: now it says what is missing, and nothing goes upstream.
        before = len(chat_requests(emulator))
        await send(page, "Hello")
        await errors.filter(has_text="json_schema needs a JSON schema object").wait_for(timeout=5_000)
        assert len(chat_requests(emulator)) == before
        assert not page.errors
    finally:
        await ctx.close()
