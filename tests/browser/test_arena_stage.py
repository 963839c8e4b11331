"""The arena's stage before and between rounds, in headless Chromium against daphne and the emulator.
"Check readiness" (the one readiness panel, panels/readiness.js, over the chat socket's `probe.start`)
shows each configuration green or red, a red one with the exact error, and the upstream received one tiny
request per configuration with its parameters and the queue's first prompt; screenshots at 1280 and 390
px, light and dark (tests/artifacts/arena-readiness-*.png). A prompt left streaming by a server process
that died is shown interrupted when the stage is opened and sent again to its unfinished slot only."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from proxy.emulator.api import MODEL_NOT_FOUND
from tests.browser.conftest import LiveServer
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
UNKNOWN = "accounts/fireworks/models/no-such-model-x"
PROMPT = "Explain a rainbow to a six-year-old."


async def test_the_arena_stage_checks_each_configuration_green_or_red_with_the_exact_error(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=30, tokens_per_second=200)
    await page.goto(f"{daphne_server.url}/arena/")
    await page.fill("[data-testid=arena-title]", "Ready?")
    await page.get_by_test_id("arena-model").nth(0).fill(LLAMA)
    await page.get_by_test_id("arena-params").nth(0).fill("temperature=0.3")
    await page.get_by_test_id("arena-model").nth(1).fill(UNKNOWN)
    await page.get_by_test_id("arena-label").nth(1).fill("Mystery")
    await page.fill("[data-testid=arena-queue]", f"{PROMPT}\nWrite a haiku about tea.")
    await page.get_by_test_id("arena-create").click()
    await page.wait_for_url(re.compile(r"/arena/\d+/$"))
    await page.get_by_test_id("connection").filter(has_text="Live").wait_for(timeout=10_000)
    panel = page.get_by_test_id("readiness-panel")
    assert await page.get_by_test_id("arena-readiness").get_attribute("open") is not None  # not started yet

    before = len(emulator.state()["requests"])
    await panel.get_by_test_id("readiness-run").click()
    await panel.get_by_test_id("readiness-summary").filter(has_text="1 of 2 ready").wait_for(timeout=15_000)
    rows = panel.get_by_test_id("readiness-row")
    ready, failed = rows.nth(0), rows.nth(1)
    assert await ready.get_attribute("data-status") == "ready"
    assert (await ready.get_by_test_id("ready-status").inner_text()).lower() == "ready"
    assert re.search(r"\d", await ready.get_by_test_id("ready-ttft").inner_text())
    assert await failed.get_attribute("data-status") == "failed"
    assert "Mystery" in await failed.inner_text()
    error = await failed.get_by_test_id("ready-error").inner_text()
    assert error.startswith("not_found (404): ") and MODEL_NOT_FOUND in error and UNKNOWN in error
    assert not await ready.get_by_test_id("ready-error").count()
    # The exact tiny bodies the upstream received: one per configuration, its parameters, the first prompt.
    probes = [r["body"] for r in emulator.state()["requests"][before:] if r["method"] == "POST"]
    assert sorted(b["model"] for b in probes) == sorted([LLAMA, UNKNOWN])
    assert all(
        b["max_tokens"] == 4 and b["messages"] == [{"role": "user", "content": PROMPT}] for b in probes
    )
    assert next(b for b in probes if b["model"] == LLAMA)["temperature"] == 0.3
    # Nothing was sent on stage: the arena's first prompt is still to send.
    assert await page.get_by_test_id("arena-next").inner_text() == "Send prompt 1"

    for width, height in ((1280, 900), (390, 844)):
        await page.set_viewport_size({"width": width, "height": height})
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            await page.evaluate("() => document.fonts.ready")
            await page.wait_for_timeout(300)  # the buttons' colour transition (.12 s) ends
            overflow = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"horizontal scroll at {width} px"
            await page.screenshot(
                path=str(artifacts / f"arena-readiness-{width}-{scheme}.png"), full_page=True
            )


def database(server: LiveServer) -> sqlite3.Connection:
    """The daphne process's SQLite database (to play a server process dying mid-round)."""
    return sqlite3.connect(server.env["DATABASE_URL"].removeprefix("sqlite:///"))


async def test_a_prompt_left_streaming_by_a_dead_server_is_offered_again_on_the_stage(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=120, chunk_tokens=2, seed=5)
    await page.goto(f"{daphne_server.url}/arena/")
    await page.fill("[data-testid=arena-title]", "Interrupted")
    await page.get_by_test_id("arena-model").nth(0).fill(LLAMA)
    await page.get_by_test_id("arena-params").nth(0).fill("max_tokens=20")
    await page.get_by_test_id("arena-model").nth(1).fill("accounts/fireworks/models/deepseek-v3")
    await page.get_by_test_id("arena-params").nth(1).fill("max_tokens=20")
    await page.fill("[data-testid=arena-queue]", PROMPT)
    await page.get_by_test_id("arena-create").click()
    await page.wait_for_url(re.compile(r"/arena/(\d+)/$"))
    arena_id = int(re.findall(r"/arena/(\d+)/", page.url)[0])
    await page.get_by_test_id("connection").filter(has_text="Live").wait_for(timeout=10_000)
    await page.get_by_test_id("arena-next").filter(has_text="Send prompt 1").click()
    await page.get_by_test_id("arena-status").filter(has_text="Voting open").wait_for(timeout=15_000)
    answer_a = await page.get_by_test_id("slot-A-text").inner_text()

    # As if the server had died while B was still answering: its process is gone, B's answer unfinished.
    with database(daphne_server) as db:
        db.execute(
            "UPDATE arena_arenaprompt SET status='streaming', runner='gone-host:1:dead', heartbeat_at=NULL"
            " WHERE arena_id=?",
            (arena_id,),
        )
        db.execute(
            "UPDATE arena_arenaanswer SET status='streaming' WHERE slot='B' AND prompt_id IN"
            " (SELECT id FROM arena_arenaprompt WHERE arena_id=?)",
            (arena_id,),
        )
    before = len(emulator.state()["requests"])
    await page.reload()
    await page.get_by_test_id("arena-status").filter(has_text="Interrupted").wait_for(timeout=10_000)
    await page.locator("[data-testid=slot-B][data-status=stopped]").wait_for()
    assert await page.get_by_test_id("slot-A-text").inner_text() == answer_a
    again = page.get_by_test_id("arena-next")
    assert await again.inner_text() == "Send prompt 1 again"
    await page.screenshot(path=str(artifacts / "arena-interrupted-1280.png"))

    await again.click()
    await page.get_by_test_id("arena-status").filter(has_text="Voting open").wait_for(timeout=15_000)
    assert await page.get_by_test_id("slot-A-text").inner_text() == answer_a  # kept, not streamed again
    assert (await page.get_by_test_id("slot-B-state").inner_text()) == "done"
    assert await page.get_by_test_id("slot-B-text").inner_text()
    bodies = [r["body"] for r in emulator.state()["requests"][before:] if r["method"] == "POST"]
    assert len(bodies) == 1 and bodies[0]["messages"][-1] == {"role": "user", "content": PROMPT}
