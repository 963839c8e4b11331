"""``manage.py serve`` as a person runs it in a terminal: it serves, and Ctrl-C stops it cleanly.

The server runs on uvloop's event loop (``manage.py`` chooses it before daphne creates its loop); a
loop that swallowed Ctrl-C would leave the terminal's user with a server they cannot stop. The signal
goes to the whole process group, as a terminal sends it, so the emulator that ``serve`` started gets
it too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from proxy.bench.runner import free_port

ROOT = Path(__file__).resolve().parents[3]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _as_in_a_terminal() -> None:
    # A job started in the background of a non-interactive shell ignores SIGINT, and its children
    # inherit that; a terminal's foreground process does not.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_the_server_and_the_emulator_it_started(tmp_path: Path) -> None:
    port, emulator_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("FIREWORKS_BASE_URL", "PLAYGROUND_EMULATOR", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        FIREWORKS_API_KEY="",
        PLAYGROUND_EMULATOR_PORT=str(emulator_port),
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_as_in_a_terminal,
        )
    page = f"http://127.0.0.1:{port}/accounts/login/"
    models = f"http://127.0.0.1:{emulator_port}/inference/v1/models"
    try:
        deadline = time.monotonic() + 60
        while not _answers(page):
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "serve did not answer within 60 s:\n" + log_path.read_text()
            time.sleep(0.2)
        assert _answers(models)  # the emulator serve started, since no key is set

        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C in the terminal
        assert server.wait(15) == 0, log_path.read_text()
        output = log_path.read_text()
        assert "Traceback" not in output, output
        assert not _answers(page)
        assert not _answers(models)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)


def test_several_workers_need_postgresql_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(CommandError) as missing:
        call_command("serve", "--workers", "2")
    assert "DATABASE_URL" in str(missing.value) and "REDIS_URL" in str(missing.value)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///one-file.sqlite3")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    with pytest.raises(CommandError) as sqlite:
        call_command("serve", "--workers", "2")
    assert "DATABASE_URL (a PostgreSQL database)" in str(sqlite.value)
    assert "REDIS_URL" not in str(sqlite.value).split("set ")[1].split(",")[0]
    with pytest.raises(CommandError, match="1 or more"):
        call_command("serve", "--workers", "0")


def test_the_front_end_packages_are_installed_before_the_checks_that_would_ask_for_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On a fresh checkout `serve` runs npm ci itself; the checks must not first tell the user to run it.
    from playground.management.commands import serve

    order: list[str] = []
    monkeypatch.setattr(serve, "ensure_node_modules", lambda *a: order.append("npm ci"))
    monkeypatch.setattr(serve.Command, "check", lambda self, **kw: order.append("checks"))
    monkeypatch.setattr(serve.Command, "handle", lambda self, *a, **kw: order.append("serve"))
    options = {"force_color": False, "no_color": False, "skip_checks": False, "fd": None}
    serve.Command().execute(**options)
    assert order == ["npm ci", "checks", "serve"]
