"""Issue 7 in headless Chromium: a full tool-call round trip (define, call, paste the result, answer, reload),
the prompt inspector, predicted outputs compared with and without, and a Responses thread."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import raw_reply
from tests.browser.test_playground import send, wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCHEMA = '{"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}'
CODE = (
    "def total(items):\n    result = 0\n"
    "    for item in items:\n        result += item.price\n    return result\n"
)


async def test_tool_call_round_trip_and_reload(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=400, seed=3)
    await page.get_by_test_id("tools-panel").locator("summary").click()
    await page.get_by_test_id("add-tool").click()
    tool = page.get_by_test_id("tool-def").first
    await tool.get_by_test_id("tool-name").fill("lookup_word")
    await tool.get_by_test_id("tool-description").fill("Look a word up in the dictionary")
    # Validated as you type: broken JSON, a required property that is not defined, then a good schema.
    await tool.get_by_test_id("tool-parameters").fill('{"type": "object", "properties": {')
    assert "Not valid JSON" in await tool.get_by_test_id("tool-schema-error").inner_text()
    await tool.get_by_test_id("tool-parameters").fill('{"type": "object", "required": ["word"]}')
    assert "not among the properties" in await tool.get_by_test_id("tool-schema-error").inner_text()
    await tool.get_by_test_id("tool-parameters").fill(SCHEMA)
    assert await tool.get_by_test_id("tool-schema-error").inner_text() == ""
    assert "function: lookup_word" in await page.get_by_test_id("tool-choice").inner_text()

    await send(page, "Use the tool to look up the word quux")
    await wait_status(page, "Done")
    result = page.get_by_test_id("tool-result")
    await result.first.wait_for(timeout=10_000)
    assert await result.count() == 1
    assert "lookup_word" in await result.inner_text()
    assert "arguments fit the schema" in await result.get_by_test_id("tool-args-check").inner_text()
    await page.get_by_test_id("tool-call").first.wait_for()
    await result.get_by_test_id("tool-result-input").fill("quux: a metasyntactic variable, like foo")
    await page.screenshot(path=str(artifacts / "tool-call-result-1440.png"))
    await page.get_by_test_id("send-tool-results").click()
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=turn]').length === 4", timeout=15_000
    )
    await wait_status(page, "Done")
    answer = await page.get_by_test_id("assistant-message").inner_text()
    assert "quux: a metasyntactic variable" in answer and "lookup_word" in answer
    roles = await page.locator("[data-testid=turn-role]").evaluate_all("(n) => n.map((s) => s.value)")
    assert roles == ["user", "assistant", "tool", "assistant"]
    call_text = await page.get_by_test_id("turn-tool-calls").inner_text()
    call_id = re.search(r"call_\w+", call_text)
    assert call_id and "lookup_word" in call_text

    # The saved conversation keeps the whole round trip.
    await page.wait_for_url(re.compile(r"/c/\d+/$"))
    await page.locator('[data-testid="turn-run-link"]').last.wait_for(timeout=10_000)
    await page.reload()
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=turn]').length === 4", timeout=15_000
    )
    roles = await page.locator("[data-testid=turn-role]").evaluate_all("(n) => n.map((s) => s.value)")
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert call_id.group(0) in await page.get_by_test_id("turn-tool-calls").inner_text()
    assert call_id.group(0) in await page.get_by_test_id("turn-tool-call-id").inner_text()
    texts = await page.locator("[data-testid=turn-text]").evaluate_all("(n) => n.map((t) => t.value)")
    assert texts[2] == "quux: a metasyntactic variable, like foo"
    await page.screenshot(path=str(artifacts / "tool-round-trip-reloaded-1440.png"))

    # The Tools panel comes back: from the draft (this reload), then from the server's saved extra alone.
    async def tool_is_back() -> None:
        await page.get_by_test_id("tool-def").first.wait_for(timeout=10_000)
        assert await page.get_by_test_id("tool-def").count() == 1
        assert await page.get_by_test_id("tool-name").input_value() == "lookup_word"
        assert "word" in await page.get_by_test_id("tool-parameters").input_value()
        assert "tools" not in await page.get_by_test_id("extra-body").input_value()

    await tool_is_back()
    await page.evaluate("() => localStorage.clear()")
    await page.reload()
    await page.get_by_test_id("turn").nth(3).wait_for(timeout=15_000)
    await tool_is_back()
    # The next request still defines the tool (and the saved conversation keeps it).
    await send(page, "Look up the word foo too")
    await wait_status(page, "Done")
    started = [json.loads(f) for f in page.frames_log.received]
    request = [f for f in started if f.get("type") == "chat.started"][-1]["request"]
    assert [t["function"]["name"] for t in request["tools"]] == ["lookup_word"]
    assert request["tool_choice"] == "auto"
    assert not page.console_errors


async def test_prompt_inspection(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=400, seed=3)
    await page.evaluate("() => { document.querySelector('details[data-group=Advanced]').open = true; }")
    await page.locator("#param-raw_output").check()
    await page.get_by_test_id("system-prompt").fill("You answer in one line.")
    await send(page, "What is a fragment?")
    await wait_status(page, "Done")
    inspector = page.get_by_test_id("prompt-inspector")
    await inspector.wait_for()
    await inspector.locator("summary").click()
    counts = await inspector.get_by_test_id("prompt-message-tokens").all_inner_texts()
    assert [c.split(" · ")[0] for c in counts] == ["(start)", "system", "user", "assistant"]
    total = int((await inspector.get_by_test_id("prompt-token-count").inner_text()).split()[0])
    assert sum(int(c.split(" · ")[1].split()[0]) for c in counts) == total
    reply = await raw_reply(page.locator('.choice[data-choice="0"]'))
    assert (await inspector.get_by_test_id("raw-completion").inner_text()).strip() == reply.strip()
    await inspector.get_by_test_id("show-token-ids").check()
    fragment = inspector.get_by_test_id("prompt-fragment").nth(3)
    assert re.fullmatch(r"token id \d+", await fragment.get_attribute("title") or "")
    await inspector.scroll_into_view_if_needed()
    await page.screenshot(path=str(artifacts / "prompt-inspection-1440.png"))
    assert not page.console_errors


async def test_predicted_output_comparison(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=150, seed=3)
    await page.get_by_test_id("prediction-panel").locator("summary").click()
    await page.get_by_test_id("prediction-input").fill(CODE)
    await send(page, f"Rename result to subtotal:\n```python\n{CODE}```")
    await wait_status(page, "Done")
    accepted = await page.get_by_test_id("prediction-acceptance").inner_text()
    assert re.fullmatch(r"\d+ of \d+ predicted tokens accepted \(\d+%\)", accepted), accepted
    await page.get_by_test_id("compare-prediction").click()
    await page.get_by_test_id("compare-speedup").wait_for(timeout=20_000)
    rates = await page.get_by_test_id("compare-rate").all_inner_texts()
    with_rate, without_rate = (float(r.split()[0].replace(",", "")) for r in rates)
    assert with_rate > without_rate
    await page.get_by_test_id("prediction-result").scroll_into_view_if_needed()
    await page.screenshot(path=str(artifacts / "prediction-compare-1440.png"))
    # New conversation leaves no comparison behind.
    await page.locator("#new-conversation").click()
    assert not await page.get_by_test_id("prediction-result").is_visible()
    assert await page.get_by_test_id("prediction-compare").count() == 0
    assert not page.console_errors


async def test_responses_thread(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=400, seed=3)
    await page.get_by_test_id("mode-responses").click()
    panel = page.get_by_test_id("responses-panel")
    await panel.wait_for()
    await send(page, "Hello over the Responses API")
    await wait_status(page, "Done")
    await send(page, "And a follow-up")
    await wait_status(page, "Done")
    items = panel.get_by_test_id("responses-item")
    await items.nth(1).wait_for()
    first_id = re.search(r"resp_\w+", await items.nth(0).inner_text())
    assert first_id and "new thread" in await items.nth(0).inner_text()
    assert f"continues {first_id.group(0)}" in await items.nth(1).inner_text()
    assert "out tokens" in await items.nth(1).get_by_test_id("responses-usage").inner_text()
    sent = [f for f in page.frames_log.sent if '"chat.start"' in f]
    assert '"previous_response_id"' in sent[-1] and '"mode": "responses"' in sent[-1].replace('":"', '": "')
    await page.screenshot(path=str(artifacts / "responses-thread-1440.png"))
    assert not page.console_errors
