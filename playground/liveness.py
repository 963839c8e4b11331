"""Which server process is running a piece of long work, and whether it still is: the one definition
shared by every kind of work that outlives a request (an arena's round, an eval run). The work stores
``RUNNER_ID`` and refreshes a heartbeat every ``HEARTBEAT_SECONDS``; on the next start of a server, or
when its page is opened, work whose runner ``is_gone`` is marked interrupted by its own service, its
finished parts kept."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from django.utils import timezone

HEARTBEAT_SECONDS = 5
# Work whose process has not said it is alive for this long is taken for gone (another machine's
# process can only be judged by this).
STALE_SECONDS = 30
# This process: host, process id, and a random id for this start (a restarted server may get the pid).
RUNNER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def process_alive(runner: str) -> bool:
    """False when ``runner`` is a process of this machine that no longer exists (or this process's
    earlier start); True when it exists or lives on another machine (only its heartbeat tells)."""
    host, _, rest = runner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        return runner == RUNNER_ID
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_gone(runner: str, heartbeat_at: datetime | None, *, now: datetime | None = None) -> bool:
    """Whether the work's process is gone: none recorded, silent for STALE_SECONDS, or no longer running."""
    if not runner or heartbeat_at is None:
        return True
    if heartbeat_at < (now or timezone.now()) - timedelta(seconds=STALE_SECONDS):
        return True
    return not process_alive(runner)
