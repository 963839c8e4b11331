"""Prompt variables and saved prompt versions in headless Chromium: the variables form follows the text,
a missing value stops Send, the filled-in prompt reaches the upstream exactly; versions saved with notes,
labelled, compared (text and parameters) and restored; a viewer sees a team's prompt but cannot save a
version. Screenshots at 390 and 1280 px, light and dark (tests/artifacts/prompts-*.png)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, click_nav, sign_up
from tests.browser.test_playground import wait_status
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


def completions(emulator: EmulatorServer) -> list[dict[str, Any]]:
    """The requests the emulator received for completions (not the model list)."""
    return [r for r in emulator.state()["requests"] if r["method"] == "POST"]


def sent(page: Any, kind: str) -> list[dict[str, Any]]:
    frames = [json.loads(f) for f in page.frames_log.sent]
    return [f for f in frames if f.get("type") == kind]


async def variable_names(page: Any) -> list[str]:
    rows = page.get_by_test_id("variables-list").locator(".var-row")
    return [str(await rows.nth(i).get_attribute("data-variable")) for i in range(await rows.count())]


async def fill_translation(page: Any) -> None:
    await page.get_by_test_id("system-prompt").fill("You are {{role}}.")
    await page.get_by_test_id("prompt-input").fill("Translate {{ text }} into {{lang}}")
    await page.get_by_test_id("variable-lang").wait_for()


async def test_variables_form_and_the_filled_prompt_upstream(
    page: Any, emulator: EmulatorServer, artifacts: Path
) -> None:
    emulator.configure(ttft_ms=10, tokens_per_second=2000)
    assert not await page.get_by_test_id("variables").is_visible()
    await page.get_by_test_id("system-prompt").fill("You are {{role}}.")
    await page.get_by_test_id("variable-role").wait_for()
    assert await variable_names(page) == ["role"]
    await page.get_by_test_id("prompt-input").fill("Translate {{ text }} into {{lang}}")
    await page.get_by_test_id("variable-lang").wait_for()
    assert await variable_names(page) == ["role", "text", "lang"]
    # lang becomes a choice between two languages, German picked.
    await page.get_by_test_id("variable-settings-lang").click()
    await page.get_by_test_id("variable-type-lang").select_option("choice")
    await page.get_by_test_id("variable-choices-lang").fill("French, German")
    await page.get_by_test_id("variable-choices-lang").press("Tab")
    await page.get_by_test_id("variable-lang").select_option("German")
    await page.get_by_test_id("variable-role").fill("a translator")

    # text has no value: nothing is sent, the error names it.
    await page.get_by_test_id("send").click()
    error = page.get_by_test_id("error")
    await error.filter(has_text="Missing value for variable: text.").wait_for(timeout=5_000)
    assert sent(page, "chat.start") == []
    assert completions(emulator) == []
    assert await page.get_by_test_id("prompt-input").input_value() == "Translate {{ text }} into {{lang}}"

    await page.get_by_test_id("variable-text").fill("bonjour {{role}}")
    await page.get_by_test_id("send").click()
    await wait_status(page, "done")
    [start] = sent(page, "chat.start")
    assert start["variables"] == {"role": "a translator", "text": "bonjour {{role}}", "lang": "German"}
    [request] = completions(emulator)
    assert request["body"]["messages"] == [
        {"role": "system", "content": "You are a translator."},
        {"role": "user", "content": "Translate bonjour {{role}} into German"},
    ]
    assert "variables" not in request["body"]
    # The thread keeps the template; the form stays for the next message.
    assert "Translate {{ text }} into {{lang}}" in await page.get_by_test_id("turns").inner_text()
    assert await variable_names(page) == ["role", "text", "lang"]
    # Reopened, the saved conversation holds what the model saw; the values stay in this browser.
    await page.reload()
    await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
    assert "Translate bonjour {{role}} into German" in await page.get_by_test_id("turns").inner_text()
    await page.get_by_test_id("prompt-input").fill("Now in {{lang}}")
    await page.get_by_test_id("variable-lang").wait_for()
    assert await page.get_by_test_id("variable-lang").input_value() == "German"
    assert page.console_errors == []


async def save_prompt(page: Any, *, name: str | None, note: str) -> None:
    if name is not None:
        await page.get_by_test_id("prompt-save-new").click()
        await page.get_by_test_id("prompt-name").fill(name)
    else:
        await page.get_by_test_id("prompt-save-version").click()
    await page.get_by_test_id("prompt-note").fill(note)
    await page.get_by_test_id("prompt-dialog-save").click()
    try:
        await page.get_by_test_id("prompt-dialog").wait_for(state="hidden", timeout=10_000)
    except Exception:
        raise AssertionError(await page.get_by_test_id("prompt-dialog-error").inner_text()) from None


async def test_versions_saved_labelled_compared_and_restored(
    page: Any, emulator: EmulatorServer, daphne_server: LiveServer
) -> None:
    base = daphne_server.url
    await page.get_by_test_id("system-prompt").fill("Summarise for {{audience}}.")
    await page.fill("#param-temperature", "0.2")
    await page.get_by_test_id("prompt-input").fill("Text: {{text}}")
    await save_prompt(page, name="Summariser", note="first try")
    status = page.get_by_test_id("prompt-title")
    assert await status.inner_text() == "Summariser · v1"

    await page.get_by_test_id("system-prompt").fill("Summarise briefly for {{audience}}.")
    await page.fill("#param-temperature", "0.7")
    await save_prompt(page, name=None, note="shorter and warmer")
    await status.filter(has_text="v2").wait_for()
    assert await status.inner_text() == "Summariser · v2"

    await page.get_by_test_id("prompt-link").click()
    await page.get_by_test_id("prompt-page").wait_for()
    notes = await page.get_by_test_id("version-note").all_inner_texts()
    assert notes == ["shorter and warmer", "first try"]
    # Label v1 "production".
    await page.get_by_test_id("label-name").fill("production")
    await page.get_by_test_id("label-version").select_option(label="v1")
    await page.get_by_test_id("label-set").click()
    v1 = page.get_by_test_id("version").filter(has_text="first try")
    await v1.get_by_test_id("version-label").filter(has_text="production").wait_for()
    # The diff v1 → v2: the system prompt's new word, the temperature's two values.
    await page.get_by_test_id("diff-settings").wait_for()
    system = page.get_by_test_id("diff-text").filter(has_text="System prompt")
    assert await system.get_attribute("data-differs") == "1"
    assert await system.get_by_test_id("diff-right").locator("ins").all_inner_texts() == ["briefly "]
    assert await system.get_by_test_id("diff-left").locator("del").count() == 0
    temperature = page.locator('[data-testid="diff-setting"][data-field="temperature"]')
    assert await temperature.locator("td").all_inner_texts() == ["0.2", "0.7"]
    assert await temperature.get_attribute("data-differs") == "1"
    assert (
        await page.locator('[data-testid="diff-setting"][data-field="model"]').get_attribute("data-differs")
        == "0"
    )
    summary = await page.get_by_test_id("diff-summary").inner_text()
    assert summary == "2 differences from v1 to v2."

    # Restore v1: the playground gets its settings, system prompt, message and variables back.
    await v1.get_by_test_id("version-restore").click()
    await page.wait_for_url(f"{base}/?version=*")
    await status.filter(has_text="v1").wait_for(timeout=10_000)
    assert await page.get_by_test_id("system-prompt").input_value() == "Summarise for {{audience}}."
    assert await page.locator("#param-temperature").input_value() == "0.2"
    assert "Text: {{text}}" in await page.get_by_test_id("turns").inner_text()
    assert await variable_names(page) == ["audience", "text"]
    assert await status.inner_text() == "Summariser · v1"
    assert await page.get_by_test_id("prompt-label-chip").all_inner_texts() == ["production"]
    assert await page.get_by_test_id("prompt-restored-note").inner_text() == "restored; the latest is v2"
    # Saving after a restore makes v3.
    await page.fill("#param-max_tokens", "50")
    await save_prompt(page, name=None, note="from v1, shorter replies")
    await status.filter(has_text="v3").wait_for()
    detail = await page.evaluate(
        "async (id) => (await fetch(`/api/prompts/${id}/`)).json()",
        int(str(await page.get_by_test_id("prompt-link").get_attribute("href")).split("/")[2]),
    )
    assert [(v["number"], v["note"]) for v in detail["versions"]] == [
        (3, "from v1, shorter replies"),
        (2, "shorter and warmer"),
        (1, "first try"),
    ]
    assert detail["versions"][0]["start"]["params"] == {"temperature": 0.2, "max_tokens": 50}
    assert detail["prompt"]["labels"] == {"production": 1}

    # Its author deletes it (after confirming), versions and labels with it.
    await page.get_by_test_id("prompt-link").click()
    messages: list[str] = []

    async def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        await dialog.accept()

    page.once("dialog", accept)
    await page.get_by_test_id("prompt-delete").click()
    await page.wait_for_url(f"{base}/prompts/")
    assert messages == ["Delete “Summariser” and its 3 versions? This cannot be undone."]
    assert await page.get_by_test_id("prompts-empty").is_visible()
    assert page.console_errors == []


async def test_a_viewer_sees_a_team_prompt_but_cannot_save_a_version(
    page: Any, browser: Any, daphne_server: LiveServer
) -> None:
    base = daphne_server.url
    await click_nav(page, "nav-workspace")
    await page.get_by_test_id("workspace-new").locator("input[name=name]").fill("Prompt team")
    await page.get_by_test_id("workspace-create").click()
    await page.get_by_test_id("workspace-page").filter(has_text="Prompt team").wait_for()
    await page.get_by_test_id("invitation-form").locator("select[name=role]").select_option("viewer")
    await page.get_by_test_id("invitation-create").click()
    invite_url = await page.get_by_test_id("invitation-url").first.input_value()
    await page.goto(f"{base}/")
    await page.get_by_test_id("system-prompt").fill("Reply as {{persona}}.")
    await page.get_by_test_id("prompt-input").fill("Hello")
    await page.get_by_test_id("prompt-save-new").click()
    await page.get_by_test_id("prompt-name").fill("Team greeter")
    share = page.get_by_test_id("prompt-share")
    await share.wait_for()
    assert await share.is_checked()
    assert "Share with Prompt team" in await page.get_by_test_id("prompt-dialog").inner_text()
    await page.get_by_test_id("prompt-note").fill("for the team")
    await page.get_by_test_id("prompt-dialog-save").click()
    await page.get_by_test_id("prompt-title").filter(has_text="Team greeter · v1").wait_for()
    prompt_url = base + str(await page.get_by_test_id("prompt-link").get_attribute("href"))

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        viewer = await context.new_page()
        errors: list[str] = []
        viewer.on("pageerror", lambda exc: errors.append(str(exc)))
        await sign_up(viewer, base, f"viewer{time.monotonic_ns()}")
        await viewer.goto(invite_url)
        await viewer.get_by_test_id("join-button").click()
        await viewer.wait_for_url(f"{base}/conversations/")
        await viewer.goto(f"{base}/")
        await viewer.get_by_test_id("prompts-link").click()
        await viewer.get_by_test_id("prompt-row").filter(has_text="Team greeter").locator("a").click()
        await viewer.get_by_test_id("prompt-page").wait_for()
        assert viewer.url == prompt_url
        assert await viewer.get_by_test_id("prompt-read-only").is_visible()
        assert not await viewer.get_by_test_id("label-form").is_visible()
        assert await viewer.get_by_test_id("prompt-delete").count() == 0
        assert await viewer.get_by_test_id("version-note").all_inner_texts() == ["for the team"]
        await viewer.get_by_test_id("version-restore").click()
        status = viewer.get_by_test_id("prompt-title")
        await status.filter(has_text="Team greeter · v1").wait_for(timeout=10_000)
        assert await viewer.get_by_test_id("system-prompt").input_value() == "Reply as {{persona}}."
        button = viewer.get_by_test_id("prompt-save-version")
        assert await button.is_disabled()
        assert "Read-only" in str(await button.get_attribute("title"))
        # The server refuses it too.
        prompt_id = int(prompt_url.rstrip("/").split("/")[-1])
        answer = await viewer.evaluate(
            """async (id) => {
              const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
              const body = JSON.stringify({version: {messages: [{role: "user", content: "x"}]}});
              const headers = {"X-CSRFToken": token, "Content-Type": "application/json"};
              const r = await fetch(`/api/prompts/${id}/versions/`, {method: "POST", headers, body});
              return [r.status, (await r.json()).error.field];
            }""",
            prompt_id,
        )
        assert answer == [403, "role"]
        assert errors == []
    finally:
        await context.close()


WIDER = """(width) => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > width + 0.5 && e.getClientRects().length)
  .slice(0, 5)
  .map((e) => `${e.tagName}.${e.className}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`)"""


async def fits(page: Any, width: int) -> None:
    """Nothing on the page is wider than the screen (no horizontal scroll); names what is, if anything."""
    if await page.evaluate("document.documentElement.scrollWidth") > width:
        raise AssertionError(await page.evaluate(WIDER, width))


async def test_screenshots_light_and_dark_at_390_and_1280(
    page: Any, browser: Any, daphne_server: LiveServer, artifacts: Path
) -> None:
    """The playground with a variables form and the version diff, at a phone's and a laptop's width, in
    both themes: nothing wider than the screen, and the files (tests/artifacts/prompts-*.png) to look at."""
    base = daphne_server.url
    await page.get_by_test_id("system-prompt").fill("You write {{tone}} product copy for {{audience}}.")
    await page.fill("#param-temperature", "0.4")
    await page.get_by_test_id("prompt-input").fill(
        "Describe {{product}} in {{words}} words.\n\nNotes:\n{{notes}}"
    )
    await page.get_by_test_id("variable-notes").wait_for()
    await save_prompt(page, name="Product copy", note="first draft")
    await page.get_by_test_id("system-prompt").fill(
        "You write {{tone}}, concrete product copy for {{audience}}."
    )
    await page.fill("#param-temperature", "0.8")
    await save_prompt(page, name=None, note="more concrete, warmer")
    prompt_path = str(await page.get_by_test_id("prompt-link").get_attribute("href"))
    state = await page.context.storage_state()
    for width, height, mobile in ((390, 844, True), (1280, 860, False)):
        for scheme in ("light", "dark"):
            context = await browser.new_context(
                viewport={"width": width, "height": height},
                is_mobile=mobile,
                has_touch=mobile,
                color_scheme=scheme,
                storage_state=state,
            )
            try:
                shot = await context.new_page()
                await shot.goto(f"{base}/")
                await shot.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
                await shot.get_by_test_id("system-prompt").fill(
                    "You write {{tone}} product copy for {{audience}}."
                )
                await shot.get_by_test_id("prompt-input").fill(
                    "Describe {{product}} in {{words}} words.\n\n{{notes}}"
                )
                await shot.get_by_test_id("variable-notes").wait_for()
                await shot.get_by_test_id("variable-settings-tone").click()
                await shot.get_by_test_id("variable-type-tone").select_option("choice")
                await shot.get_by_test_id("variable-choices-tone").fill("playful, formal, plain")
                await shot.get_by_test_id("variable-choices-tone").press("Tab")
                await shot.get_by_test_id("variable-tone").select_option("plain")
                await shot.get_by_test_id("variable-settings-words").click()
                await shot.get_by_test_id("variable-type-words").select_option("number")
                await shot.get_by_test_id("variable-settings-notes").click()
                await shot.get_by_test_id("variable-type-notes").select_option("long_text")
                for name in ("tone", "words", "notes"):  # the settings closed again, as after choosing
                    await shot.get_by_test_id(f"variable-settings-{name}").click()
                await shot.get_by_test_id("variable-audience").fill("hikers")
                await shot.get_by_test_id("variable-product").fill("a trail stove")
                await shot.get_by_test_id("variable-words").fill("forty")
                await shot.get_by_test_id("variable-notes").fill("Weighs 300 g.\nBoils a litre in 4 minutes.")
                await shot.get_by_test_id("send").click()
                await (
                    shot.get_by_test_id("error")
                    .filter(has_text="words must be a number")
                    .wait_for(timeout=5_000)
                )
                await fits(shot, width)
                await shot.get_by_test_id("variables").scroll_into_view_if_needed()
                await shot.screenshot(path=str(artifacts / f"prompts-variables-{width}-{scheme}.png"))
                await shot.get_by_test_id("prompt-save-new").click()
                await shot.get_by_test_id("prompt-note").fill("A first take on the trail stove copy.")
                await shot.screenshot(path=str(artifacts / f"prompts-save-dialog-{width}-{scheme}.png"))
                await shot.get_by_test_id("prompt-dialog-cancel").click()
                await shot.goto(f"{base}/prompts/")
                await fits(shot, width)
                await shot.screenshot(path=str(artifacts / f"prompts-list-{width}-{scheme}.png"))
                await shot.goto(base + prompt_path)
                await shot.get_by_test_id("diff-settings").wait_for()
                await fits(shot, width)
                diff_shot = artifacts / f"prompts-diff-{width}-{scheme}.png"
                await shot.screenshot(path=str(diff_shot), full_page=True)
            finally:
                await context.close()
