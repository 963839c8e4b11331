"""Throwaway PostgreSQL databases and Redis key prefixes for the benchmarks (no Django, no Channels).

``manage.py bench --workers 2`` runs its server processes on them; ``manage.py benchlist
--database-url`` seeds one. Each is made for one run and removed after it, so no real data is touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

DEFAULT_POSTGRESQL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


class BackendUnavailable(RuntimeError):
    """PostgreSQL or Redis could not be reached (the message says which and where)."""


@contextmanager
def throwaway_postgresql(server_url: str, name: str) -> Iterator[str]:
    """A new database ``name`` on the PostgreSQL server at ``server_url``; yields its URL; drops it after."""
    import psycopg

    parts = urlsplit(server_url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise BackendUnavailable(f"{server_url!r} is not a postgres:// URL.")
    where: dict[str, Any] = {"host": parts.hostname or "127.0.0.1", "port": parts.port or 5432}
    if parts.username:
        where["user"] = parts.username
    if parts.password:
        where["password"] = parts.password
    try:
        admin = psycopg.connect(**where, dbname=parts.path.lstrip("/") or "postgres", autocommit=True)
    except psycopg.Error as exc:
        raise BackendUnavailable(f"PostgreSQL at {where['host']}:{where['port']}: {exc}") from None
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield parts._replace(path=f"/{name}").geturl()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_redis_prefix(redis_url: str, prefix: str) -> Iterator[str]:
    """Check Redis answers at ``redis_url``; yield ``prefix``; delete every key under it after."""
    import redis

    client = redis.Redis.from_url(redis_url, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise BackendUnavailable(f"Redis at {redis_url}: {exc}") from None
    try:
        yield prefix
    finally:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
        client.close()


def run_name(kind: str) -> str:
    """A name for this run's database or prefix: the kind and this process's id."""
    return f"{kind}_{os.getpid()}"
