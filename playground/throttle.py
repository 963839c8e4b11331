"""Sign-in and sign-up throttling, in Django's cache (the ``throttle`` alias: local memory, or Redis when
``REDIS_URL`` is set so every process of a deployment counts together).

Fixed windows: failed sign-ins are counted per account (the username typed, any case) and per client
address; sign-ups per client address. Once a count reaches its limit, the next attempt is refused with
HTTP 429 and "Too many attempts; try again in N seconds" until the window ends, even with the right
password. A successful sign-in clears its account's count. The guard is also an authentication backend
(first in ``AUTHENTICATION_BACKENDS``), so the admin's login is refused the same way.

Django's cache was chosen over django-axes: axes brings its own models, middleware and lockout page and
does not throttle sign-ups; this is a few cache counters. The client address is ``REMOTE_ADDR``: behind
a reverse proxy, have the server take it from the proxy's headers (daphne ``--proxy-headers``), or
every client shares the proxy's address and its limit.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

CACHE_ALIAS = "throttle"


@dataclass(frozen=True)
class Rule:
    """At most ``limit`` events per ``window`` seconds for one identity (an account or an address)."""

    name: str
    limit: int
    window: int


def login_rules() -> tuple[Rule, Rule]:
    """Failed sign-ins, per account and per client address (from settings, read on each call)."""
    window = settings.PLAYGROUND_LOGIN_WINDOW
    return (
        Rule("login-account", settings.PLAYGROUND_LOGIN_FAILURES_PER_ACCOUNT, window),
        Rule("login-address", settings.PLAYGROUND_LOGIN_FAILURES_PER_ADDRESS, window),
    )


def signup_rule() -> Rule:
    """Sign-up attempts per client address."""
    return Rule("signup-address", settings.PLAYGROUND_SIGNUPS_PER_ADDRESS, settings.PLAYGROUND_SIGNUP_WINDOW)


def _cache() -> Any:
    return caches[CACHE_ALIAS]


def _key(rule: Rule, identity: str) -> str:
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"throttle:{rule.name}:{digest}"


def wait_seconds(rule: Rule, identity: str) -> int:
    """Seconds until ``identity`` may try again (0: it may now)."""
    cache = _cache()
    key = _key(rule, identity)
    if rule.limit <= 0 or (cache.get(key) or 0) < rule.limit:
        return 0
    ends = cache.get(f"{key}:ends") or time.time() + rule.window
    return max(1, math.ceil(ends - time.time()))


def hit(rule: Rule, identity: str) -> None:
    """Count one event of ``identity``; the first of a window starts it."""
    cache = _cache()
    key = _key(rule, identity)
    cache.add(f"{key}:ends", time.time() + rule.window, rule.window)
    cache.add(key, 0, rule.window)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, rule.window)


def reset(rule: Rule, identity: str) -> None:
    key = _key(rule, identity)
    _cache().delete_many([key, f"{key}:ends"])


def client_address(request: HttpRequest | None) -> str:
    return str((request.META.get("REMOTE_ADDR") if request is not None else None) or "unknown")


def account_of(username: Any) -> str:
    return str(username or "").strip().casefold()


def message(seconds: int) -> str:
    return f"Too many attempts; try again in {seconds} second{'s' if seconds != 1 else ''}."


def login_wait(request: HttpRequest | None, username: Any) -> int:
    """Seconds before this address may try to sign in to this account again (0: now)."""
    account, address = login_rules()
    return max(wait_seconds(account, account_of(username)), wait_seconds(address, client_address(request)))


def login_failed(request: HttpRequest | None, username: Any) -> None:
    account, address = login_rules()
    if account_of(username):
        hit(account, account_of(username))
    hit(address, client_address(request))


def login_succeeded(request: HttpRequest | None, username: Any) -> None:
    reset(login_rules()[0], account_of(username))


def signup_wait(request: HttpRequest) -> int:
    return wait_seconds(signup_rule(), client_address(request))


def signup_attempted(request: HttpRequest) -> None:
    hit(signup_rule(), client_address(request))


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """``user_login_failed``: count the failure (the playground's sign-in, the admin's, any)."""
    login_failed(request, credentials.get("username"))


def on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: a sign-in with the password clears the account's failures."""
    login_succeeded(request, user.get_username())


class ThrottleBackend(ModelBackend):
    """First of ``AUTHENTICATION_BACKENDS``: refuses (PermissionDenied, which stops ``authenticate``) a
    throttled account or address, else passes to the next backend, which checks the password. It reads
    sessions as ModelBackend does, so ``force_login`` and existing sessions work."""

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get(get_user_model_username_field())
        if login_wait(request, username):
            raise PermissionDenied(message(login_wait(request, username)))
        return None


def get_user_model_username_field() -> str:
    from django.contrib.auth import get_user_model

    return str(get_user_model().USERNAME_FIELD)
