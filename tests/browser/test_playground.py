"""End to end in headless Chromium: sign up, stream a reply, stop it, and see failures explained."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer, sign_up
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def reply_text(page: Any) -> str:
    """The visible reply text (choice 1)."""
    return (
        await page.get_by_test_id("assistant-message")
        .locator('[data-testid="reply-text"]')
        .first.inner_text()
    )


async def wait_status(page: Any, label: str, wait_ms: float = 15_000) -> None:
    """Wait until the reply's status chip reads ``label``."""
    try:
        await page.get_by_test_id("reply-status").filter(has_text=label).wait_for(timeout=wait_ms)
    except Exception:
        await page.screenshot(path=str(ARTIFACTS / "failure.png"))
        raise


async def send(page: Any, prompt: str) -> None:
    """Type a prompt and press Send."""
    await page.get_by_test_id("prompt-input").fill(prompt)
    await page.get_by_test_id("send").click()


async def test_signup_stream_and_panels(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    assert (
        await page.get_by_test_id("emulator-badge").inner_text() == "Offline emulator — replies are synthetic"
    )
    # The datalist fills from the models.list frame sent after connecting.
    await page.wait_for_function("() => document.querySelectorAll('#model-options option').length > 0")
    assert "models" in await page.get_by_test_id("models-status").inner_text()
    await page.screenshot(path=str(artifacts / "empty-1440.png"))
    emulator.configure(ttft_ms=150, tokens_per_second=25, chunk_tokens=1, seed=3)
    await page.fill("#param-temperature", "0.5")
    await page.fill("#param-max_tokens", "150")
    await send(page, "Tell me about fireworks over a lake.")

    # Tokens arrive over time: the text grows between two looks.
    await page.get_by_test_id("reply-text").wait_for(timeout=10_000)
    assert await page.get_by_test_id("stop").is_visible()
    lengths = []
    for _ in range(4):
        lengths.append(len(await reply_text(page)))
        await asyncio.sleep(0.25)
    assert lengths[-1] > lengths[0] > 0 or lengths[-1] > lengths[1] > 0, lengths
    await page.screenshot(path=str(artifacts / "streaming-1440.png"))

    await wait_status(page, "Done")
    text = await reply_text(page)
    assert len(text) >= lengths[-1] > 0
    assert not await page.get_by_test_id("stop").is_visible()

    usage = page.get_by_test_id("usage")
    assert "exact" in await usage.inner_text()
    prompt_tokens = await page.get_by_test_id("usage-prompt").locator(".value").inner_text()
    assert prompt_tokens.replace(",", "").isdigit()

    sampling = page.get_by_test_id("sampling-options")
    temperature_row = sampling.locator('tr[data-key="temperature"]')
    assert "0.5" in await temperature_row.inner_text()
    assert "as sent" in await temperature_row.inner_text()
    assert "server default" in await sampling.locator('tr[data-key="top_p"]').inner_text()

    perf = page.get_by_test_id("perf-metrics")
    for testid in ("ttft-server", "ttft-proxy", "ttft-browser", "tokens-per-second"):
        value = await perf.get_by_test_id(testid).locator(".value").inner_text()
        assert value != "—", testid
    assert await perf.locator(".chart rect").count() > 3
    assert "server-time-to-first-token" in await perf.get_by_test_id("perf-table").inner_text()
    assert (await perf.get_by_test_id("request-id").inner_text()) != "—"

    # The reply joined the conversation, and the next send is multi-turn in the same conversation.
    turns = page.get_by_test_id("turn")
    assert await turns.count() == 2
    assert await turns.nth(1).locator("select").input_value() == "assistant"
    await page.screenshot(path=str(artifacts / "done-1440.png"))
    await perf.get_by_test_id("request-meta").scroll_into_view_if_needed()
    assert "x-ratelimit-remaining-requests" in await perf.get_by_test_id("request-meta").inner_text()
    await page.screenshot(path=str(artifacts / "done-metrics-1440.png"))
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    await send(page, "And a second question.")
    await wait_status(page, "Done")
    starts = [json.loads(f) for f in page.frames_log.sent if '"chat.start"' in f]
    assert len(starts) == 2
    assert "conversation" not in starts[0] and starts[1]["conversation"]
    assert [m["role"] for m in starts[1]["messages"]] == ["user", "assistant", "user"]
    assert starts[0]["params"] == {"temperature": 0.5, "max_tokens": 150}  # unset controls are not sent
    assert not page.console_errors, page.console_errors


async def test_stop_keeps_partial_text(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    emulator.configure(ttft_ms=50, tokens_per_second=15, chunk_tokens=1)
    await send(page, "Write a long story.")
    await page.get_by_test_id("reply-text").wait_for(timeout=10_000)
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=reply-text]').textContent.length > 10", timeout=10_000
    )
    await page.get_by_test_id("stop").click()
    await wait_status(page, "Stopped")
    partial = await reply_text(page)
    assert partial
    assert "Stopped" in await page.get_by_test_id("reply-flag").inner_text()
    await asyncio.sleep(0.4)
    assert await reply_text(page) == partial  # nothing arrives after the stop
    assert await page.get_by_test_id("send").is_enabled()
    assert not await page.get_by_test_id("stop").is_visible()
    assert await page.get_by_test_id("turn").count() == 1  # a partial reply joins only when asked
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(artifacts / "stopped-1280.png"))
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.get_by_test_id("keep-partial").click()
    assert await page.get_by_test_id("turn").count() == 2


