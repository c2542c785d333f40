"""The OpenAPI document covers every api_bp route, is valid 3.1, and real responses match it."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate
from werkzeug.test import EnvironBuilder, TestResponse

from hub.api.openapi import SPEC
from hub.app import create_app
from hub.config import Settings
from tests.api.support import bearer, body, create, message

PREFIX = "/api/v1"


def _documented(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(PREFIX))
        routes |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    return routes


def test_every_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    validate(SPEC)
    # Only the URL map is needed: no database, no sandbox.
    routes = _documented(create_app(Settings(data_dir=str(tmp_path)).resolved()))
    spec_ops = {(path, method) for path, item in SPEC["paths"].items()
                for method in item if method != "parameters"}
    assert routes == spec_ops


def _check(api: OpenAPI, response: TestResponse) -> None:
    # The test client consumed the original request body; the response check needs only its route.
    sent = response.request
    route = EnvironBuilder(method=sent.method, path=sent.path,
                           query_string=sent.query_string.decode()).get_request()
    api.validate_response(WerkzeugOpenAPIRequest(route), WerkzeugOpenAPIResponse(response))


def test_responses_validate_against_the_schemas(client: FlaskClient) -> None:
    api = OpenAPI.from_dict(SPEC)
    created = create(client)
    message_id = body(created)["message_id"]
    waiting = create(client, who="bousai2", category="bousai")
    responses = [
        created,
        waiting,
        create(client, body="あ" * 700, channels=["sms"]),
        client.get(f"{PREFIX}/messages", headers=bearer()),
        client.get(f"{PREFIX}/messages", headers={}),
        client.get(f"{PREFIX}/messages/{message_id}", headers=bearer()),
        client.get(f"{PREFIX}/messages/999999", headers=bearer()),
        client.get(f"{PREFIX}/messages/{message_id}/deliveries?per_page=3&channel=sms", headers=bearer()),
        client.get(f"{PREFIX}/messages/{message_id}/deliveries.csv", headers=bearer()),
        client.post(f"{PREFIX}/messages/preview", headers=bearer(),
                    json={"title": "t", "body": "b", "channels": ["sms", "x", "voice"], "mode": "exercise"}),
        client.post(f"{PREFIX}/messages/{body(waiting)['message_id']}/approve",
                    headers=bearer("bousai2")),
        client.post(f"{PREFIX}/messages/{body(waiting)['message_id']}/approve",
                    headers=bearer("admin")),
        client.post(f"{PREFIX}/contacts/import", headers=bearer(**{"Content-Type": "text/csv"}),
                    data="name,phone\n山田,09012345678\n,\n".encode()),
        client.get(f"{PREFIX}/openapi.json"),
    ]
    sample = EnvironBuilder(method="POST", path=f"{PREFIX}/messages", json=message(),
                            headers=list(bearer().items()))
    api.validate_request(WerkzeugOpenAPIRequest(sample.get_request()))
    statuses = [r.status_code for r in responses]
    assert statuses == [201, 201, 422, 200, 401, 200, 404, 200, 200, 200, 409, 200, 200, 200]
    for response in responses:
        _check(api, response)
