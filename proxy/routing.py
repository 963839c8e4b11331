"""Websocket routes (playground/asgi.py wraps them with the origin check and the session login)."""

from django.urls import path

from proxy.arena import ArenaConsumer
from proxy.consumers import ChatConsumer
from proxy.watch import WatchConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
    path("ws/watch/", WatchConsumer.as_asgi()),
    path("ws/arena/", ArenaConsumer.as_asgi()),
]
