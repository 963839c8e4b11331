"""The live blind arena in headless Chromium: a presenter makes an arena with two configurations, three
phones (separate browser contexts at 390 px, no sign-in) open the audience link, watch the answers as A
and B, vote; the stage's tally grows; voting closes; the reveal names each slot's model; the results
count the votes. Screenshots of the stage (1280 and 1440 px, light and dark), the phones and the results."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

LLAMA = "accounts/fireworks/models/llama-v3p1-8b-instruct"
DEEPSEEK = "accounts/fireworks/models/deepseek-v3"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


async def live(page: Any) -> None:
    await page.get_by_test_id("connection").filter(has_text="Live").wait_for(timeout=10_000)


async def status(page: Any, word: str) -> None:
    await page.get_by_test_id("arena-status").filter(has_text=word).wait_for(timeout=15_000)


async def test_an_arena_with_two_configurations_three_phones_voting_the_reveal_and_the_tally(
    page: Any, browser: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=40, tokens_per_second=60, chunk_tokens=2, seed=11)
    await page.goto(f"{daphne_server.url}/arena/")
    await page.fill("[data-testid=arena-title]", "Which one explains it best?")
    models = page.get_by_test_id("arena-model")
    await models.nth(1).fill(DEEPSEEK)
    params = page.get_by_test_id("arena-params")
    await params.nth(0).fill("temperature=0.2 max_tokens=48")
    await params.nth(1).fill("temperature=1.2 max_tokens=48")
    await page.fill(
        "[data-testid=arena-queue]", "Explain a rainbow to a six-year-old.\nWrite a haiku about tea."
    )
    await page.screenshot(path=str(artifacts / "arena-setup-1440.png"), full_page=True)
    await page.get_by_test_id("arena-create").click()
    await page.wait_for_url(re.compile(r"/arena/\d+/$"))
    await live(page)
    link = await page.get_by_test_id("arena-link").get_attribute("href")
    assert link and "/a/" in link
    # The QR code is an SVG image of the link, drawn on the server.
    qr_src = await page.locator("[data-testid=arena-qr] img").get_attribute("src")
    qr = await page.request.get(f"{daphne_server.url}{qr_src}")
    assert qr.ok and qr.headers["content-type"] == "image/svg+xml" and b"<svg" in await qr.body()
    await page.screenshot(path=str(artifacts / "arena-stage-ready-1440.png"))

    phones, contexts = [], []
    for n, scheme in enumerate(("light", "dark", "light")):
        context = await browser.new_context(**PHONE, color_scheme=scheme)
        phone = await context.new_page()
        phone.received = []
        phone.on(
            "websocket",
            lambda ws, p=phone: ws.on("framereceived", lambda data, p=p: p.received.append(str(data))),
        )
        await phone.goto(link)
        await live(phone)
        phones.append(phone)
        contexts.append(context)
        assert n >= 0
    try:
        await page.get_by_test_id("arena-next").filter(has_text="Send prompt 1").click()
        # Mid-stream on the stage and on a phone.
        await page.locator("[data-testid=slot-A][data-status=streaming]").wait_for(timeout=10_000)
        await page.screenshot(path=str(artifacts / "arena-stage-streaming-1440.png"))
        await status(page, "Voting open")
        for phone in phones:
            await status(phone, "Voting open")
        # Each phone shows the same two answers as the stage, under the same letters.
        stage_texts = [await page.get_by_test_id(f"slot-{s}-text").inner_text() for s in "AB"]
        assert all(len(t) > 20 for t in stage_texts)
        for phone in phones:
            assert [await phone.get_by_test_id(f"slot-{s}-text").inner_text() for s in "AB"] == stage_texts
            assert await phone.evaluate("document.documentElement.scrollWidth") <= 390

        for phone, choice in zip(phones, ("A", "A", "B"), strict=True):
            await phone.get_by_test_id(f"vote-{choice}").click()
            await phone.get_by_test_id("vote-note").filter(has_text=f"Your vote: {choice}").wait_for()
        # A phone changes its mind: its vote is replaced, not added.
        await phones[2].get_by_test_id("vote-tie").click()
        await phones[2].get_by_test_id("vote-note").filter(has_text="Your vote: Tie").wait_for()
        await page.get_by_test_id("tally-A-n").filter(has_text="2").wait_for(timeout=5_000)
        await page.get_by_test_id("tally-tie-n").filter(has_text="1").wait_for(timeout=5_000)
        assert await page.get_by_test_id("tally-B-n").inner_text() == "0"
        assert await page.get_by_test_id("tally-total").inner_text() == "3"
        assert await phones[0].get_by_test_id("arena-tally").is_hidden()  # the phones see it after the close
        await phones[0].screenshot(path=str(artifacts / "arena-phone-voted-390.png"), full_page=True)
        await phones[1].screenshot(path=str(artifacts / "arena-phone-voted-390-dark.png"), full_page=True)

        # Blind: nothing a phone received or shows names a model before the reveal.
        for phone in phones:
            html = (await phone.content()).lower()
            frames = " ".join(phone.received).lower()
            for word in ("llama", "deepseek", "temperature", "accounts/"):
                assert word not in html and word not in frames, word

        await page.get_by_test_id("arena-next").filter(has_text="Close voting").click()
        for phone in phones:
            await status(phone, "Voting closed")
            await phone.get_by_test_id("tally-A-n").filter(has_text="2").wait_for()
            assert await phone.get_by_test_id("vote-A").is_hidden()  # no more voting: the buttons go
        await page.get_by_test_id("arena-next").filter(has_text="Reveal").click()
        for scope in (page, *phones):
            await status(scope, "Revealed")
            await scope.get_by_test_id("slot-A-who").wait_for()
        revealed = {s: await page.get_by_test_id(f"slot-{s}-who").inner_text() for s in "AB"}
        assert {LLAMA in revealed["A"], LLAMA in revealed["B"]} == {True, False}
        assert {DEEPSEEK in revealed["A"], DEEPSEEK in revealed["B"]} == {True, False}
        assert await phones[0].get_by_test_id("slot-A-who").inner_text() == revealed["A"]
        await page.screenshot(path=str(artifacts / "arena-stage-revealed-1440.png"))
        await phones[0].screenshot(path=str(artifacts / "arena-phone-revealed-390.png"), full_page=True)
        await phones[1].screenshot(path=str(artifacts / "arena-phone-revealed-390-dark.png"), full_page=True)

        # The stage at 1280 px and in the dark theme (the presenter's own session in new contexts).
        state = await page.context.storage_state()
        for width, scheme in ((1280, "light"), (1280, "dark"), (1440, "dark")):
            context = await browser.new_context(
                viewport={"width": width, "height": 800}, color_scheme=scheme, storage_state=state
            )
            stage = await context.new_page()
            await stage.goto(page.url)
            await live(stage)
            await stage.get_by_test_id("slot-A-who").wait_for()
            await stage.screenshot(path=str(artifacts / f"arena-stage-revealed-{width}-{scheme}.png"))
            assert await stage.evaluate("document.documentElement.scrollWidth") <= width
            await context.close()

        # The results: slot A's configuration won 2 of 3 votes (the tie counts in the total).
        winner = LLAMA if LLAMA in revealed["A"] else DEEPSEEK
        await page.get_by_test_id("arena-results-link").click()
        await page.get_by_test_id("arena-results").wait_for()
        rows = page.get_by_test_id("result-row")
        texts = [await rows.nth(i).inner_text() for i in range(await rows.count())]
        (won,) = [t for t in texts if winner in t]
        assert "2 / 3" in won and "67 %" in won
        (lost,) = [t for t in texts if winner not in t]
        assert "0 / 3" in lost and "0 %" in lost
        await page.screenshot(path=str(artifacts / "arena-results-1440.png"), full_page=True)
        csv_href = await page.get_by_test_id("export-csv").get_attribute("href")
        csv = await page.request.get(f"{daphne_server.url}{csv_href}")
        assert csv.ok and "overall" in await csv.text() and winner in await csv.text()
        # The audience's read-only results, at the phone's width.
        await phones[0].get_by_test_id("arena-results-link").click()
        await phones[0].get_by_test_id("arena-results").wait_for()
        await phones[0].screenshot(path=str(artifacts / "arena-results-phone-390.png"), full_page=True)
        assert await phones[0].evaluate("document.documentElement.scrollWidth") <= 390
        assert not page.console_errors
    finally:
        for context in contexts:
            await context.close()


CREATE_SOURCES = """async ([deepseek, llama]) => {
  const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
  const headers = {"X-CSRFToken": token, "Content-Type": "application/json"};
  const post = async (url, body) =>
    (await fetch(url, {method: "POST", headers, body: JSON.stringify(body)})).status;
  return [
    await post("/api/presets/", {name: "Team Marmot", model: deepseek, params: {temperature: 0.4}}),
    await post("/api/prompts/", {name: "Helpdesk", version: {
      model: llama, system: "You work for {{company}}.",
      messages: [{role: "user", content: "Hi"}, {role: "assistant", content: "Hello!"},
                 {role: "user", content: "Question: {{question}}"}],
      params: {temperature: 0.7, max_tokens: 32},
      variables: [{name: "company", type: "text", default: "Acme"}]}}),
  ];
}"""


async def test_an_arena_of_a_preset_and_a_prompt_version_runs_blind_and_reveals_their_names(
    page: Any, browser: Any, emulator: EmulatorServer, daphne_server: LiveServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=20, tokens_per_second=200, chunk_tokens=4, seed=5)
    assert await page.evaluate(CREATE_SOURCES, [DEEPSEEK, LLAMA]) == [201, 201]
    await page.goto(f"{daphne_server.url}/arena/")
    await page.fill("[data-testid=arena-title]", "Preset or prompt?")
    sources = page.get_by_test_id("arena-source")
    await sources.nth(0).select_option("preset")
    await sources.nth(1).select_option("version")
    assert "Team Marmot" in await page.get_by_test_id("arena-preset").inner_text()
    assert "Helpdesk v1" in await page.get_by_test_id("arena-version").inner_text()
    await page.get_by_test_id("arena-variable").select_option("question")
    await page.fill("[data-testid=arena-queue]", "Why is the sky blue?")
    # The setup, looked at: 1280 and 390 px, light and dark, no horizontal scroll.
    state = await page.context.storage_state()
    for width, scheme in ((1280, "light"), (1280, "dark"), (390, "light"), (390, "dark")):
        context = await browser.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme, storage_state=state
        )
        setup = await context.new_page()
        await setup.goto(f"{daphne_server.url}/arena/")
        await setup.get_by_test_id("arena-source").nth(0).select_option("preset")
        await setup.get_by_test_id("arena-source").nth(1).select_option("version")
        await setup.screenshot(
            path=str(artifacts / f"arena-setup-sources-{width}-{scheme}.png"), full_page=True
        )
        assert await setup.evaluate("document.documentElement.scrollWidth") <= width
        await context.close()

    await page.get_by_test_id("arena-create").click()
    await page.wait_for_url(re.compile(r"/arena/\d+/$"))
    await live(page)
    link = await page.get_by_test_id("arena-link").get_attribute("href")
    context = await browser.new_context(**PHONE)
    phone = await context.new_page()
    phone.received = []
    phone.on("websocket", lambda ws: ws.on("framereceived", lambda data: phone.received.append(str(data))))
    try:
        await phone.goto(link)
        await live(phone)
        await page.get_by_test_id("arena-next").filter(has_text="Send prompt 1").click()
        await status(page, "Voting open")
        await status(phone, "Voting open")
        bodies = {r["body"]["model"]: r["body"] for r in emulator.state()["requests"] if r["body"]}
        assert bodies[DEEPSEEK]["messages"] == [{"role": "user", "content": "Why is the sky blue?"}]
        assert bodies[DEEPSEEK]["temperature"] == 0.4
        assert bodies[LLAMA]["messages"][0] == {"role": "system", "content": "You work for Acme."}
        assert bodies[LLAMA]["messages"][-1] == {"role": "user", "content": "Question: Why is the sky blue?"}
        # Blind: the phone's page and frames name neither the preset nor the prompt.
        html = (await phone.content()).lower()
        frames = " ".join(phone.received).lower()
        for word in ("marmot", "helpdesk", "llama", "deepseek"):
            assert word not in html and word not in frames, word
        await page.get_by_test_id("arena-next").filter(has_text="Close voting").click()
        await page.get_by_test_id("arena-next").filter(has_text="Reveal").click()
        await page.get_by_test_id("slot-A-who").wait_for()
        revealed = " ".join([await page.get_by_test_id(f"slot-{s}-who").inner_text() for s in "AB"])
        assert "Team Marmot" in revealed and "Helpdesk v1" in revealed
        assert not page.console_errors
    finally:
        await context.close()
