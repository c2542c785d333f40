from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.support import seed


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    return app.test_client()
