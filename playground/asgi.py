"""ASGI entry point: HTTP through Django, websockets through the proxy's routes (login and origin checked:
the full origin, scheme, host and port, must be the site's own or a trusted one, playground/origin.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
django_asgi_app = get_asgi_application()

from typing import Any  # noqa: E402

from channels.auth import AuthMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware, InstanceSessionWrapper  # noqa: E402

from playground.origin import OriginValidator  # noqa: E402
from playground.wslabels import use_plain_labels  # noqa: E402
from proxy.routing import websocket_urlpatterns  # noqa: E402

use_plain_labels()  # daphne's websocket layer formats no coloured debug label per frame


class SocketSessionMiddleware:
    """Channels' ``SessionMiddleware`` for the sockets, which read the session and never write it: the
    session is resolved once, and the socket sends straight to the server. Channels' wrapper checked the
    session on every frame sent (a lazy object's lookups, ~1.5 % of the server's CPU while streaming) to
    save it on HTTP responses, which a socket never sends."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginValidator(
            CookieMiddleware(SocketSessionMiddleware(AuthMiddleware(URLRouter(websocket_urlpatterns))))
        ),
    }
)
