"""The Content-Security-Policy header (Django 5.2 has none built in).

Only the app's own scripts and styles: no inline script or event handler attribute, no ``eval``, no
plugins, no framing (``frame-ancestors 'none'``), ``<base>`` only to this origin, and connections
(fetch, websockets) to this origin only; ``ws:``/``wss:`` of the request's own host are listed as well,
for browsers whose ``'self'`` does not cover websockets. ``<script type="application/json">`` data blocks
do not execute, so the CSP does not apply to them.

No style attributes either (``style-src-attr 'none'``): the page scripts set styles through the CSSOM
(``node.style``, ``el(..., {style})`` in static/playground/core/dom.js), which the policy allows.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


def content_security_policy(request: HttpRequest) -> str:
    """The policy for a response to ``request``."""
    host = request.get_host()
    sockets = f"wss://{host}" if request.is_secure() else f"ws://{host} wss://{host}"
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "script-src-attr 'none'",
        "style-src 'self'",
        "style-src-elem 'self'",
        "style-src-attr 'none'",
        "img-src 'self' data:",
        "font-src 'self'",
        f"connect-src 'self' {sockets}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


class ContentSecurityPolicyMiddleware:
    """Adds the Content-Security-Policy header to every response that has none yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(request)
        return response