async def test_upstream_503_explained_and_retry(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    emulator.inject({"kind": "status", "status": 503, "shape": "coded"})
    await send(page, "Hello?")
    error = page.get_by_test_id("error")
    await error.wait_for(timeout=10_000)
    await wait_status(page, "Failed")
    assert await error.get_by_test_id("error-status").inner_text() == "503"
    assert "retrying may work" in await error.inner_text()
    await page.screenshot(path=str(artifacts / "error-503-1440.png"))
    await error.get_by_test_id("retry").click()
    await wait_status(page, "Done")
    assert not await error.is_visible()


async def test_unknown_model_404(page: Any, emulator: EmulatorServer) -> None:
    await page.get_by_test_id("model-input").fill("accounts/fireworks/models/no-such-model")
    await send(page, "Hello?")
    error = page.get_by_test_id("error")
    await error.wait_for(timeout=10_000)
    assert await error.get_by_test_id("error-status").inner_text() == "404"
    assert (await error.get_by_test_id("error-message").inner_text()).strip()
    await wait_status(page, "Failed")


async def test_out_of_range_parameter_is_refused_by_name(page: Any, emulator: EmulatorServer) -> None:
    before = len(emulator.state().get("requests", []))
    await page.fill("#param-temperature", "5")
    inline = page.get_by_test_id("param-temperature").locator(".param-error")
    assert "temperature must be between 0 and 2" in await inline.inner_text()
    await page.get_by_test_id("send").click()
    error = page.get_by_test_id("error")
    assert "temperature must be between 0 and 2" in await error.inner_text()
    assert not [f for f in page.frames_log.sent if '"chat.start"' in f]  # refused before sending
    await page.get_by_test_id("reset-temperature").click()
    # The JSON-schema editor is validated as you type.
    response_format = page.get_by_test_id("param-response_format")
    await response_format.locator("select").select_option("json_schema")
    await page.get_by_test_id("json-schema-editor").fill('{"type": "object",')
    assert "not valid JSON" in await response_format.locator(".param-error").inner_text()
    await page.get_by_test_id("json-schema-editor").fill('{"type": "object"}')
    assert not await response_format.locator(".param-error").is_visible()
    await page.get_by_test_id("reset-response_format").click()
    # The server is the authority: a combination only it checks comes back naming the parameter.
    await page.fill("#param-top_logprobs", "3")
    await send(page, "Hi")
    await error.filter(has_text="top_logprobs").wait_for(timeout=10_000)
    assert await page.get_by_test_id("param-top_logprobs").evaluate(
        "el => el.classList.contains('has-error')"
    )
    assert len(emulator.state().get("requests", [])) == before


async def test_login_with_signup_disabled_link_hidden(browser: Any, daphne_server: LiveServer) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = await context.new_page()
        await page.goto(f"{daphne_server.url}/")
        assert "/accounts/login/" in page.url
        await page.screenshot(path=str(ARTIFACTS / "login-1280.png"))
        await sign_up(page, daphne_server.url, f"login{time.monotonic_ns()}")
        await page.set_viewport_size({"width": 1100, "height": 760})
        await page.screenshot(path=str(ARTIFACTS / "narrow-1100.png"))
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        await page.get_by_test_id("sign-out").click()
        await page.wait_for_url("**/accounts/login/")
    finally:
        await context.close()


async def test_reasoning_choices_and_logprobs(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    await page.get_by_test_id("model-input").fill("accounts/fireworks/models/qwen3-235b-a22b")
    await page.fill("#param-n", "2")
    await page.click("#param-logprobs")
    await page.fill("#param-top_logprobs", "2")
    await send(page, "Compare two fireworks colours.")
    await wait_status(page, "Done")
    reply = page.get_by_test_id("assistant-message")
    assert await reply.locator(".choice").count() == 2
    thinking = reply.get_by_test_id("thinking").first
    assert "Thinking" in await thinking.locator("summary").inner_text()
    assert "[emulated reasoning]" in await thinking.text_content()  # folded away once the answer came
    tokens = reply.get_by_test_id("logprobs").first.locator(".tok")
    assert await tokens.count() > 3
    hover = await tokens.first.get_attribute("title")  # its probability and the alternatives, on hover
    assert "%" in hover
    assert "alternatives:" in hover and hover.count("%") == 3  # itself plus top_logprobs=2
    await page.screenshot(path=str(artifacts / "choices-logprobs-1440.png"))


async def test_tool_call_via_extra_and_completions_mode(page: Any, emulator: EmulatorServer) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    await page.locator('details[data-group="extra"] summary').click()
    await page.get_by_test_id("extra-body").fill(json.dumps({"tools": tools}))
    await send(page, "Call get_weather for Paris.")
    await wait_status(page, "Done")
    call = page.get_by_test_id("tool-call")
    assert "get_weather(" in await call.inner_text()
    assert "city" in await call.inner_text()

    await page.get_by_test_id("new-conversation").click()
    await page.get_by_test_id("extra-body").fill("")
    await page.get_by_test_id("mode-completions").click()
    assert await page.get_by_test_id("param-response_format").locator("select").is_disabled()
    await send(page, "Once upon a time")
    await wait_status(page, "Done")
    start = json.loads([f for f in page.frames_log.sent if '"chat.start"' in f][-1])
    assert (
        start["mode"] == "completions" and start["prompt"] == "Once upon a time" and "messages" not in start
    )
    assert await page.get_by_test_id("prompt-input").input_value() == "Once upon a time"  # kept for editing
    assert await reply_text(page)


async def test_connection_drop_ends_the_stream_and_reconnects(page: Any, emulator: EmulatorServer) -> None:
    routes: list[Any] = []

    def relay(ws: Any) -> None:
        ws.connect_to_server()  # forward both ways; the test closes the browser's side later
        routes.append(ws)

    await page.route_web_socket(re.compile(r".*/ws/chat/$"), relay)
    await page.reload()
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    emulator.configure(ttft_ms=50, tokens_per_second=10, chunk_tokens=1)
    await send(page, "Tell me a long story.")
    await page.get_by_test_id("reply-text").wait_for(timeout=10_000)
    await page.wait_for_function(
        "() => document.querySelector('[data-testid=reply-text]').textContent.length > 5"
    )
    await routes[-1].close(code=1011, reason="test drop")
    error = page.get_by_test_id("error")
    await error.filter(has_text="Connection lost — reconnecting").wait_for(timeout=5_000)
    await wait_status(page, "Failed", 5_000)
    assert await reply_text(page)  # the partial text stays
    await error.filter(has_text="Connection restored").wait_for(timeout=10_000)
    assert len(routes) >= 2
    assert await page.get_by_test_id("send").is_enabled()


# A 1x1 PNG, inline: the test needs no network.
PIXEL = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkaPhfDwAEhQG"
    "Adz1hQAAAAABJRU5ErkJggg=="
)


async def test_image_turn_and_ctrl_enter(page: Any, emulator: EmulatorServer) -> None:
    await page.get_by_test_id("model-input").fill("accounts/fireworks/models/llama4-maverick-instruct-basic")
    await page.get_by_test_id("composer-image-url").click()
    await page.get_by_test_id("image-url-input").fill(PIXEL)
    await page.get_by_test_id("image-url-add").click()
    assert await page.get_by_test_id("image-thumb").count() == 1
    await page.get_by_test_id("prompt-input").fill("What is in this picture?")
    await page.get_by_test_id("prompt-input").press("Control+Enter")
    await wait_status(page, "Done")
    start = json.loads([f for f in page.frames_log.sent if '"chat.start"' in f][-1])
    assert start["messages"][0]["content"] == [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": PIXEL}},
    ]
    # The turn keeps its image; reordering and deleting work on the turns.
    first = page.get_by_test_id("turn").first
    assert await first.get_by_test_id("image-thumb").count() == 1
    await page.get_by_test_id("turn").nth(1).get_by_test_id("turn-up").click()
    assert await page.get_by_test_id("turn").first.locator("select").input_value() == "assistant"
    await page.get_by_test_id("turn").first.get_by_test_id("turn-delete").click()
    assert await page.get_by_test_id("turn").count() == 1
