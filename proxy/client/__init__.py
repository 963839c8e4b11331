"""The upstream client: Fireworks or any OpenAI-compatible server, as plain events.

No Django, no Channels: ``client.py`` (httpx), ``transport.py``, ``sse.py``, ``chunks.py``,
``responses.py``, ``events.py`` and ``errors.py`` (the ``UpstreamError`` family and its wording).
"""
