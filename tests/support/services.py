"""Finding the real PostgreSQL and Redis on this machine; in CI (CI=true) their absence is a failure."""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import uuid
from pathlib import Path
from typing import TextIO

import pytest

PG_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_HELD_LOCKS: list[TextIO] = []


def _claim_redis_database() -> int:
    """A Redis database that no other test process on this machine holds, kept until this process
    exits: the end-to-end tests flush theirs, and two runs at once (`make test` runs two pytest
    workers; a developer's run may meet another) would otherwise empty each other's queues."""
    for database in range(15, 0, -1):
        handle = open(Path(tempfile.gettempdir()) / f"hub-test-redis-{database}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _HELD_LOCKS.append(handle)
        return database
    raise RuntimeError("every Redis test database (1-15) is held by another test process on this machine")


REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL") or f"redis://127.0.0.1:6379/{_claim_redis_database()}"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _host_port(url: str, default: int) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default


def postgres_reachable() -> bool:
    if not _port_open(*_host_port(PG_URL, 5432)):
        return False
    import psycopg

    try:
        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def redis_reachable() -> bool:
    if not _port_open(*_host_port(REDIS_URL, 6379)):
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def require(service: str, available: bool) -> None:
    """Skip without the service on a developer machine; fail loudly in CI."""
    if available:
        return
    message = f"{service} is not reachable ({PG_URL if service == 'PostgreSQL' else REDIS_URL})"
    if in_ci():
        pytest.fail(f"{message} — CI=true requires it (see README, Development)", pytrace=False)
    pytest.skip(message)


def new_pg_schema_url() -> str:
    """A fresh schema in the test database, so runs never see each other's rows."""
    import psycopg

    schema = f"hubtest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    # No wait for the disk at each commit (synchronous_commit off): what one connection commits is
    # seen by the others exactly as before, only a crash of PostgreSQL could lose the last commits,
    # and a test database has nothing to keep. Half the suite runs on PostgreSQL and commits often.
    return f"{PG_URL}?options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"


def schema_of(url: str) -> str:
    return url.split("search_path%3D", 1)[1].split("%20", 1)[0]


def drop_pg_schema(url: str) -> None:
    import psycopg

    schema = schema_of(url)
    with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
