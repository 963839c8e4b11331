"""Presets and code export in headless Chromium: save a preset, change the controls, apply it back, view
the code for the current settings (the same body Send then sends), compare presets, a run's code page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, click_nav
from tests.browser.test_playground import send, wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def value(page: Any, name: str) -> str:
    return await page.locator(f"#param-{name}").input_value()


async def save_preset(page: Any, name: str, *, default: bool = False) -> None:
    await page.get_by_test_id("presets-toggle").click()
    await page.get_by_test_id("preset-name").fill(name)
    if default:
        await page.get_by_test_id("preset-default").check()
    await page.get_by_test_id("preset-save").click()
    await page.get_by_test_id("preset-status").filter(has_text=f"Saved “{name}”").wait_for(timeout=10_000)


def received(page: Any, kind: str) -> list[dict[str, Any]]:
    frames = [json.loads(f) for f in page.frames_log.received]
    return [f for f in frames if f.get("type") == kind]


async def test_save_apply_view_code_compare(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    # Settings worth keeping: a system prompt, three parameters and an extra body field.
    await page.get_by_test_id("system-prompt").fill("You are terse.")
    await page.fill("#param-temperature", "0.3")
    await page.fill("#param-top_k", "20")
    await page.fill("#param-max_tokens", "64")
    await page.locator('[data-group="extra"] summary').click()
    await page.get_by_test_id("extra-body").fill('{"prompt_cache_key": "demo"}')
    await save_preset(page, "Terse")
    assert await page.get_by_test_id("preset-current").inner_text() == "Preset: Terse"
    # A personal workspace: no library to offer, nor a move into one. Escape closes the menu.
    assert not await page.get_by_test_id("preset-library-label").is_visible()
    assert await page.get_by_test_id("preset-move").count() == 0
    await page.keyboard.press("Escape")
    assert await page.get_by_test_id("presets-menu").get_attribute("open") is None

    # Change everything, then one click on the preset restores it.
    await page.get_by_test_id("system-prompt").fill("Ramble on.")
    await page.fill("#param-temperature", "1.5")
    await page.get_by_test_id("reset-top_k").click()
    await page.fill("#param-presence_penalty", "0.5")
    await page.get_by_test_id("extra-body").fill("")
    await page.get_by_test_id("presets-toggle").click()
    await page.screenshot(path=str(artifacts / "presets-menu-1440.png"))
    await page.get_by_test_id("preset-apply").filter(has_text="Terse").click()
    assert await value(page, "temperature") == "0.3"
    assert await value(page, "top_k") == "20"
    assert await value(page, "max_tokens") == "64"
    assert await value(page, "presence_penalty") == ""
    assert await page.get_by_test_id("system-prompt").input_value() == "You are terse."
    assert json.loads(await page.get_by_test_id("extra-body").input_value()) == {"prompt_cache_key": "demo"}
    assert await page.locator('[data-param="temperature"]').get_attribute("class") == "param is-set"
    await page.screenshot(path=str(artifacts / "presets-applied-1440.png"))

    # View code for the current settings and the message being written.
    await page.get_by_test_id("prompt-input").fill("Name three colours.")
    await page.get_by_test_id("view-code").click()
    dialog = page.get_by_test_id("code-dialog")
    python = dialog.get_by_test_id("code-python_openai")
    await python.locator("code").wait_for(timeout=10_000)
    code = await python.inner_text()
    assert 'api_key=os.environ["FIREWORKS_API_KEY"]' in code
    assert "temperature=0.3," in code and "top_k" in code and '"prompt_cache_key": "demo"' in code
    assert '"content": "Name three colours."' in code
    await page.screenshot(path=str(artifacts / "view-code-python-1440.png"))
    await dialog.get_by_test_id("code-tab-curl").click()
    assert await dialog.get_by_test_id("code-curl").is_visible()
    assert not await python.is_visible()
    assert "$FIREWORKS_API_KEY" in await dialog.get_by_test_id("code-curl").inner_text()
    await page.screenshot(path=str(artifacts / "view-code-curl-1440.png"))
    await dialog.get_by_test_id("code-dialog-close").click()
    assert not await dialog.is_visible()

    # Send: the body sent upstream is the one the code was rendered from.
    await send(page, "Name three colours.")
    await wait_status(page, "Done")
    [rendered] = received(page, "code.rendered")
    [started] = received(page, "chat.started")
    assert started["request"] == rendered["request"]
    [upstream] = [r for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
    assert upstream["body"] == rendered["request"]
    run_id = received(page, "chat.done")[0]["run"]

    # A second preset, made the default; the presets page compares the two side by side.
    await page.fill("#param-temperature", "1.2")
    await page.get_by_test_id("reset-top_k").click()
    await save_preset(page, "Lively", default=True)
    await page.get_by_test_id("new-conversation").click()
    assert await value(page, "temperature") == "1.2"  # a new conversation starts from the default
    assert await value(page, "top_k") == ""

    await click_nav(page, "nav-presets")
    await page.get_by_test_id("presets-page").wait_for()
    rows = page.get_by_test_id("preset-row")
    assert await rows.count() == 2
    assert "default" in await rows.filter(has_text="Lively").inner_text()
    await page.get_by_test_id("compare-a").select_option(label="Terse")
    await page.get_by_test_id("compare-b").select_option(label="Lively")
    await page.get_by_test_id("compare-submit").click()
    table = page.get_by_test_id("compare-table")
    await table.wait_for()
    differs = await table.locator('[data-differs="1"]').evaluate_all(
        "(rows) => rows.map((r) => r.dataset.field)"
    )
    assert set(differs) == {"temperature", "top_k"}
    await page.screenshot(path=str(artifacts / "presets-compare-1440.png"), full_page=True)

    # A saved run's code page: four tabs, the copy button works.
    await page.goto(f"{daphne_server.url}/runs/{run_id}/code/")
    await page.get_by_test_id("code-tabs").wait_for()
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.get_by_test_id("code-tab-javascript").click()
    await page.get_by_test_id("code-copy-javascript").click()
    await page.get_by_test_id("code-copy-javascript").filter(has_text="Copied").wait_for(timeout=5_000)
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert "process.env.FIREWORKS_API_KEY" in copied and "top_k: 20" in copied
    await page.screenshot(path=str(artifacts / "run-code-1440.png"))
    assert not page.console_errors, page.console_errors
