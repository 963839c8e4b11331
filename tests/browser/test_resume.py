"""A stream survives a reload and a dropped websocket (proxy/resume.py, core/socket.js): the page re-attaches
and the reply finishes with no text lost or doubled; with the socket down past the grace period (4 s on
the test server) the stream is stopped, its upstream closed and its partial reply saved."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_playground import send, wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

SAVED = """async (id) => {
  const data = await (await fetch(`/c/${id}/data/`, { headers: { Accept: "application/json" } })).json();
  const run = data.last_run;
  const message = data.messages.find((m) => m.id === run.message);
  const deltas = run.frames.flatMap(
    (f) => f.type === "chat.deltas" ? f.items : f.type === "chat.delta" ? [f] : []);
  return { status: run.status, content: message ? message.content : null, usage: run.usage,
           indexes: deltas.map((d) => d.i), streaming: data.streaming };
}"""


async def conversation_id(page: Any) -> int:
    await page.wait_for_url(re.compile(r"/c/\d+/$"), timeout=10_000)
    match = re.search(r"/c/(\d+)/$", page.url)
    assert match
    return int(match.group(1))


async def saved(page: Any, conversation: int) -> dict[str, Any]:
    """The conversation's last run as the server saved it (waits until it is no longer streaming)."""
    for _ in range(100):
        data = await page.evaluate(SAVED, conversation)
        if not data["streaming"]:
            return data  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError("the run was never saved")


# Every websocket the page opens, kept where the test can close it (as a dropped network would).
TRACK_SOCKETS = """
window.__sockets = [];
window.WebSocket = class extends window.WebSocket {
  constructor(url, protocols) { super(url, protocols); window.__sockets.push(this); }
};
"""


async def track_sockets(page: Any) -> None:
    await page.add_init_script(TRACK_SOCKETS)
    await page.reload()
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)


async def cut(page: Any) -> None:
    """Close the page's chat socket under it: the server sees it drop without a chat.stop."""
    await page.evaluate("() => window.__sockets.filter((s) => s.url.endsWith('/ws/chat/')).at(-1).close()")


async def wait_text(page: Any, length: int) -> None:
    await page.wait_for_function(
        f"() => (document.querySelector('[data-testid=reply-text]')?.textContent || '').length > {length}",
        timeout=10_000,
    )


async def test_reload_mid_stream_resumes_and_finishes(
    page: Any, emulator: EmulatorServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=30, tokens_per_second=25, chunk_tokens=1, seed=3)
    await page.fill("#param-max_tokens", "60")
    await send(page, "Tell me about rivers")
    await wait_text(page, 25)
    conversation = await conversation_id(page)
    assert emulator.state()["streams"][0]["end"] is None  # still streaming when the page reloads
    await page.reload()
    # The same tab re-attaches: the reply so far comes back, then the rest streams in.
    note = page.get_by_test_id("resume-note")
    await note.filter(has_text="Resumed").wait_for(timeout=10_000)
    assert await page.get_by_test_id("stop").is_visible()
    await page.screenshot(path=str(artifacts / "resume-after-reload-1440.png"))
    await wait_status(page, "Done")
    run = await saved(page, conversation)
    assert run["status"] == "done"
    tokens = run["usage"]["completion_tokens"]
    assert tokens > 25 and run["indexes"] == list(range(tokens))
    turns = page.get_by_test_id("turn")
    assert await turns.count() == 2
    # The page's reply (its raw text, now the assistant turn) is the saved one: nothing lost, nothing doubled.
    assert await turns.nth(1).get_by_test_id("turn-text").input_value() == run["content"]
    assert await turns.nth(1).get_by_test_id("turn-status").count() == 0  # not marked stopped
    [stream] = emulator.state()["streams"]
    assert stream["end"] == "completed"  # one upstream request, never closed by the reload
    assert not page.console_errors, page.console_errors


async def test_websocket_cut_mid_stream_reconnects_and_finishes(
    page: Any, emulator: EmulatorServer, artifacts: Path
) -> None:
    await track_sockets(page)
    emulator.configure(ttft_ms=30, tokens_per_second=20, chunk_tokens=1, seed=4)
    await page.fill("#param-max_tokens", "50")
    await send(page, "Tell me a long story.")
    await wait_text(page, 10)
    conversation = await conversation_id(page)
    await cut(page)
    note = page.get_by_test_id("resume-note")
    await note.filter(has_text="reconnecting").wait_for(timeout=5_000)
    assert await page.get_by_test_id("reply-status").text_content() == "Reconnecting"
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(artifacts / "resume-reconnecting-1280.png"))
    await note.filter(has_text="Resumed").wait_for(timeout=10_000)
    assert await page.evaluate("() => window.__sockets.length") >= 2
    await wait_status(page, "Done")
    run = await saved(page, conversation)
    assert run["status"] == "done"
    assert run["indexes"] == list(range(run["usage"]["completion_tokens"]))
    reply = page.get_by_test_id("turn").nth(1).get_by_test_id("turn-text")
    assert await reply.input_value() == run["content"]
    assert not await page.get_by_test_id("error").is_visible()
    [stream] = emulator.state()["streams"]
    assert stream["end"] == "completed"
    assert await page.get_by_test_id("send").is_enabled()
    await page.screenshot(path=str(artifacts / "resume-resumed-1280.png"))


async def test_socket_down_past_the_grace_period_stops_and_saves_the_partial_reply(
    page: Any, emulator: EmulatorServer
) -> None:
    await track_sockets(page)
    emulator.configure(ttft_ms=30, tokens_per_second=4, chunk_tokens=1, seed=5)
    await page.fill("#param-max_tokens", "400")
    await send(page, "A very long answer please")
    await wait_text(page, 20)
    conversation = await conversation_id(page)
    # Keep it down: new sockets go to a path the server refuses until the test lets them through again.
    await page.evaluate(
        """() => {
        window.__RealWebSocket = window.WebSocket;
        window.WebSocket = class extends window.__RealWebSocket {
          constructor(url, protocols) { super(url.replace("/ws/chat/", "/ws/down/"), protocols); }
        };
      }"""
    )
    dropped_at = time.time()
    await cut(page)
    await page.get_by_test_id("resume-note").filter(has_text="reconnecting").wait_for(timeout=5_000)
    deadline = time.monotonic() + 15
    while True:
        [stream] = emulator.state()["streams"]
        if stream["end"] is not None or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert stream["end"] == "client_disconnected"  # the upstream was closed when the grace ran out
    assert stream["ended_at"] - dropped_at >= 3.5
    await page.evaluate("() => { window.WebSocket = window.__RealWebSocket; }")
    # Back: the stream is gone, and the page shows it as the server saved it.
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=40_000)
    await wait_status(page, "Stopped")
    run = await saved(page, conversation)
    assert run["status"] == "stopped"
    assert run["content"] and len(run["content"]) > 10
    turns = page.get_by_test_id("turn")
    assert await turns.count() == 2
    assert await turns.nth(1).get_by_test_id("turn-status").text_content() == "stopped"
    assert await turns.nth(1).get_by_test_id("turn-text").input_value() == run["content"]
