"""Replies read as Markdown (static/playground/core/markdown.js), in headless Chromium: a streamed reply
renders headings, a table, highlighted code with a working copy button and math; hostile Markdown runs
and loads nothing; the raw toggle shows the source; a JSON reply says whether it matches its schema; the
run page and the code export render and highlight too."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, sign_up
from tests.emulator_fixture import EmulatorServer

pytestmark = pytest.mark.asyncio(loop_scope="session")

RICH = """## Results

Plain **bold**, *emphasis* and a [link](https://example.com/docs).

| Model | TTFT | Tokens/s |
| --- | ---: | ---: |
| small | 120 ms | 95.5 |
| large | 310 ms | 41.0 |

```python
def add(a, b):
    return a + b  # the sum
```

> A quoted line.

1. first
2. second

Inline math $e^{i\\pi} + 1 = 0$ and \\(a^2 + b^2\\), then display:

$$
\\int_0^1 x^2 \\, dx = \\frac{1}{3}
$$

\\[ \\sum_{k=1}^{n} k = \\frac{n(n+1)}{2} \\]
"""

WIDE = """
| a very long column heading | another long heading | third | fourth | fifth column | sixth column |
| --- | --- | --- | --- | --- | --- |
| a cell with quite a lot of text in it | more text here | 3 | 4 | five | six |

```text
a_long_line_of_code_that_does_not_wrap = "it scrolls sideways inside its own block, never the page" * 3
```
"""

HOSTILE = """<script>window.__pwned = "script"</script>

<img src="x" onerror="window.__pwned = 'onerror'">

[click me](javascript:window.__pwned='link') and <a href="javascript:alert(1)">raw link</a>

![remote pixel](http://remote.invalid/pixel.png)

<iframe src="http://remote.invalid/frame"></iframe><style>body { display: none }</style>

<b onclick="window.__pwned='b'">bold with a handler</b>, H<sub>2</sub>O
"""


async def send(page: Any, prompt: str) -> None:
    await page.get_by_test_id("prompt-input").fill(prompt)
    await page.get_by_test_id("send").click()


async def wait_done(page: Any) -> None:
    await page.get_by_test_id("reply-status").filter(has_text="Done").wait_for(timeout=15_000)


def reply(page: Any) -> Any:
    return page.get_by_test_id("assistant-message").locator('.choice[data-choice="0"]')


async def test_a_streamed_reply_renders_markdown_with_copy_buttons_and_a_raw_toggle(
    page: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path
) -> None:
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=daphne_server.url)
    emulator.configure(ttft_ms=50, tokens_per_second=150, chunk_tokens=1, seed=1)
    emulator.inject({"kind": "reply", "content": RICH})
    await send(page, "Show me everything")
    md = reply(page).get_by_test_id("reply-md")
    # While it streams, the heading is already rendered; the same element is still there at the end:
    # finished blocks are kept, not rebuilt on every token (no flicker, the selection survives).
    heading = md.locator("h2")
    await heading.wait_for(timeout=10_000)
    await heading.evaluate("(h) => { window.__heading = h; }")
    assert await page.get_by_test_id("reply-status").text_content() == "Streaming"
    await wait_done(page)
    kept = await page.evaluate("() => window.__heading.isConnected && window.__heading.textContent")
    assert kept == "Results"

    assert await md.locator("strong").first.inner_text() == "bold"
    assert await md.locator("em").first.inner_text() == "emphasis"
    link = md.locator("a", has_text="link")
    assert await link.get_attribute("href") == "https://example.com/docs"
    assert await link.get_attribute("rel") == "noopener noreferrer nofollow"
    rows = await md.locator("table tr").all_inner_texts()
    assert [re.split(r"\s+", r.strip()) for r in rows] == [
        ["Model", "TTFT", "Tokens/s"],
        ["small", "120", "ms", "95.5"],
        ["large", "310", "ms", "41.0"],
    ]
    assert await md.locator("table td").nth(2).get_attribute("align") == "right"
    assert await md.locator("blockquote").inner_text() == "A quoted line."
    assert await md.locator("ol li").all_inner_texts() == ["first", "second"]
    # Highlighted code: the keyword, the function name and the comment are coloured spans.
    code = md.locator(".md-code")
    assert await code.locator(".md-code-lang").inner_text() == "python"
    assert await code.locator(".hljs-keyword").first.inner_text() == "def"
    assert await code.locator(".hljs-title").first.inner_text() == "add"
    assert await code.locator(".hljs-comment").inner_text() == "# the sum"
    keyword_colour = await code.locator(".hljs-keyword").first.evaluate("(n) => getComputedStyle(n).color")
    plain_colour = await code.locator("pre").evaluate("(n) => getComputedStyle(n).color")
    assert keyword_colour != plain_colour
    # Math as MathML (KaTeX): four formulas inline and two displayed, none left as dollar signs.
    assert await md.locator("math").count() == 4
    assert await md.locator('math[display="block"]').count() == 2
    assert await md.locator("math annotation").first.text_content() == "e^{i\\pi} + 1 = 0"
    text = await md.inner_text()
    assert "$" not in text and "\\(" not in text and "\\[" not in text
    await page.screenshot(path=str(artifacts / "markdown-reply-1440.png"), full_page=True)

    # The code block's copy button copies the code; the reply's copies the Markdown source.
    await code.get_by_role("button", name="Copy the code").click()
    copied = await page.evaluate("() => navigator.clipboard.readText()")
    assert copied == "def add(a, b):\n    return a + b  # the sum"
    assert await code.get_by_role("button").inner_text() == "Copied ✓"
    await reply(page).get_by_test_id("reply-md-copy").click()
    source = "[offline emulator]\n\n" + RICH
    assert await page.evaluate("() => navigator.clipboard.readText()") == source

    # Raw shows the text as the model sent it; Rendered goes back.
    toggle = reply(page).get_by_test_id("reply-md-raw-toggle")
    await toggle.click()
    assert await reply(page).get_by_test_id("reply-md-raw").text_content() == source
    assert not await md.is_visible()
    assert await toggle.get_attribute("aria-pressed") == "true"
    await toggle.click()
    assert await md.locator("table").is_visible()
    assert not await reply(page).get_by_test_id("reply-md-raw").is_visible()
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors

    # The run page renders the saved reply the same way.
    run = json.loads(next(f for f in page.frames_log.received if '"chat.done"' in f))["run"]
    await page.goto(f"{daphne_server.url}/runs/{run}/")
    saved = page.get_by_test_id("run-reply-md")
    assert await saved.locator("table tr").count() == 3
    assert await saved.locator(".hljs-keyword").first.inner_text() == "def"
    assert await saved.locator("math").count() == 4
    # The code export highlights its snippets.
    await page.goto(f"{daphne_server.url}/runs/{run}/code/")
    python = page.get_by_test_id("code-python_openai")
    assert await python.locator(".hljs-keyword").first.inner_text() in ("import", "from")
    assert await python.locator(".hljs-string").count() > 0
    await page.get_by_test_id("code-tab-curl").click()
    assert await page.get_by_test_id("code-curl").locator(".hljs-built_in, .hljs-string").count() > 0
    await page.screenshot(path=str(artifacts / "markdown-code-export-1440.png"))


async def test_hostile_markdown_runs_and_loads_nothing(
    page: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path
) -> None:
    dialogs: list[str] = []
    remote: list[str] = []
    page.on("dialog", lambda d: dialogs.append(d.message))
    page.on("request", lambda r: "remote.invalid" in r.url and remote.append(r.url))
    emulator.inject({"kind": "reply", "content": HOSTILE})
    await send(page, "Say something dangerous")
    await wait_done(page)
    md = reply(page).get_by_test_id("reply-md")
    # Nothing ran: no dialog, no script, no handler, no javascript: link; nothing loaded from elsewhere.
    await md.locator("a", has_text="click me").click()
    await page.wait_for_timeout(300)
    assert dialogs == []
    assert await page.evaluate("() => window.__pwned") is None
    assert remote == []
    assert await md.locator("script, iframe, style, img, [onerror], [onclick]").count() == 0
    hrefs = await md.locator("a").evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
    assert not [h for h in hrefs if h and h.lower().startswith("javascript:")], hrefs
    # What was HTML is shown as text, so nothing is lost; the remote image is a link, not loaded.
    text = await md.inner_text()
    assert '<script>window.__pwned = "script"</script>' in text
    assert '<img src="x" onerror="window.__pwned = \'onerror\'">' in text
    assert '<a href="javascript:alert(1)">raw link</a>' in text
    image = md.locator("a.md-image-link")
    assert await image.inner_text() == "🖼 remote pixel"
    assert await image.get_attribute("href") == "http://remote.invalid/pixel.png"
    assert "<b onclick=\"window.__pwned='b'\">bold with a handler" in text  # a tag with attributes: text
    assert await md.locator("sub").inner_text() == "2"  # a bare inline tag stays HTML
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
    await page.screenshot(path=str(artifacts / "markdown-hostile-1440.png"))
    await reply(page).get_by_test_id("reply-md-raw-toggle").click()
    raw = await reply(page).get_by_test_id("reply-md-raw").text_content()
    assert raw == "[offline emulator]\n\n" + HOSTILE


async def test_a_json_reply_says_whether_it_matches_the_schema(page: Any, emulator: EmulatorServer) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city", "days"],
    }
    response_format = page.get_by_test_id("param-response_format")
    await response_format.locator("select").select_option("json_schema")
    await page.get_by_test_id("json-schema-editor").fill(json.dumps(schema))
    await send(page, "The weather, as JSON")
    await wait_done(page)
    check = reply(page).get_by_test_id("schema-check")
    assert await check.inner_text() == "✓ Matches the JSON schema"
    sent = emulator.state()["requests"][-1]["body"]
    wanted = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    assert sent["response_format"] == wanted
    # The reply shows as highlighted JSON.
    assert await reply(page).get_by_test_id("reply-md").locator(".md-code-lang").inner_text() == "json"

    emulator.inject({"kind": "reply", "content": '{"city": 3, "days": 9}'})
    await send(page, "Again")
    await page.get_by_test_id("reply-status").filter(has_text="Done").wait_for(timeout=15_000)
    await check.filter(has_text="Does not match").wait_for(timeout=5_000)
    lines = await check.locator("li").all_inner_texts()
    assert lines == [
        '/city: Instance type "number" is invalid. Expected "string".',
        "/days: 9 is greater than 7.",
    ]
    assert await check.get_attribute("data-result") == "mismatch"

    emulator.inject({"kind": "reply", "content": '{"city": "Paris", '})
    await send(page, "Once more")
    await check.filter(has_text="Not valid JSON").wait_for(timeout=15_000)


async def test_half_received_constructs_render_sensibly(page: Any) -> None:
    """The renderer fed the text as it grows: an open fence is a growing code block; a table waits for
    its delimiter row instead of flashing up as a paragraph."""
    steps = await page.evaluate(
        """async () => {
          const { MarkdownView } = await import("/static/playground/core/markdown.js");
          const view = new MarkdownView();
          const shot = (text) => {
            view.set(text, { streaming: true });
            return { html: view.root.innerHTML, text: view.root.textContent };
          };
          return {
            fence: shot("Here:\\n\\n```python\\nprint('hi')"),
            header: shot("Rows:\\n\\n| a | b |\\n"),
            delimiter: shot("Rows:\\n\\n| a | b |\\n| --- | --- |\\n"),
            partialRow: shot("Rows:\\n\\n| a | b |\\n| --- | --- |\\n| 1 |"),
            math: shot("Area $x^2"),
          };
        }"""
    )
    assert '<div class="md-code">' in steps["fence"]["html"] and "print('hi')" in steps["fence"]["text"]
    assert steps["header"]["text"].strip() == "Rows:"  # the header line waits for its delimiter row
    assert "<table>" in steps["delimiter"]["html"]
    assert "<td>1</td>" in steps["partialRow"]["html"]
    assert steps["math"]["text"].strip() == "Area $x^2"  # an unclosed dollar stays text until it closes


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_markdown_reply_at_three_widths(
    browser: Any, daphne_server: LiveServer, emulator: EmulatorServer, artifacts: Path, scheme: str
) -> None:
    """A rich reply looked at as a person would (screenshots), and wide content scrolls inside the reply."""
    context = await browser.new_context(viewport={"width": 1440, "height": 1100}, color_scheme=scheme)
    page = await context.new_page()
    try:
        await sign_up(page, daphne_server.url, f"md{scheme}{time.monotonic_ns()}")
        await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
        emulator.inject({"kind": "reply", "content": RICH + WIDE})
        await send(page, "Show me everything")
        await wait_done(page)
        md = reply(page).get_by_test_id("reply-md")
        for width in (1440, 1280, 390):
            await page.set_viewport_size({"width": width, "height": 1100 if width > 390 else 844})
            await md.scroll_into_view_if_needed()
            # The wide table and the long code line scroll inside the reply; the reply keeps its width.
            overflow = await md.evaluate(
                """(md) => [...md.querySelectorAll('table, .md-code pre')].map(
                     (n) => n.getBoundingClientRect().right <= md.getBoundingClientRect().right + 1)"""
            )
            assert overflow and all(overflow), overflow
            await page.get_by_test_id("assistant-message").screenshot(
                path=str(artifacts / f"markdown-reply-{width}-{scheme}.png")
            )
    finally:
        await context.close()
