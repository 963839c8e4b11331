"""Settings for the servers the tests start as subprocesses (daphne for the browser and scale-out tests).

The project's settings, with two changes: a fast password hasher, and, under pytest-xdist, static files
collected into a folder per test process. Every browser test signs up a new
user, and the default PBKDF2 hasher (a million iterations) costs the server about half a second of CPU
per sign-up or sign-in; no test is about the hasher's cost. The suite's own process does the same
(tests/conftest.py).
"""

import os

from playground.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Each test process's servers collect the static files into a folder of their own: two processes'
# `serve` writing (and compressing) the same files at once made a page's file vanish or its server exit.
if _worker := os.environ.get("PYTEST_XDIST_WORKER"):
    STATIC_ROOT = BASE_DIR / f"staticfiles-{_worker}"  # noqa: F405
