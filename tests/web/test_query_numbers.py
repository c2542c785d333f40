"""A number in a page's query string or form that no row can have is a 4xx or is ignored — never a
500 from the database (PostgreSQL refuses an INTEGER beyond 2³¹, SQLite overflows beyond 2⁶³)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.support import csrf, login, seed

HUGE = ("2147483648", str(2**63), str(10**30), "-5")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    web = app.test_client()
    assert login(web, "admin").status_code == 302
    return web


@pytest.mark.parametrize("number", HUGE)
def test_query_numbers(client: FlaskClient, number: str) -> None:
    for path in (f"/compose?type=update&ref={number}", f"/admin/audit?before={number}",
                 f"/contacts?page={number}"):
        assert client.get(path).status_code < 500, path


@pytest.mark.parametrize("number", HUGE)
def test_form_numbers(client: FlaskClient, number: str) -> None:
    response = client.post("/notices/csv/1/cancel", data={"csrf_token": csrf(client), "message_id": number})
    assert response.status_code < 500
