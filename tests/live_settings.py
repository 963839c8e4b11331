"""Settings for the servers the tests start as subprocesses (daphne for the browser and scale-out tests).

The project's settings, with one change: a fast password hasher. Every browser test signs up a new
user, and the default PBKDF2 hasher (a million iterations) costs the server about half a second of CPU
per sign-up or sign-in; no test is about the hasher's cost. The suite's own process does the same
(tests/conftest.py).
"""

from playground.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
