"""Cross-site websocket hijacking: both sockets accept only the site's own full origin (scheme, host and
port, from the Host header and the socket's scheme) or a trusted one, through the real ASGI application
(playground/origin.py). Channels' AllowedHostsOriginValidator compared host names only."""

from __future__ import annotations

from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from playground.asgi import application
from playground.origin import normalize_origin, origin_allowed

pytestmark = pytest.mark.django_db(transaction=True)
PATHS = ["/ws/chat/", "/ws/watch/"]


@pytest.fixture
def cookie(transactional_db: None) -> bytes:
    client = Client()
    client.force_login(get_user_model().objects.create_user("victim"))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def opens(
    path: str, cookie: bytes, *, origin: str | None, host: str | None, scheme: str = "ws"
) -> bool:
    headers = [(b"cookie", cookie)]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if host is not None:
        headers.append((b"host", host.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    communicator.scope["scheme"] = scheme
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://127.0.0.1:9999", "127.0.0.1:8000", "ws"),  # another port of the same host
        ("http://127.0.0.1", "127.0.0.1:8000", "ws"),  # the default port is another port
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "ws"),  # another scheme, same host and port
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "wss"),  # a plain page opening the TLS socket
        ("http://localhost:8000", "127.0.0.1:8000", "ws"),  # another allowed host name
        ("http://evil.example", "127.0.0.1:8000", "ws"),
        ("http://evil.example:8000", "evil.example:8000", "ws"),  # DNS rebinding: Host not allowed
        ("null", "127.0.0.1:8000", "ws"),  # sandboxed iframes, file: pages
        (None, "127.0.0.1:8000", "ws"),
        ("http://127.0.0.1:9999", None, "ws"),  # no Host header: only the default port
    ],
)
async def test_a_foreign_origin_is_refused_before_accept(
    path: str, cookie: bytes, origin: str | None, host: str | None, scheme: str
) -> None:
    assert not await opens(path, cookie, origin=origin, host=host, scheme=scheme)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws"),
        ("https://localhost", "localhost", "wss"),
        ("https://localhost:443", "localhost:443", "wss"),
        ("http://[::1]:8000", "[::1]:8000", "ws"),
    ],
)
async def test_the_sites_own_origin_is_accepted(
    path: str, cookie: bytes, origin: str, host: str, scheme: str
) -> None:
    assert await opens(path, cookie, origin=origin, host=host, scheme=scheme)


@pytest.mark.parametrize("path", PATHS)
async def test_a_trusted_origin_is_accepted(path: str, cookie: bytes, settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com", "https://*.corp.example"]
    host = "127.0.0.1:8000"
    assert await opens(path, cookie, origin="https://app.example.com", host=host)
    assert await opens(path, cookie, origin="https://eu.corp.example", host=host)
    assert not await opens(path, cookie, origin="http://app.example.com", host=host)
    assert not await opens(path, cookie, origin="https://app.example.com:8443", host=host)
    assert not await opens(path, cookie, origin="https://corp.example.evil", host=host)


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(settings: Any) -> None:
    scope = {
        "type": "websocket",
        "scheme": "ws",
        "headers": [
            (b"host", b"localhost"),
            (b"origin", b"https://localhost"),
            (b"x-forwarded-proto", b"https"),
        ],
    }
    assert not origin_allowed(scope)  # the header is ignored unless the proxy is declared
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert origin_allowed(scope)


def test_origins_are_compared_with_explicit_ports() -> None:
    assert normalize_origin("http://Example.COM") == ("http", "example.com", 80)
    assert normalize_origin("https://example.com:443") == ("https", "example.com", 443)
    assert normalize_origin("null") is None
    assert normalize_origin("ftp://example.com") is None
    assert normalize_origin("http://example.com:99999") is None
