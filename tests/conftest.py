"""Shared fixtures: the database (SQLite always, PostgreSQL when reachable), the sandbox, the app."""

from __future__ import annotations

from collections.abc import Iterator

import argon2
import pytest
from flask import Flask
from sqlalchemy import text

from hub.accounts import passwords
from hub.app import create_app
from hub.config import Settings
from hub.db import dispose_engines, get_engine
from hub.migrate import upgrade
from hub.runtime import Runtime
from hub.runtime.leases import release_all
from sandbox import Sandbox, SandboxClient, hub_settings
from tests.support.live import LiveServer, free_port
from tests.support.routing import share_compiled_url_builders
from tests.support.services import drop_pg_schema, new_pg_schema_url, postgres_reachable, require

# argon2 is slow on purpose (about 0.2 s a password here); hundreds of tests sign in, and none is
# about the hash's cost. The production parameters keep their own tests
# (tests/accounts/test_passwords.py, the rehash at login in tests/accounts/test_login.py).
PRODUCTION_HASHER = passwords.HASHER
passwords.HASHER = argon2.PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
share_compiled_url_builders()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` first (stable otherwise): with two workers, the longest test started
    last would have one worker running it alone while the other has nothing left to do."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(autouse=True)
def _no_lease_outlives_its_test() -> Iterator[None]:
    """An app that claimed work renews its worker lease from a thread until told to stop. Stopped
    after each test: otherwise a process running a thousand tests keeps a thousand renewers
    writing to the test databases, each slowing every later test a little."""
    yield
    release_all()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(callback_delay=0.0) as sb:
        yield sb


@pytest.fixture
def sandbox_client(sandbox: Sandbox) -> SandboxClient:
    client = SandboxClient(sandbox.http_url)
    client.clear()
    return client


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    require("PostgreSQL", postgres_reachable())
    url = new_pg_schema_url()
    upgrade(url)
    yield url
    release_all()
    dispose_engines()
    drop_pg_schema(url)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test using this runs twice: on the embedded default and on the real PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    _empty(url)
    yield url


def _empty(url: str) -> None:
    """Every table empty and every id counting from 1 again, as after a fresh migration.

    Only the tables a test wrote to are emptied, and by DELETE: on PostgreSQL a TRUNCATE of all
    42 tables gives each a new file (about 0.3 s per test, minutes over the suite), a DELETE of the
    few small tables a test used takes milliseconds.
    """
    from hub.models import Base

    engine = get_engine(url)
    tables = Base.metadata.sorted_tables
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # The audit log refuses deletes (its append-only trigger); tests start empty all the same.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        probe = " UNION ALL ".join(
            f'SELECT {i} FROM (SELECT 1 FROM "{t.name}" LIMIT 1) AS probe{i}' for i, t in enumerate(tables))
        used = {row[0] for row in conn.execute(text(probe))}
        for i in sorted(used, reverse=True):  # those referring to others first
            conn.execute(tables[i].delete())
        if engine.dialect.name == "postgresql":  # SQLite's rowids start again from an empty table
            conn.execute(text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'S' AND n.nspname = current_schema()"))


@pytest.fixture
def live_port() -> int:
    return free_port()


@pytest.fixture
def settings(database_url: str, sandbox: Sandbox, live_port: int, tmp_path: object) -> Settings:
    return Settings(
        **hub_settings(sandbox.http_url, sandbox.smtp_port),
        database_url=database_url, tasks_eager=True, data_dir=str(tmp_path),
        public_url=f"http://127.0.0.1:{live_port}", provider_timeout=3.0, check_after_seconds=0.5,
        rate_sms=0, rate_voice=0, rate_email=0, rate_line=0, rate_x=0,
        quiet_hours="",  # tests run at any hour: the quiet window is on only where a test sets it
    ).resolved()


@pytest.fixture
def app(settings: Settings, sandbox: Sandbox, sandbox_client: SandboxClient, live_port: int) -> Iterator[Flask]:
    flask_app = create_app(settings)
    server = LiveServer(flask_app, live_port).start()
    sandbox_client.set_line_webhook_url(f"{server.url}/callbacks/line/webhook")
    sandbox_client.set_sms_url(f"{server.url}/callbacks/twilio/sms")  # a resident's SMS to our numbers
    with flask_app.app_context():
        yield flask_app
    server.stop()


@pytest.fixture
def runtime(app: Flask) -> Runtime:
    rt: Runtime = app.extensions["hub"]
    return rt
