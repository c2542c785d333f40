from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.support import seed


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    return app.test_client()


BROWSER_MODULES = ("test_browser", "test_accessibility")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Real-Chromium tests run on the embedded default only (what `make demo` serves).

    A page looks the same over either database, and the browser is the slow part of the suite; the
    queries behind every page run on SQLite and PostgreSQL in the page tests beside these.
    """
    dropped = [item for item in items
               if item.path.name.startswith(BROWSER_MODULES) and "[postgres" in item.nodeid]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
