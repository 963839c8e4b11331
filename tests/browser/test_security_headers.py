"""The Content-Security-Policy in a real browser: the main pages (playground with a streamed reply, run,
replay, compare, conversations, presets, share links and the shared page) load with no CSP violation
reported, and the websocket connects under ``connect-src``."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_playground import send, wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


async def test_the_main_pages_report_no_csp_violation(
    page: Any, browser: Any, emulator: EmulatorServer, daphne_server: LiveServer
) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=400, chunk_tokens=1, seed=2)
    console: list[str] = []
    violations: list[str] = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and console.append(msg.text))
    await page.add_init_script(LISTEN)

    async def visit(url: str, ready: str | None = None) -> Any:
        response = await page.goto(url)
        assert response.status == 200, url
        if ready:
            await page.get_by_test_id(ready).first.wait_for(timeout=10_000)
        await page.wait_for_load_state("networkidle")
        violations.extend(await page.evaluate("window.__cspViolations || []"))
        return response

    base = daphne_server.url
    response = await visit(f"{base}/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await page.fill("#param-max_tokens", "12")
    await send(page, "A question under the policy")
    await wait_status(page, "Done")
    await page.wait_for_url(re.compile(r"/c/\d+/$"))
    conversation_url = page.url
    violations.extend(await page.evaluate("window.__cspViolations || []"))
    href = await page.get_by_test_id("turn-run-link").last.get_attribute("href")
    run_url = base + href if href.startswith("/") else href

    await visit(conversation_url, "connection")
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await visit(run_url)
    await visit(f"{run_url}replay/")
    await visit(f"{base}/compare/")
    await visit(f"{base}/conversations/")
    await visit(f"{base}/presets/")
    await visit(f"{conversation_url}share/")
    await page.get_by_test_id("share-create").click()
    share_url = await page.get_by_test_id("share-url").first.input_value()
    violations.extend(await page.evaluate("window.__cspViolations || []"))

    guest_context = await browser.new_context()
    guest = await guest_context.new_page()
    guest.on("console", lambda msg: "Content Security Policy" in msg.text and console.append(msg.text))
    await guest.add_init_script(LISTEN)
    try:
        await guest.goto(share_url)
        await guest.get_by_test_id("shared-page").wait_for()
        await guest.wait_for_load_state("networkidle")
        violations.extend(await guest.evaluate("window.__cspViolations || []"))
        await guest.goto(f"{base}/accounts/login/")
        await guest.wait_for_load_state("networkidle")
        violations.extend(await guest.evaluate("window.__cspViolations || []"))
    finally:
        await guest_context.close()
    assert violations == [] and console == []
