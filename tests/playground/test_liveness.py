"""playground/liveness.py: whether the process running long work is gone (no runner, a silent heartbeat,
or a process of this machine that exited), the one definition the arena (and later evals) use."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from django.utils import timezone

from playground import liveness

HOST = liveness.RUNNER_ID.split(":")[0]


def exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_this_process_is_alive_but_not_an_earlier_start_of_it() -> None:
    now = timezone.now()
    assert not liveness.is_gone(liveness.RUNNER_ID, now, now=now)
    pid = liveness.RUNNER_ID.split(":")[1]
    assert liveness.is_gone(f"{HOST}:{pid}:earlier0", now, now=now)


def test_an_exited_process_of_this_machine_is_gone_at_once() -> None:
    now = timezone.now()
    assert liveness.is_gone(f"{HOST}:{exited_pid()}:abcd1234", now, now=now)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"]) as running:
        try:
            assert not liveness.is_gone(f"{HOST}:{running.pid}:abcd1234", now, now=now)
        finally:
            running.kill()


def test_another_machines_process_is_gone_only_once_its_heartbeat_is_stale() -> None:
    now = timezone.now()
    stale = now - timedelta(seconds=liveness.STALE_SECONDS + 1)
    fresh = now - timedelta(seconds=liveness.STALE_SECONDS - 1)
    assert not liveness.is_gone("other-host:1:x", fresh, now=now)
    assert liveness.is_gone("other-host:1:x", stale, now=now)
    assert liveness.is_gone("other-host:1:x", None, now=now)
    assert liveness.is_gone("", now, now=now)
