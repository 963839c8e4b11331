"""``manage.py serve``: set up and run the playground as a user runs it.

Migrates the database, installs the front-end libraries (``npm ci``) when they are missing or stale,
collects static files, starts the offline emulator on loopback when no
``FIREWORKS_API_KEY`` is set, and serves the ASGI application with daphne.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from playground.vendor import ensure_node_modules

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


class Command(BaseCommand):
    """Migrate, collect static files, start the emulator if needed, serve with daphne."""

    help = __doc__

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")
        parser.add_argument(
            "--no-emulator",
            action="store_true",
            help="Do not start the offline emulator, even without a key.",
        )

    def handle(self, *args: Any, host: str, port: int, no_emulator: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        ensure_node_modules(self.stderr)
        call_command("collectstatic", interactive=False, verbosity=0)
        emulator = None
        if settings.PLAYGROUND_EMULATOR and not no_emulator:
            emulator = self.start_emulator()
        upstream = "the offline emulator" if settings.PLAYGROUND_EMULATOR else settings.FIREWORKS_BASE_URL
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        self.stdout.write(
            f"Playground on {url}/  (upstream: {upstream})\n"
            f"First time here? Make an account at {url}/accounts/signup/ "
            "or with `python manage.py createsuperuser`.\n"
        )
        try:
            from daphne.cli import CommandLineInterface

            freeze_startup_objects()
            CommandLineInterface().run(["-b", host, "-p", str(port), "playground.asgi:application"])
        finally:
            if emulator is not None:
                stop_process(emulator)

    def start_emulator(self) -> subprocess.Popen[bytes] | None:
        """Start the emulator on its port, or reuse one that already answers there."""
        port = settings.PLAYGROUND_EMULATOR_PORT
        models_url = f"{settings.FIREWORKS_BASE_URL}/models"
        if self.emulator_answers(models_url):
            self.stdout.write(f"Reusing the emulator already running on port {port}.")
            return None
        process = subprocess.Popen(
            [sys.executable, str(MANAGE_PY), "emulator", "--host", "127.0.0.1", "--port", str(port)]
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise CommandError(
                    f"The emulator exited at once (code {process.returncode}). Is port {port} taken? "
                    "Set PLAYGROUND_EMULATOR_PORT to another port."
                )
            if self.emulator_answers(models_url):
                return process
            time.sleep(0.1)
        stop_process(process)
        raise CommandError(f"The emulator did not answer on port {port} within 15 s.")

    @staticmethod
    def emulator_answers(url: str) -> bool:
        """Whether our emulator (not some other server) answers at ``url``."""
        try:
            response = httpx.get(url, timeout=0.5)
        except httpx.HTTPError:
            return False
        return response.headers.get("x-playground-emulator") == "1"


def freeze_startup_objects() -> None:
    """Keep what startup made out of the garbage collector's full passes (``gc.freeze``).

    Django, Channels, daphne and Twisted leave about 100,000 objects that live as long as the process;
    a full collection walked all of them, a pause of 30-50 ms for every stream on this 2-core machine,
    about once a minute under load (README, Benchmark, round 4); with them frozen, 11 ms.
    """
    import playground.asgi  # noqa: F401 - the application daphne serves, and everything it imports

    gc.collect()
    gc.freeze()


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Ask a child process to stop, and kill it if it has not within ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
