"""Fixtures shared by the whole suite."""

import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from playground.vendor import ensure_node_modules
from proxy import protocol
from proxy.client.client import close_shared_clients
from proxy.dispatch import FrameConsumer
from tests.emulator_fixture import emulator, emulator_server  # noqa: F401  (fixtures)
from tests.strict_server import strict_server  # noqa: F401  (fixture)


def pytest_configure(config: pytest.Config) -> None:
    """Collect the static files once, into a temporary folder, before any test imports the app.

    whitenoise warns (an error here) when STATIC_ROOT is missing, and ``{% static %}`` with the
    manifest storage needs the manifest: on a clean checkout neither exists yet.
    """
    ensure_node_modules()  # the front-end libraries collectstatic serves (npm ci, once)
    distributing = getattr(config.option, "dist", "no") != "no" and not config.option.collectonly
    if distributing and not hasattr(config, "workerinput"):
        return  # pytest-xdist's controller runs no test; each worker collects its own static files
    # A fast password hasher, as Django's testing docs advise: the default PBKDF2 (a million iterations)
    # costs about half a second of CPU per user made or sign-in tried, and no test is about its cost.
    # The servers the tests start as subprocesses use the same (tests/live_settings.py).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    root = Path(tempfile.mkdtemp(prefix="playground-static-"))
    config.stash[STATIC_ROOT_KEY] = root
    settings.STATIC_ROOT = root
    call_command("collectstatic", interactive=False, verbosity=0)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the collected static files."""
    root = config.stash.get(STATIC_ROOT_KEY, None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)


STATIC_ROOT_KEY = pytest.StashKey[Path]()


@pytest.fixture
async def close_upstream() -> AsyncIterator[None]:
    """Afterwards, close the upstream clients the test's event loop opened (and their connections)."""
    yield
    await close_shared_clients()


@pytest.fixture(autouse=True)
def frames_match_the_protocol(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every frame any socket sends, in any test, is declared in proxy/protocol.py (checked as sent)."""
    problems: list[str] = []
    send_text = FrameConsumer.send_text

    async def checked(self: FrameConsumer, text: str, secrets: tuple[str, ...] = ()) -> None:
        problems.extend(protocol.check(json.loads(text)))
        await send_text(self, text, secrets)

    monkeypatch.setattr(FrameConsumer, "send_text", checked)
    yield
    assert not problems, "frames not as declared in proxy/protocol.py: " + "; ".join(sorted(set(problems)))
