from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.support import seed


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app, residents=0, staff=0)  # the demo city's departments, areas, categories and operators
    return app.test_client()
