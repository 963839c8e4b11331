"""``manage.py serve``: set up and run the playground as a user runs it.

Migrates the database, installs the front-end libraries (``npm ci``) when they are missing or stale,
collects static files, starts the offline emulator on loopback when no ``FIREWORKS_API_KEY`` is set, and
serves the ASGI application with daphne. With ``--workers N`` (N > 1) it binds the listening socket itself
and starts N daphne processes on it (daphne's ``--fd`` way, as a process manager does): the kernel hands
each new connection to one of them. They share their state through PostgreSQL (``DATABASE_URL``) and the
Redis channel layer (``REDIS_URL``), which are required.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import socket
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
        parser.add_argument(
            "--workers",
            type=int,
            default=1,
            help="Server processes sharing the listening socket (default 1; more need DATABASE_URL "
            "and REDIS_URL).",
        )
        # A worker of `serve --workers N`: serve on the listening socket inherited as this descriptor.
        parser.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)

    def execute(self, *args: Any, **options: Any) -> Any:
        # The front-end packages first (npm ci on a fresh checkout): Django's checks, which run next,
        # would otherwise tell a new user to run `npm ci` a moment before serve runs it itself.
        if options.get("fd") is None:
            ensure_node_modules(self.stderr)
        return super().execute(*args, **options)

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        no_emulator: bool,
        workers: int = 1,
        fd: int | None = None,
        **options: Any,
    ) -> None:
        if fd is not None:
            become_worker()
            serve_daphne(["--fd", str(fd)])
            return
        if workers < 1:
            raise CommandError("--workers needs a number of processes, 1 or more.")
        if workers > 1:
            check_shared_state(workers)
            if ":" in host:
                # Twisted adopts an inherited descriptor as an IPv4 socket only.
                raise CommandError("--workers listens on an IPv4 address (e.g. 0.0.0.0), not an IPv6 one.")
        call_command("migrate", interactive=False, verbosity=0)
        # Evals left running by a server that is gone (its process no longer exists, or silent for
        # 30 s) are marked interrupted, their finished cells kept (playground/evals/README.md).
        from playground.evals.services import eval_interrupt_orphans

        if interrupted := eval_interrupt_orphans():
            self.stdout.write(f"{interrupted} eval(s) left running by a stopped server marked interrupted.")
        # Arena prompts left streaming by a server that is gone (its process no longer exists, or silent
        # for 30 s: playground/liveness.py) are marked interrupted, to be sent again from the stage.
        from playground.arena.services import arena_interrupt_orphans

        if interrupted := arena_interrupt_orphans():
            self.stdout.write(
                f"{interrupted} arena prompt(s) left streaming by a stopped server marked interrupted."
            )
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
            if workers > 1:
                self.serve_workers(host, port, workers)
            else:
                serve_daphne(["-b", host, "-p", str(port)])
        finally:
            if emulator is not None:
                stop_process(emulator)

    def serve_workers(self, host: str, port: int, workers: int) -> None:
        """Bind the socket, start ``workers`` daphne processes on it, and stop them all together.

        Ctrl-C reaches every process of the group (each worker stops itself; the emulator too); SIGTERM
        to this process alone is passed on to the workers. A worker that exits on its own stops the rest.
        """
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError as exc:
            listener.close()
            raise CommandError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from None
        listener.listen(1024)
        fd = listener.fileno()
        os.set_inheritable(fd, True)
        worker = [sys.executable, str(MANAGE_PY), "serve", "--fd", str(fd)]
        processes = [subprocess.Popen(worker, pass_fds=(fd,)) for _ in range(workers)]
        listener.close()  # the workers hold it now
        self.stdout.write(f"{workers} server processes: {', '.join(str(p.pid) for p in processes)}")
        stopping = False

        def terminate(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True
            stop_workers(processes, signal.SIGINT)

        previous = signal.signal(signal.SIGTERM, terminate)
        try:
            while all(p.poll() is None for p in processes):
                time.sleep(0.2)
            if not stopping:
                failed = next(p for p in processes if p.poll() is not None)
                self.stderr.write(
                    f"Server process {failed.pid} exited ({failed.returncode}): stopping the others."
                )
                stop_workers(processes, signal.SIGINT)
        except KeyboardInterrupt:
            stopping = True  # Ctrl-C went to the whole group: each worker is stopping already
        finally:
            signal.signal(signal.SIGTERM, previous)
            stop_workers(processes, None)
        if not stopping:
            raise CommandError("A server process exited on its own.")

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


def stop_workers(processes: list[subprocess.Popen[bytes]], first: int | None) -> None:
    """Send ``first`` to each worker still running (None: they have been told), then wait for them
    all, killing any that is still there after 10 s."""
    for process in processes:
        if first is not None and process.poll() is None:
            process.send_signal(first)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_shared_state(workers: int) -> None:
    """Several processes share sessions, runs and live watching only through PostgreSQL and Redis."""
    missing = []
    database = os.environ.get("DATABASE_URL", "")
    if not database or database.startswith("sqlite"):
        missing.append("DATABASE_URL (a PostgreSQL database)")
    if not os.environ.get("REDIS_URL"):
        missing.append("REDIS_URL (the Redis channel layer)")
    if missing:
        raise CommandError(
            f"--workers {workers} runs {workers} processes that share state through PostgreSQL and Redis: "
            f"set {' and '.join(missing)}, e.g. DATABASE_URL=postgres://user@127.0.0.1:5432/playground "
            "REDIS_URL=redis://127.0.0.1:6379/0 (README, Configuration)."
        )


def become_worker() -> None:
    """A process of ``serve --workers``: it stops with the process that started it, and on SIGINT.

    Started from a background job or a script, a process inherits SIGINT ignored, and Twisted then leaves
    it ignored: ``serve``'s SIGINT did not reach the workers, and when ``serve`` was killed in turn (the
    benchmark's stop does so after 10 s) they ran on, orphaned, still holding the port and the database.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1  # prctl(2): this signal when the parent exits
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
        if os.getppid() == 1:  # the parent was gone before the request took effect
            raise SystemExit(0)


def serve_daphne(where: list[str]) -> None:
    """Run daphne in this process on ``where`` (its -b/-p or -e arguments) until it is stopped."""
    from daphne.cli import CommandLineInterface

    freeze_startup_objects()
    CommandLineInterface().run([*where, "playground.asgi:application"])


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
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
