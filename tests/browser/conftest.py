"""Browser-test fixtures: daphne serving the real stack against the emulator, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from proxy.bench.runner import free_port
from tests.emulator_fixture import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# A fake key: the tests assert it never reaches the page or a websocket frame.
API_KEY = "fw_BROWSERTESTKEY"


def _chromium_path() -> str:
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if not path:
        reason = (
            "Debian's chromium is not installed (apt-get install -y chromium); no browser download is used"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


class LiveServer:
    """``manage.py serve`` (daphne) in a subprocess, on a free loopback port."""

    def __init__(self, emulator: EmulatorServer, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "daphne.log"
        self.env = {
            **os.environ,
            # playground.settings with a fast password hasher (every test signs up a user).
            "DJANGO_SETTINGS_MODULE": "tests.live_settings",
            "DATABASE_URL": f"sqlite:///{workdir / 'browser.sqlite3'}",
            "FIREWORKS_BASE_URL": emulator.base_url,
            "FIREWORKS_API_KEY": API_KEY,
            "PLAYGROUND_EMULATOR": "1",
            "PLAYGROUND_ALLOW_SIGNUP": "1",
            # Every test signs up a new user from 127.0.0.1: lift the per-address sign-up throttle.
            "PLAYGROUND_SIGNUPS_PER_ADDRESS": "100000",
            "FIREWORKS_STREAM_GAP_TIMEOUT": "1",
            "FIREWORKS_FIRST_BYTE_TIMEOUT": "5",
            "FIREWORKS_CONNECT_TIMEOUT": "2",
            "PLAYGROUND_MODELS_CACHE_SECONDS": "1",
            # Long enough for a reload or a reconnect to re-attach, short enough for a test to outwait.
            "PLAYGROUND_RESUME_GRACE_SECONDS": "4",
            "DJANGO_LOG_LEVEL": "WARNING",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start serving; on another free port when something took this one first (free_port() only says
        the port was free a moment ago, and the tests run in two processes that both pick ports)."""
        for _ in range(2):
            if self._start_on_port():
                return
            self.stop()
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        if not self._start_on_port():
            raise RuntimeError(f"port {self.port} was taken three times in a row:\n{self.log()}")

    def _start_on_port(self) -> bool:
        """True once our daphne answers; False when the port turned out to be someone else's."""
        # As users run it: `manage.py serve` migrates, collects the static files and runs daphne.
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--no-emulator", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "Address already in use" in self.log():
                    return False
                raise RuntimeError(f"daphne exited ({self.process.returncode}):\n{self.log()}")
            try:
                response = httpx.get(f"{self.url}/accounts/login/", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            # Someone else may hold the port: the answer must come from our daphne.
            if "daphne" not in response.headers.get("server", "").lower():
                return False
            if response.status_code == 200:
                return True
            raise RuntimeError(f"daphne answered {response.status_code}:\n{self.log()}")
        raise RuntimeError(f"daphne did not answer within 60 s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, or a skip (a failure under CI) when it is missing."""
    return _chromium_path()


@pytest.fixture(scope="session")
def daphne_server(
    chromium_path: str, emulator_server: EmulatorServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The real stack (daphne, Channels, the consumer) against the session's emulator."""
    server = LiveServer(emulator_server, tmp_path_factory.mktemp("browser"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Any]:
    """One headless Chromium for the session."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield instance
        finally:
            await instance.close()


class FrameLog:
    """Every websocket frame the page sent and received, as text."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.received: list[str] = []

    def attach(self, page: Any) -> None:
        def on_socket(ws: Any) -> None:
            ws.on("framesent", lambda payload: self.sent.append(str(payload)))
            ws.on("framereceived", lambda payload: self.received.append(str(payload)))

        page.on("websocket", on_socket)


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any, daphne_server: LiveServer, emulator: EmulatorServer) -> AsyncIterator[Any]:
    """A fresh signed-up user on the playground at 1440x900, with its websocket frames logged."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    page = await context.new_page()
    page.frames_log = FrameLog()
    page.frames_log.attach(page)
    page.console_errors = []
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    try:
        await sign_up(page, daphne_server.url, f"user{time.monotonic_ns()}")
        await page.get_by_test_id("connection").filter(has_text="Connected").wait_for(timeout=10_000)
        yield page
        html = await page.content()
        log = page.frames_log
        assert API_KEY not in html
        assert not any(API_KEY in f for f in log.sent + log.received), "the API key reached a websocket frame"
    finally:
        await context.close()


async def sign_up(page: Any, base_url: str, username: str) -> None:
    """Create an account through the sign-up form and land on the playground."""
    await page.goto(f"{base_url}/accounts/signup/")
    await page.fill("#id_username", username)
    await page.fill("#id_password1", "correct-horse-battery-9")
    await page.fill("#id_password2", "correct-horse-battery-9")
    await page.get_by_test_id("auth-submit").click()
    await page.wait_for_url(f"{base_url}/")


async def raw_reply(scope: Any, testid: str = "reply-md") -> str:
    """A rendered reply's source text: switch it to Raw, read it, and switch back to the rendered view."""
    await scope.get_by_test_id(f"{testid}-raw-toggle").first.click()
    text = await scope.get_by_test_id(f"{testid}-raw").first.text_content()
    await scope.get_by_test_id(f"{testid}-raw-toggle").first.click()
    return str(text)


async def click_nav(page: Any, testid: str) -> None:
    """Follow one of the header's links as a user does: through "More" (wide screens) or "Menu"
    (narrow ones) when it is not on the bar itself."""
    link = page.get_by_test_id(testid)
    if not await link.is_visible():
        menu = page.get_by_test_id("menu-toggle")
        await (menu if await menu.is_visible() else page.get_by_test_id("nav-more")).click()
        await link.wait_for(state="visible")
    await link.click()
