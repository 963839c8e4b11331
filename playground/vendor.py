"""The front-end libraries: installed by npm from package.json and package-lock.json into node_modules/,
never copied into the repository, and served as static files under ``vendor/`` by ``NodeModulesFinder``.

Only the ES-module builds the pages import are exposed (plus the source maps their last line names,
which the manifest storage checks), so ``collectstatic`` copies a few files, not node_modules.
``ensure_node_modules`` runs ``npm ci`` when node_modules is missing or older than the lockfile; ``manage.py
serve``, ``.ci/run`` and the test suite call it before collecting the static files.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Warning
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
LOCKFILE = ROOT / "package-lock.json"
# Written after a successful `npm ci`: the lockfile's digest, so a changed lockfile means a stale install.
STAMP = NODE_MODULES / ".playground-lock-sha256"

# Static path under vendor/ → file under node_modules/.
FILES: dict[str, str] = {
    "marked/marked.esm.js": "marked/lib/marked.esm.js",
    "marked/marked.esm.js.map": "marked/lib/marked.esm.js.map",
    "dompurify/purify.es.mjs": "dompurify/dist/purify.es.mjs",
    "dompurify/purify.es.mjs.map": "dompurify/dist/purify.es.mjs.map",
    "highlight/highlight.min.js": "@highlightjs/cdn-assets/es/highlight.min.js",
    "katex/katex.mjs": "katex/dist/katex.mjs",
    **{
        f"json-schema/{name}": f"@cfworker/json-schema/dist/esm/{name}"
        for module in (
            "index",
            "deep-compare-strict",
            "dereference",
            "format",
            "pointer",
            "types",
            "ucs2-length",
            "validate",
            "validator",
        )
        for name in (f"{module}.js", f"{module}.js.map")
    },
}
PREFIX = "vendor"


def lock_digest() -> str:
    """The SHA-256 of package-lock.json."""
    return hashlib.sha256(LOCKFILE.read_bytes()).hexdigest()


def node_modules_current() -> bool:
    """Whether node_modules was installed by `npm ci` from today's lockfile and holds every served file."""
    return (
        STAMP.is_file()
        and STAMP.read_text().strip() == lock_digest()
        and all((NODE_MODULES / source).is_file() for source in FILES.values())
    )


def ensure_node_modules(out: Any = sys.stderr) -> None:
    """Run `npm ci` when node_modules is missing or stale; a clear error when npm is not installed."""
    if node_modules_current():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ImproperlyConfigured(
            "The front-end libraries are not installed and npm is missing: install Node.js 20 or newer "
            f"(with npm), then run `npm ci` in {ROOT}."
        )
    print("Installing the front-end libraries (npm ci)…", file=out)
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)
    STAMP.write_text(lock_digest() + "\n")


class NodeModulesFinder(BaseFinder):
    """Finds the files of ``FILES`` under ``vendor/`` in node_modules (the app's own stay in static/)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.storage = _RenamingStorage(location=str(NODE_MODULES))
        self.storage.prefix = PREFIX  # type: ignore[attr-defined]  # collectstatic reads it

    def _missing(self) -> list[str]:
        return [source for source in FILES.values() if not (NODE_MODULES / source).is_file()]

    def check(self, **kwargs: Any) -> list[Warning]:
        """A warning naming the command when the libraries are not installed (not an error: ``serve``
        installs them itself, after the checks, on a fresh checkout)."""
        missing = self._missing()
        if not missing:
            return []
        return [Warning(f"node_modules lacks {missing[0]}: run `npm ci` in {ROOT}.", id="playground.W001")]

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        """The file in node_modules for a static path ``vendor/…``, if it is one of ours."""
        name = path.removeprefix(f"{PREFIX}/") if path.startswith(f"{PREFIX}/") else None
        source = FILES.get(name) if name else None
        if source is None or not (NODE_MODULES / source).is_file():
            return [] if find_all or kwargs.get("all") else ""
        found = str(NODE_MODULES / source)
        return [found] if find_all or kwargs.get("all") else found

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        """Every served file, as (path inside the storage, storage); a clear error when one is missing."""
        missing = self._missing()
        if missing:
            raise ImproperlyConfigured(f"node_modules lacks {missing[0]}: run `npm ci` in {ROOT}.")
        for name in FILES:
            yield name, self.storage


class _RenamingStorage(FileSystemStorage):
    """node_modules seen through ``FILES``: ``vendor/<name>`` opens the file it maps to."""

    def path(self, name: str) -> str:
        return super().path(FILES.get(name, name))
