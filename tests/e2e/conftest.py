"""The production path: real Celery worker processes, Redis as broker, PostgreSQL, the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask import Flask

from hub.app import create_app
from hub.config import Settings
from hub.migrate import upgrade
from hub.runtime import Runtime
from sandbox import Sandbox, SandboxClient, hub_settings
from tests.conftest import _empty
from tests.support.live import LiveServer, free_port
from tests.support.services import REDIS_URL, redis_reachable, require
from tests.support.worker import WorkerProcess, stop_all


@pytest.fixture
def stack_settings(postgres_url: str, sandbox: Sandbox, tmp_path: Path) -> Settings:
    require("Redis", redis_reachable())
    redis.Redis.from_url(REDIS_URL).flushdb()
    _empty(postgres_url)
    return Settings(
        **hub_settings(sandbox.http_url, sandbox.smtp_port),
        database_url=postgres_url, broker_url=REDIS_URL, data_dir=str(tmp_path),
        public_url=f"http://127.0.0.1:{free_port()}", provider_timeout=5.0, stale_after_seconds=3, lease_seconds=3,
        rate_sms=1000, rate_voice=1000, rate_email=1000, rate_line=100, rate_x=10,
        relay_min_interval_seconds=1,  # the relay stack test runs its chains seconds apart
        quiet_hours="",  # tests run at any hour: the quiet window is on only where a test sets it
    ).resolved()


@pytest.fixture
def stack_app(stack_settings: Settings, sandbox_client: SandboxClient) -> Iterator[Flask]:
    app = create_app(stack_settings)
    port = int(stack_settings.public_url.rsplit(":", 1)[1])
    server = LiveServer(app, port).start()
    sandbox_client.set_line_webhook_url(f"{server.url}/callbacks/line/webhook")
    with app.app_context():
        yield app
    server.stop()


@pytest.fixture
def stack_runtime(stack_app: Flask) -> Runtime:
    rt: Runtime = stack_app.extensions["hub"]
    return rt


def _workers(settings: Settings, tmp_path: Path) -> Iterator[type[WorkerProcess]]:
    started: list[WorkerProcess] = []

    class Factory(WorkerProcess):
        def __init__(self, concurrency: int = 2, beat: bool = False) -> None:
            super().__init__(settings, tmp_path / f"worker{len(started)}.log", concurrency, beat)
            started.append(self)

    yield Factory
    stop_all(started)


@pytest.fixture
def worker_factory(stack_settings: Settings, tmp_path: Path) -> Iterator[type[WorkerProcess]]:
    yield from _workers(stack_settings, tmp_path)


@pytest.fixture(params=["postgres+redis", "sqlite+filesystem"])
def any_stack_settings(request: pytest.FixtureRequest, sandbox: Sandbox, tmp_path: Path) -> Settings:
    """Production's PostgreSQL + Redis, or the embedded default (SQLite + file broker), real workers both."""
    if request.param == "postgres+redis":
        base: Settings = request.getfixturevalue("stack_settings")
    else:
        database_url = f"sqlite:///{tmp_path / 'hub.db'}"
        upgrade(database_url)
        base = Settings(
            **hub_settings(sandbox.http_url, sandbox.smtp_port),
            database_url=database_url, data_dir=str(tmp_path), public_url=f"http://127.0.0.1:{free_port()}",
            stale_after_seconds=3, lease_seconds=3, quiet_hours="",
        ).resolved()
    # Backoff from 0.5 s instead of 2 s: a storm's fifth attempt comes after ≈ 7 s instead of ≈ 30 s.
    return replace(base, provider_timeout=1.0, check_after_seconds=1.0, sweep_interval_seconds=1.0,
                   retry_base_seconds=0.5,
                   rate_sms=1000, rate_voice=1000, rate_email=1000, rate_line=100, rate_x=10)


@pytest.fixture
def any_stack_runtime(any_stack_settings: Settings, sandbox_client: SandboxClient) -> Iterator[Runtime]:
    app = create_app(any_stack_settings)
    port = int(any_stack_settings.public_url.rsplit(":", 1)[1])
    server = LiveServer(app, port).start()
    with app.app_context():
        yield app.extensions["hub"]
    server.stop()


@pytest.fixture
def any_worker_factory(any_stack_settings: Settings, tmp_path: Path) -> Iterator[type[WorkerProcess]]:
    yield from _workers(any_stack_settings, tmp_path)
