"""Saved conversations in headless Chromium: branch by editing and regenerating, switch back, reload
without losing anything, fork, the list, and a run page with its timeline chart."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, raw_reply
from tests.browser.test_playground import send, wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def turn_texts(page: Any) -> list[str]:
    return await page.locator('[data-testid="turn"] [data-testid="turn-text"]').evaluate_all(
        "(nodes) => nodes.map((n) => n.value)"
    )


async def wait_turns(page: Any, count: int) -> None:
    await page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=turn]').length === {count}", timeout=15_000
    )


async def wait_saved_ids(page: Any) -> None:
    # After a run, the turns get their saved ids (a run link on the reply shows it).
    await page.locator('[data-testid="turn-run-link"]').last.wait_for(timeout=10_000)


async def test_branch_switch_reload_fork_list_and_run_page(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=30, tokens_per_second=400, chunk_tokens=1, seed=5)
    await page.fill("#param-max_tokens", "40")
    await send(page, "First question about lakes")
    await wait_status(page, "Done")
    await page.wait_for_url(re.compile(r"/c/\d+/$"))
    url = page.url
    await wait_saved_ids(page)
    await send(page, "Second question")
    await wait_status(page, "Done")
    await wait_turns(page, 4)
    await wait_saved_ids(page)

    # Edit the first message and regenerate from there: a second version of it, with its own reply.
    first = page.get_by_test_id("turn").nth(0)
    await first.get_by_test_id("turn-body").click()  # messages are shown; a click edits one
    await first.get_by_test_id("turn-text").fill("First question about rivers")
    await first.get_by_test_id("turn-regenerate").click()
    await wait_status(page, "Done")
    await wait_turns(page, 2)
    await page.get_by_test_id("branch-position").first.filter(has_text="2/2").wait_for(timeout=10_000)
    assert (await turn_texts(page))[0] == "First question about rivers"
    await page.screenshot(path=str(artifacts / "conversation-branch-1440.png"))

    # Back to the earlier version: the whole earlier branch returns.
    await page.get_by_test_id("turn").nth(0).get_by_test_id("branch-prev").click()
    await wait_turns(page, 4)
    texts = await turn_texts(page)
    assert texts[0] == "First question about lakes" and texts[2] == "Second question"
    assert await page.get_by_test_id("branch-position").first.inner_text() == "1/2"
    # The panels follow the branch on screen: its last run's numbers, labelled with the run.
    href = await page.get_by_test_id("turn").nth(3).get_by_test_id("turn-run-link").get_attribute("href")
    run_id = re.search(r"/runs/(\d+)/", href)[1]
    await page.get_by_test_id("usage-source").filter(has_text=f"from run #{run_id}").wait_for(timeout=10_000)

    # A draft and an unsent parameter change survive a reload, as do the branch on screen and the reply.
    await page.get_by_test_id("prompt-input").fill("an unsent draft")
    await page.fill("#param-temperature", "0.7")
    await asyncio.sleep(0.5)
    await page.reload()
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    await wait_turns(page, 4)
    assert page.url == url
    texts = await turn_texts(page)
    assert texts[0] == "First question about lakes" and texts[2] == "Second question"
    assert await page.get_by_test_id("prompt-input").input_value() == "an unsent draft"
    assert await page.input_value("#param-temperature") == "0.7"
    assert await page.input_value("#param-max_tokens") == "40"
    assert texts[3] and texts[3] == await raw_reply(page.get_by_test_id("assistant-message"))
    # Usage, Performance and Sampling are filled from that run, and the reply is labelled as the emulator's.
    for source in ("usage-source", "perf-source", "sampling-source"):
        assert await page.get_by_test_id(source).inner_text() == f"from run #{run_id}"
    assert (await page.get_by_test_id("usage-prompt").locator(".value").inner_text()).isdigit()
    assert (await page.get_by_test_id("usage-completion").locator(".value").inner_text()).isdigit()
    assert await page.get_by_test_id("sampling-options").locator("tr[data-key]").count() > 0
    perf = page.get_by_test_id("perf-metrics")
    assert await perf.get_by_test_id("request-id").inner_text() != "—"
    assert await perf.get_by_test_id("ttft-proxy").locator(".value").inner_text() != "—"
    assert await perf.get_by_test_id("tokens-per-second").locator(".value").inner_text() != "—"
    assert await page.get_by_test_id("reply-emulator").is_visible()
    await page.screenshot(path=str(artifacts / "conversation-reloaded-1440.png"))
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(artifacts / "conversation-reloaded-1280.png"))
    await page.set_viewport_size({"width": 1440, "height": 900})

    # Regenerate the last reply: the old one stays as version 1/2.
    await page.get_by_test_id("prompt-input").fill("")
    await page.get_by_test_id("turn").nth(3).get_by_test_id("turn-regenerate").click()
    await wait_status(page, "Done")
    await wait_turns(page, 4)
    await (
        page.get_by_test_id("turn")
        .nth(3)
        .get_by_test_id("branch-position")
        .filter(has_text="2/2")
        .wait_for(timeout=10_000)
    )

    # A reply streaming when the page reloads goes on: the page re-attaches and it finishes (test_resume.py).
    emulator.configure(ttft_ms=30, tokens_per_second=25, chunk_tokens=1, seed=6)
    await page.fill("#param-max_tokens", "60")
    await send(page, "A long answer please")
    await page.wait_for_function(
        "() => (document.querySelector('[data-testid=reply-text]')?.textContent || '').length > 25",
        timeout=10_000,
    )
    await page.reload()
    await wait_status(page, "Done")
    await wait_turns(page, 6)
    reply = (await turn_texts(page))[5]
    assert reply.startswith("[offline emulator]")
    assert await page.get_by_test_id("turn").nth(5).get_by_test_id("turn-status").count() == 0
    await page.screenshot(path=str(artifacts / "conversation-after-reload-mid-stream-1440.png"))

    # The run page of a reply: request, headers, and the timeline chart.
    emulator.configure(ttft_ms=30, tokens_per_second=400, chunk_tokens=1, seed=5)
    async with page.expect_navigation():
        await page.get_by_test_id("turn").nth(3).get_by_test_id("turn-run-link").click()
    await page.get_by_test_id("timeline-svg").wait_for(timeout=10_000)
    assert await page.locator('[data-testid="timeline-svg"] circle').count() > 3
    assert "messages" in await page.get_by_test_id("run-request").inner_text()
    assert await page.get_by_test_id("run-view-code").get_attribute("href") == re.sub(
        r".*(/runs/\d+/)$", r"\1code/", page.url
    )
    assert await page.get_by_test_id("emulator-chip").is_visible()
    assert (await page.get_by_test_id("run-cached").inner_text()).isdigit()  # as the playground shows it
    await page.screenshot(path=str(artifacts / "run-page-1440.png"), full_page=True)

    # Fork from the first reply: a new conversation with the first two messages.
    await page.goto(url)
    await wait_turns(page, 6)
    async with page.expect_navigation():
        await page.get_by_test_id("turn").nth(1).get_by_test_id("turn-fork").click()
    assert page.url != url and re.search(r"/c/\d+/$", page.url)
    await wait_turns(page, 2)
    assert (await turn_texts(page))[0] == "First question about lakes"

    # The list: both conversations, newest (the fork) first, with the last run's status.
    await page.get_by_test_id("nav-conversations").click()
    await page.get_by_test_id("conversation-table").wait_for()
    titles = await page.get_by_test_id("conversation-open").all_inner_texts()
    assert titles == ["First question about lakes (fork)", "First question about lakes"]
    assert [s.lower() for s in await page.get_by_test_id("last-run-status").all_inner_texts()] == ["done"]
    assert await page.get_by_test_id("conversation-row").nth(1).get_by_test_id("emulator-chip").is_visible()
    assert await page.get_by_test_id("conversation-row").nth(0).get_by_test_id("emulator-chip").count() == 0
    model = page.get_by_test_id("model-id").first
    assert await model.locator(".model-name").inner_text() == "llama-v3p1-8b-instruct"
    assert await model.get_attribute("title") == "accounts/fireworks/models/llama-v3p1-8b-instruct"
    await page.screenshot(path=str(artifacts / "conversation-list-1440.png"))
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(artifacts / "conversation-list-1280.png"))
    await page.set_viewport_size({"width": 1440, "height": 900})
    await page.get_by_test_id("search-input").fill("rivers")
    await page.get_by_test_id("search-submit").click()
    await page.wait_for_url(re.compile(r"q=rivers"))
    assert await page.get_by_test_id("conversation-open").all_inner_texts() == ["First question about lakes"]
    assert not page.console_errors, page.console_errors
