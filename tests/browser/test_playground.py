"""End to end in headless Chromium: sign up, stream a reply, stop it, and see failures explained."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer, click_nav, raw_reply, sign_up
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
    # The badge says it in a word at 1280 px (its longer wording shows above 1600 px) and in full on hover.
    badge = page.get_by_test_id("emulator-badge")
    assert await badge.inner_text() == "Offline emulator"
    assert "offline emulator answers every request" in (await badge.get_attribute("title") or "")
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
    # A new account works in its personal workspace: nobody to share with, so no visibility toggle.
    await page.get_by_test_id("visibility-chip").filter(has_text="Private").wait_for()
    assert await page.get_by_test_id("visibility-toggle").count() == 0

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
    # One rule for a reply that did not finish: it becomes the assistant turn, marked, as the server saved it.
    turns = page.get_by_test_id("turn")
    assert await turns.count() == 2
    assert await turns.nth(1).locator("select").input_value() == "assistant"
    assert await turns.nth(1).get_by_test_id("turn-text").input_value() == partial
    assert await turns.nth(1).get_by_test_id("turn-status").text_content() == "stopped"
    assert await page.get_by_test_id("keep-partial").count() == 0
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(artifacts / "stopped-1280.png"))
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Turn headers stay on one line at 1280 px.
    head = turns.first.locator(".turn-head")
    assert (await head.bounding_box())["height"] < 40
    # Sending again continues after the partial reply: no user → user, no surprise branch after a reload.
    await page.locator('[data-testid="turn-run-link"]').last.wait_for(timeout=10_000)
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    await send(page, "Go on.")
    await wait_status(page, "Done")
    start = json.loads([f for f in page.frames_log.sent if '"chat.start"' in f][-1])
    assert [m["role"] for m in start["messages"]] == ["user", "assistant", "user"]
    assert start["messages"][1]["content"] == partial
    await page.locator('[data-testid="turn"]').nth(3).get_by_test_id("turn-run-link").wait_for(timeout=10_000)
    await page.reload()
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    assert await page.get_by_test_id("turn").count() == 4
    assert await page.get_by_test_id("branch-switch").count() == 0
    assert await page.get_by_test_id("turn").nth(1).get_by_test_id("turn-text").input_value() == partial
    assert await page.get_by_test_id("turn").nth(1).get_by_test_id("turn-status").text_content() == "stopped"


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
        await click_nav(page, "sign-out")
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
    # Its probability and the alternatives, in a popover on hover and on keyboard focus.
    popover = reply.get_by_test_id("token-popover").first
    assert not await popover.is_visible()
    await tokens.first.focus()
    await popover.wait_for(state="visible", timeout=2_000)
    shown = await popover.inner_text()
    assert "alternatives" in shown.lower() and shown.count("%") == 3  # itself plus top_logprobs=2
    assert await tokens.first.get_attribute("tabindex") == "0"
    assert await tokens.first.get_attribute("aria-describedby") == await popover.get_attribute("id")
    await tokens.nth(2).hover()
    token = await tokens.nth(2).text_content()
    assert json.dumps(token) in await popover.inner_text()
    await page.screenshot(path=str(artifacts / "logprobs-popover-1440.png"))
    await page.keyboard.press("Escape")
    assert not await popover.is_visible() or await tokens.nth(2).evaluate("el => el.matches(':hover')")
    await page.mouse.move(0, 0)
    await popover.wait_for(state="hidden", timeout=2_000)

    # n > 1: the tokens/s counts every choice, and the user picks which choice continues the conversation.
    rate_label = await page.get_by_test_id("tokens-per-second").locator(".label").text_content()
    assert "2 choices" in rate_label
    turns = page.get_by_test_id("turn")
    assert await turns.count() == 2
    second = await raw_reply(reply.locator('.choice[data-choice="1"]'))
    first = await raw_reply(reply.locator('.choice[data-choice="0"]'))
    assert await turns.nth(1).get_by_test_id("turn-text").input_value() == first
    assert (
        await reply.locator('.choice[data-choice="0"]').get_by_test_id("choice-in-conversation").is_visible()
    )
    await reply.locator('.choice[data-choice="1"]').get_by_test_id("use-choice").click()
    assert await turns.count() == 2
    assert await turns.nth(1).get_by_test_id("turn-text").input_value() == second
    assert (
        await reply.locator('.choice[data-choice="1"]').get_by_test_id("choice-in-conversation").is_visible()
    )
    await page.screenshot(path=str(artifacts / "choices-logprobs-1440.png"))
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(artifacts / "choices-logprobs-1280.png"))
    # The next message continues after the chosen choice.
    await page.fill("#param-n", "1")
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    await send(page, "Thanks.")
    await wait_status(page, "Done")
    start = json.loads([f for f in page.frames_log.sent if '"chat.start"' in f][-1])
    assert start["messages"][1]["content"] == second


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
    await page.get_by_test_id("turn").nth(1).get_by_test_id("turn-edit").click()  # shown; edited on demand
    await page.get_by_test_id("turn").nth(1).get_by_test_id("turn-up").click()
    assert await page.get_by_test_id("turn").first.locator("select").input_value() == "assistant"
    await page.get_by_test_id("turn").first.get_by_test_id("turn-delete").click()
    assert await page.get_by_test_id("turn").count() == 1


async def test_error_shown_once_with_advice_and_send_again(
    page: Any, emulator: EmulatorServer, artifacts: Path
) -> None:
    await page.get_by_test_id("model-input").fill("accounts/fireworks/models/no-such-model")
    await send(page, "Hello?")
    error = page.get_by_test_id("error")
    await error.wait_for(timeout=10_000)
    await wait_status(page, "Failed")
    message = (await error.get_by_test_id("error-message").inner_text()).strip()
    # Said once (the error panel); the Response card says what happened to the reply.
    assert (await page.locator("main").inner_text()).count(message) == 1
    assert (
        await page.get_by_test_id("reply-empty").inner_text()
        == "No reply: the request failed before any text arrived."
    )
    assert await page.get_by_test_id("reply-flag").count() == 0
    # Retrying the same request will not help: the button says "Send again" and the panel what to change.
    advice = await error.get_by_test_id("retry-advice").inner_text()
    assert "model id" in advice and "Retrying the same request" not in await error.inner_text()
    assert await error.get_by_test_id("retry").inner_text() == "Send again"
    await page.screenshot(path=str(artifacts / "error-404-1440.png"))
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(artifacts / "error-404-1280.png"))
    # Send again sends what is on screen now (the model fixed), without adding the user turn twice.
    await page.get_by_test_id("model-input").fill("accounts/fireworks/models/llama-v3p1-8b-instruct")
    await error.get_by_test_id("retry").click()
    await wait_status(page, "Done")
    start = json.loads([f for f in page.frames_log.sent if '"chat.start"' in f][-1])
    assert start["model"].endswith("llama-v3p1-8b-instruct")
    assert [m["role"] for m in start["messages"]] == ["user"]


async def test_rate_limited_retry_counts_down(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    emulator.inject({"kind": "status", "status": 429, "shape": "object", "retry_after": 2})
    await send(page, "Hello?")
    error = page.get_by_test_id("error")
    await error.wait_for(timeout=10_000)
    retry = error.get_by_test_id("retry")
    assert await retry.inner_text() == "Retry"
    assert await retry.is_disabled()
    assert re.search(r"Retry in \d s", await error.get_by_test_id("retry-advice").inner_text())
    await page.screenshot(path=str(artifacts / "error-429-countdown-1440.png"))
    await page.wait_for_function(
        "() => !document.querySelector('[data-testid=retry]').disabled", timeout=5_000
    )
    await retry.click()
    await wait_status(page, "Done")


async def test_stall_indicator_mid_stream(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    # The page's socket goes through a relay that holds the server's frames back for a while mid-stream
    # (the test server's own gap timeout is 1 s, too short for a real upstream stall).
    hold = {"after": None, "until": 0.0, "deltas": 0}
    pending: list[Any] = []

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(lambda message: server.send(message))

        def from_server(message: Any) -> None:
            if '"chat.delta' in str(message):
                hold["deltas"] += 1
                if hold["deltas"] == 4:
                    hold["until"] = time.monotonic() + 3.5
            if time.monotonic() < hold["until"] or pending:
                pending.append(message)
                return
            ws.send(message)

        server.on_message(from_server)
        routes.append((ws, server))

    async def flush() -> None:
        while True:
            await asyncio.sleep(0.05)
            if pending and time.monotonic() >= hold["until"]:
                ws = routes[-1][0]
                while pending:
                    ws.send(pending.pop(0))

    routes: list[Any] = []
    await page.route_web_socket(re.compile(r".*/ws/chat/$"), relay)
    await page.reload()
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    flusher = asyncio.create_task(flush())
    try:
        emulator.configure(ttft_ms=20, tokens_per_second=20, chunk_tokens=1)
        await page.fill("#param-max_tokens", "30")
        await send(page, "Tell me a story.")
        stall = page.get_by_test_id("stall-note")
        await stall.wait_for(state="visible", timeout=10_000)
        first = await stall.inner_text()
        assert re.fullmatch(r"No tokens for \d+ s…", first), first
        note_grew = (
            "() => /No tokens for [3-9] s/"
            ".test(document.querySelector('[data-testid=stall-note]').textContent)"
        )
        await page.wait_for_function(note_grew, timeout=5_000)
        await page.screenshot(path=str(artifacts / "stall-1440.png"))
        await stall.wait_for(state="hidden", timeout=5_000)  # the next chunk clears it
        await wait_status(page, "Done")
        assert not await stall.is_visible()
    finally:
        flusher.cancel()


async def test_send_disabled_while_disconnected(page: Any, emulator: EmulatorServer, artifacts: Path) -> None:
    routes: list[Any] = []

    def relay(ws: Any) -> None:
        ws.connect_to_server()
        routes.append(ws)

    await page.route_web_socket(re.compile(r".*/ws/chat/$"), relay)
    await page.reload()
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    # Keep it down: new sockets go to a path the server refuses until the test lets them through again.
    await page.evaluate(
        """() => {
        window.__RealWebSocket = window.WebSocket;
        window.WebSocket = class extends window.__RealWebSocket {
          constructor(url, protocols) { super(url.replace("/ws/chat/", "/ws/down/"), protocols); }
        };
      }"""
    )
    await routes[-1].close(code=1011, reason="test drop")
    await page.locator('[data-testid="connection"][data-state="closed"]').wait_for(timeout=5_000)
    send_button = page.get_by_test_id("send")
    assert await send_button.is_disabled()
    hint = page.get_by_test_id("send-hint")
    assert "Not connected" in await hint.inner_text()
    await page.get_by_test_id("prompt-input").fill("kept while offline")
    await page.get_by_test_id("prompt-input").press("Control+Enter")
    assert await page.get_by_test_id("prompt-input").input_value() == "kept while offline"
    assert await page.get_by_test_id("turn").count() == 0
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(artifacts / "disconnected-1280.png"))
    await page.evaluate("() => { window.WebSocket = window.__RealWebSocket; }")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=20_000)
    assert await send_button.is_enabled()
    assert not await hint.is_visible()
    await send_button.click()
    await wait_status(page, "Done")
    assert await page.get_by_test_id("turn").count() == 2


async def test_completions_layout_and_scroll_to_newest_turn(
    page: Any, emulator: EmulatorServer, artifacts: Path
) -> None:
    # A long few-shot conversation: after the reply, the column shows the newest turn.
    for i in range(8):
        await page.get_by_test_id("add-turn").click()
        await page.get_by_test_id("turn-text").last.fill(f"Turn {i}\n" + "line\n" * 4)
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    await send(page, "And now?")
    await wait_status(page, "Done")
    newest = page.get_by_test_id("turn").last
    await page.wait_for_timeout(200)
    box = await newest.bounding_box()
    column = await page.locator(".col-prompt .col-scroll").bounding_box()
    assert box["y"] >= column["y"] - 1 and box["y"] + box["height"] <= column["y"] + column["height"] + 1

    # Completions: one prompt area, the conversation number, and the completion after the prompt.
    await page.get_by_test_id("new-conversation").click()
    await page.get_by_test_id("mode-completions").click()
    assert await page.get_by_test_id("completions-head").is_visible()
    assert not await page.locator("#chat-editor").is_visible()
    await page.screenshot(path=str(artifacts / "completions-empty-1440.png"))
    await send(page, "Once upon a time")
    await wait_status(page, "Done")
    assert await page.get_by_test_id("reply-prompt").inner_text() == "Once upon a time"
    assert (await reply_text(page)).startswith("Once upon a time")
    await page.get_by_test_id("completions-conversation-id").filter(has_text="#").wait_for(timeout=5_000)
    await page.screenshot(path=str(artifacts / "completions-done-1440.png"))
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(artifacts / "completions-done-1280.png"))


async def test_new_conversation_while_a_reply_streams_leaves_it_behind(
    page: Any, emulator: EmulatorServer
) -> None:
    emulator.configure(ttft_ms=30, tokens_per_second=8, chunk_tokens=1)
    await send(page, "First topic, a long answer please")
    await page.wait_for_function(
        "() => (document.querySelector('[data-testid=reply-text]')?.textContent || '').length > 5",
        timeout=10_000,
    )
    await page.locator("#new-conversation").click()
    assert await page.get_by_test_id("turn").count() == 0
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    await send(page, "Second topic")
    await wait_status(page, "Done")
    await asyncio.sleep(0.5)  # the first reply's last frames (its stop) have come and gone
    chats = [r for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")]
    # Exactly what the upstream received: the new conversation holds nothing of the old reply.
    assert chats[-1]["body"]["messages"] == [{"role": "user", "content": "Second topic"}]
    turns = page.get_by_test_id("turn")
    assert await turns.count() == 2
    assert await turns.nth(0).get_by_test_id("turn-text").input_value() == "Second topic"
    assert await turns.nth(1).get_by_test_id("turn-status").count() == 0
    start = json.loads([f for f in page.frames_log.sent if '"chat.start"' in f][-1])
    assert "conversation" not in start  # a new conversation, not the old one


async def test_echo_in_chat_mode_is_shown_apart_and_never_sent_back_as_history(
    page: Any, emulator: EmulatorServer
) -> None:
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    await page.locator('details[data-group="Advanced"] > summary').click()
    await page.check("#param-echo")
    await page.fill("#param-max_tokens", "12")
    await send(page, "Hello there")
    await wait_status(page, "Done")
    first = [r for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")][-1]
    assert first["body"]["echo"] is True
    # The echoed prompt (the chat template) is shown before the reply, but is not the reply.
    shown = await reply_text(page)
    assert shown.startswith("<|begin_of_text|>") and "Hello there" in shown
    reply = await page.get_by_test_id("turn").nth(1).get_by_test_id("turn-text").input_value()
    assert reply.startswith("[offline emulator]")
    assert shown.endswith(reply)
    await send(page, "And then?")
    await wait_status(page, "Done")
    second = [r for r in emulator.state()["requests"] if r["path"].endswith("/chat/completions")][-1]
    # Exactly what the upstream received: the history holds the reply alone, not the echoed prompt.
    assert second["body"]["messages"] == [
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": reply},
        {"role": "user", "content": "And then?"},
    ]
