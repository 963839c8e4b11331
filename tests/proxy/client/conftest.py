"""Fixtures of the upstream client's tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from proxy.client.client import UpstreamClient
from tests.proxy.client.test_client import BASE, KEY, stream_response


@pytest.fixture
async def mock() -> Any:
    made: list[UpstreamClient] = []

    def make(raw: bytes, headers: dict[str, str] | None = None) -> UpstreamClient:
        client = UpstreamClient(
            base_url=BASE, api_key=KEY, transport=httpx.MockTransport(stream_response(raw, headers))
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()
