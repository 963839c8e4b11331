"""``manage.py benchevals``: how long an eval of N rows takes on the emulator, and the server's CPU per row.

The emulator runs as its own process (so its CPU is not counted); the eval runs in this process exactly
as the server runs it (``playground.evals.runner.EvalRunner``: StreamRun per cell, runs and cells saved
to the configured database), at the given concurrency. It reports the wall time, cells per second, and
this process's CPU time (all its threads, the database's included) per row and per cell. The bench
user's eval, runs and test rows are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from playground.evals import services
from playground.evals.models import EvalCell
from playground.evals.runner import EvalRunner
from playground.models import personal_workspace_of
from proxy.client.client import close_shared_clients

MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Command(BaseCommand):
    help = "Time an eval of --rows rows on the emulator at --concurrency; report CPU per row."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rows", type=int, default=1000)
        parser.add_argument("--configs", type=int, default=1, help="Configurations (columns), 1 or 2.")
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument("--max-tokens", type=int, default=32)
        parser.add_argument(
            "--ttft-ms", type=float, default=250.0, help="The emulator's time to first token."
        )
        parser.add_argument("--tokens-per-second", type=float, default=60.0)

    def handle(self, *args: Any, **options: Any) -> None:
        port = _free_port()
        cells = options["rows"] * options["configs"]
        emulator = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "emulator",
                "--port",
                str(port),
                "--ttft-ms",
                str(options["ttft_ms"]),
                "--tokens-per-second",
                str(options["tokens_per_second"]),
                "--stream-history",
                str(cells + 10),
                "--request-history",
                str(cells + 10),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    httpx.get(f"{base}/_emulator/state", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            settings.FIREWORKS_BASE_URL = f"{base}/inference/v1"
            settings.FIREWORKS_API_KEY = ""
            self._bench(options, base)
        finally:
            emulator.terminate()
            emulator.wait(5)

    def _bench(self, options: Any, base: str) -> None:
        user, _ = get_user_model().objects.get_or_create(username="bench-evals")
        workspace = personal_workspace_of(user.pk)
        rows = [
            {"values": {"question": f"question {i}"}, "expected": "zorble"} for i in range(options["rows"])
        ]
        configs = [
            {
                "label": f"c{i}",
                "model": MODEL,
                "params": {"max_tokens": options["max_tokens"], "temperature": i / 2},
            }
            for i in range(options["configs"])
        ]
        eval_run = services.eval_create(
            user=user,
            workspace_id=workspace.pk,
            name="bench",
            variables=["question"],
            rows=rows,
            prompts=[
                {
                    "label": "p",
                    "start": {"messages": [{"role": "user", "content": "Tell me about {{question}}"}]},
                }
            ],
            configs=configs,
            scorers=[{"kind": "contains", "text": "emulator"}, {"kind": "latency", "ms": 5000}],
            concurrency=options["concurrency"],
        )

        async def run() -> tuple[str, float, float]:
            runner = await EvalRunner.claim(eval_id=eval_run.pk, user=user)
            cpu, wall = time.process_time(), time.perf_counter()
            status = await runner.run()
            result = (status, time.perf_counter() - wall, time.process_time() - cpu)
            await close_shared_clients()
            return result

        status, wall, cpu = asyncio.run(run())
        done = EvalCell.objects.filter(eval_run=eval_run, status="done").count()
        received = len(
            [
                r
                for r in httpx.get(f"{base}/_emulator/state").json()["requests"]
                if r["path"].endswith("completions")
            ]
        )
        total = options["rows"] * options["configs"]
        self.stdout.write(
            f"eval of {options['rows']} rows x {options['configs']} configuration(s) = {total} cells, "
            f"concurrency {options['concurrency']}, emulator ttft {options['ttft_ms']:g} ms at "
            f"{options['tokens_per_second']:g} tokens/s, max_tokens {options['max_tokens']}, "
            f"database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}, pid {os.getpid()}\n"
            f"  status {status}; cells done {done}/{total}; requests the emulator received {received}\n"
            f"  wall {wall:.2f} s ({total / wall:.1f} cells/s)\n"
            f"  server CPU {cpu:.2f} s: {cpu / options['rows'] * 1000:.2f} ms per row, "
            f"{cpu / total * 1000:.2f} ms per cell"
        )
        eval_run.conversation.delete()  # its runs, messages, the eval and its cells go with it
