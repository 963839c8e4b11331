"""The websockets' origin check: a socket is accepted only from the site's own origin (scheme, host and
port) or from an origin listed in ``DJANGO_CSRF_TRUSTED_ORIGINS``.

Channels' ``AllowedHostsOriginValidator`` compares host names only, so a page served from any other port
or scheme of the same host (``http://127.0.0.1:9999`` against a playground on ``:8000``) could open a
signed-in user's socket with their session cookie and run or watch as them (cross-site websocket
hijacking). Here the ``Origin`` header must equal the origin the socket itself was opened on: the
``Host`` header (which must be one of ``ALLOWED_HOSTS``, so a rebound DNS name is refused too) with the
scheme of the socket (``ws`` → ``http``, ``wss`` → ``https``; ``https`` also when
``SECURE_PROXY_SSL_HEADER`` says a TLS proxy in front received it). Refused sockets are closed before
they are accepted. Settings are read per connection.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in scope.get("headers") or []:
        out.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def normalize_origin(value: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin (or ``scheme://host[:port]`` URL), the port made explicit;
    None when it is not an http(s) origin (``null``, garbage)."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or DEFAULT_PORTS[scheme]


def _trusted(origin: tuple[str, str, int]) -> bool:
    """Whether the origin is one of CSRF_TRUSTED_ORIGINS (``https://*.example.com`` covers subdomains)."""
    scheme, host, port = origin
    for entry in getattr(settings, "CSRF_TRUSTED_ORIGINS", []):
        wildcard = "://*." in entry
        trusted = normalize_origin(entry.replace("://*.", "://", 1) if wildcard else entry)
        if trusted is None or trusted[0] != scheme or trusted[2] != port:
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def _socket_scheme(scope: dict[str, Any], headers: dict[str, str]) -> str:
    """The scheme of the page that may open this socket: https for wss (or a TLS proxy's header)."""
    if scope.get("scheme") == "wss":
        return "https"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, value = proxy
        name = name.lower().removeprefix("http_").replace("_", "-")
        if headers.get(name, "").split(",")[0].strip() == value:
            return "https"
    return "http"


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether a websocket's handshake comes from a page of this site (or of a trusted origin)."""
    headers = _headers(scope)
    origin = normalize_origin(headers.get("origin", ""))
    if origin is None:
        return False
    scheme = _socket_scheme(scope, headers)
    host_header = headers.get("host")
    if host_header is not None:
        domain, _port = split_domain_port(host_header)
        if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
            return False  # Django answers such a Host with 400 on HTTP; a rebound DNS name lands here
        own = normalize_origin(f"{scheme}://{host_header}")
    elif scope.get("server"):
        # No Host header (HTTP/1.1 requires one, so no browser): the address the server listens on.
        server_host, server_port = scope["server"][0], scope["server"][1]
        if not validate_host(str(server_host).lower(), settings.ALLOWED_HOSTS):
            return False
        own = (scheme, str(server_host).lower(), int(server_port or DEFAULT_PORTS[scheme]))
    else:
        # In-process callers (tests) give neither: an allowed host on the scheme's default port.
        own = (scheme, origin[1], DEFAULT_PORTS[scheme])
        if not validate_host(origin[1], settings.ALLOWED_HOSTS):
            return False
    return origin == own or _trusted(origin)


class OriginValidator:
    """ASGI middleware: websockets whose ``Origin`` is not the site's own (or trusted) are closed
    before they are accepted; other connection types pass through."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
