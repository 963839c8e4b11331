"""Encryption at rest for secrets the database holds (a workspace's Fireworks API key).

Fernet (AES-128-CBC + HMAC-SHA256) with a key from ``PLAYGROUND_ENCRYPTION_KEY`` (a Fernet key, or any
passphrase, which is stretched), else derived from ``DJANGO_SECRET_KEY``. Settings are read when needed.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    secret = getattr(settings, "PLAYGROUND_ENCRYPTION_KEY", "") or settings.SECRET_KEY
    try:
        return Fernet(secret.encode())
    except ValueError:
        # Not a Fernet key itself: derive one (a separate purpose string, so it is not the signing key).
        digest = hashlib.sha256(b"playground.crypto:" + secret.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(text: str) -> str:
    """The text encrypted, as an ASCII token."""
    return _fernet().encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The text of a token made by ``encrypt``; raises ValueError when the key changed or it was altered."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise ValueError("The stored secret cannot be decrypted with the current encryption key.") from None
