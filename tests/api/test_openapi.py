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
from tests.support.openapi import hub_api

PREFIX = "/api/v1"


def _documented(app: Flask) -> set[tuple[str, str]]:
    """Every (path, method) served under /api/v1, whichever blueprint registered it."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix(PREFIX))
        routes |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    return routes


def test_every_route_is_documented_and_nothing_else(tmp_path: Path) -> None:
    validate(SPEC)
    # Only the URL map is needed: no database, no sandbox.
    routes = _documented(create_app(Settings(data_dir=str(tmp_path)).resolved()))
    # The relay's /api/v1/callouts routes live on another blueprint; they were missed before.
    assert ("/callouts/{callout_id}/close", "post") in routes
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
    api = hub_api()
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
        # Texts per language: given with the message, rendered in the preview, translated for review.
        create(client, texts={"en": {"title": "Health checkup", "body": "Bring your insurance card.",
                                     "origin": "operator"}}),
        client.post(f"{PREFIX}/messages/preview", headers=bearer(), json={
            "title": "t", "body": "b", "channels": ["sms"], "mode": "actual",
            "texts": {"vi": {"title": "T", "body": "B", "origin": "machine"}}}),
        client.post(f"{PREFIX}/messages/translations", headers=bearer(), json={
            "title": "大雨警報が発表されました", "body": "川に近づかないでください。", "channels": ["sms"],
            "mode": "actual", "audience": "residents", "languages": ["en", "ja-easy"]}),
        client.post(f"{PREFIX}/messages/translations", headers=bearer(), json={
            "title": "t", "channels": ["sms"], "mode": "actual", "texts": {"xx": {"title": "?"}}}),
    ]
    sample = EnvironBuilder(method="POST", path=f"{PREFIX}/messages", json=message(),
                            headers=list(bearer().items()))
    api.validate_request(WerkzeugOpenAPIRequest(sample.get_request()))
    statuses = [r.status_code for r in responses]
    assert statuses == [201, 201, 422, 200, 401, 200, 404, 200, 200, 200, 409, 200, 200, 200, 201, 200, 200, 400]
    for response in responses:
        _check(api, response)


def test_callout_responses_validate_against_the_schemas(client: FlaskClient) -> None:
    api = hub_api()
    start = {"survey": "sanshu", "departments": ["bousai"], "mode": "exercise", "interval": "5m", "cycles": 1}
    started = client.post(f"{PREFIX}/callouts", json=start, headers=bearer())
    callout_id = body(started)["callout"]["id"]
    responses = [
        started,
        client.post(f"{PREFIX}/callouts", json={**start, "departments": ["nosuch"]}, headers=bearer()),
        client.post(f"{PREFIX}/callouts", json={**start, "cycles": "many"}, headers=bearer()),
        client.get(f"{PREFIX}/callouts", headers=bearer("viewer")),
        client.get(f"{PREFIX}/callouts/{callout_id}", headers=bearer("viewer")),
        client.get(f"{PREFIX}/callouts/999999", headers=bearer()),
        client.post(f"{PREFIX}/callouts/{callout_id}/close", headers=bearer("viewer")),
        client.post(f"{PREFIX}/callouts/{callout_id}/close", headers=bearer()),
        client.get(f"{PREFIX}/callouts/{callout_id}/export.csv", headers=bearer()),
    ]
    assert [r.status_code for r in responses] == [201, 400, 400, 200, 200, 404, 403, 200, 200]
    for response in responses:
        _check(api, response)


def test_survey_responses_validate_against_the_schemas(client: FlaskClient) -> None:
    api = hub_api()
    question = {"text": "避難していますか", "choices": ["はい", {"key": "2", "label": "いいえ"}], "hours": 24}
    created = create(client, channels=["sms", "line"], question=question)
    message_id = body(created)["message_id"]
    plain_id = body(create(client))["message_id"]
    # Approved, so it goes out and takes answers (until it is closed below).
    assert client.post(f"{PREFIX}/messages/{message_id}/approve", headers=bearer("bousai2")).status_code == 200
    responses = [
        created,
        create(client, channels=["sms"], question={"text": "", "choices": ["はい"]}),
        client.get(f"{PREFIX}/messages/{message_id}/survey", headers=bearer("viewer")),
        client.get(f"{PREFIX}/messages/{plain_id}/survey", headers=bearer()),
        client.get(f"{PREFIX}/messages/{message_id}/survey/respondents?status=unanswered", headers=bearer()),
        client.get(f"{PREFIX}/messages/{message_id}/survey/respondents?status=maybe", headers=bearer()),
        client.get(f"{PREFIX}/messages/{message_id}/survey.csv?status=answered", headers=bearer()),
        client.post(f"{PREFIX}/messages/{message_id}/survey/close", headers=bearer("viewer")),
        client.post(f"{PREFIX}/messages/{message_id}/survey/close", headers=bearer()),
        client.post(f"{PREFIX}/messages/{message_id}/survey/close", headers=bearer()),
    ]
    sample = EnvironBuilder(method="POST", path=f"{PREFIX}/messages", json=message(question=question),
                            headers=list(bearer().items()))
    api.validate_request(WerkzeugOpenAPIRequest(sample.get_request()))
    assert [r.status_code for r in responses] == [201, 400, 200, 404, 200, 400, 200, 403, 200, 409]
    assert body(responses[1])["error"]["problems"]["question"]
    for response in responses:
        _check(api, response)
