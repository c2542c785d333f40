"""An app whose tasks go to the broker (no eager mode) and no worker runs: a dead engine, on demand."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import Settings
from hub.models import utcnow
from hub.relay.clock import ManualClock, using
from hub.runtime import Runtime
from tests.api.support import seed


@pytest.fixture
def engine_settings(settings: Settings) -> Settings:
    # watchdog_in_web off: these tests run the check themselves, not in a thread behind their back.
    return replace(settings, tasks_eager=False, watchdog_in_web=False)


@pytest.fixture
def engine_app(engine_settings: Settings) -> Iterator[Flask]:
    app = create_app(engine_settings)
    with app.app_context():
        seed(app)
        yield app


@pytest.fixture
def engine_runtime(engine_app: Flask) -> Runtime:
    rt: Runtime = engine_app.extensions["hub"]
    return rt


@pytest.fixture
def engine_client(engine_app: Flask) -> FlaskClient:
    return engine_app.test_client()


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    with using(ManualClock(utcnow())) as manual:
        assert isinstance(manual, ManualClock)
        yield manual
