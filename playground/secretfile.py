"""The local secret: generated on first run when ``DJANGO_SECRET_KEY`` is unset, kept outside the
repository in a file only its owner can read, and reused on every later run.

Django signs sessions with ``SECRET_KEY`` and ``playground/crypto.py`` derives the key that encrypts
workspaces' API keys from it (unless ``PLAYGROUND_ENCRYPTION_KEY`` is set): a default written in the
source would let anyone with the source forge sessions and decrypt a copied database. Standard library
only: settings import this before Django is configured.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

APP_DIR_NAME = "fireworks-playground"


def default_secret_file() -> Path:
    """``$XDG_DATA_HOME/fireworks-playground/secret-key`` (``~/.local/share`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR_NAME / "secret-key"


def local_secret(path: Path) -> tuple[str, bool]:
    """The secret kept in ``path`` and whether this call created it.

    Created atomically with mode 0600 (its folder 0700 when made here): two processes starting at once
    both end up with the first one's secret, and no process reads a half-written file.
    """
    path = path.expanduser()
    with contextlib.suppress(FileNotFoundError):
        existing = path.read_text(encoding="ascii").strip()
        if existing:
            return existing, False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(50)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if another process got there first: use theirs
        except FileExistsError:
            return path.read_text(encoding="ascii").strip(), False
    finally:
        temporary.unlink(missing_ok=True)
    return secret, True
