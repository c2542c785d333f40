"""Real responses and requests of /tokens and /admin/… validate against the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from werkzeug.test import EnvironBuilder

from tests.api.support import bearer, body
from tests.api.test_openapi import _check
from tests.support.openapi import hub_api

API = "/api/v1"


def test_account_responses_validate_against_the_schemas(client: FlaskClient) -> None:
    api = hub_api()
    issued = client.post(f"{API}/tokens", json={"name": "n", "expires_in_days": 5}, headers=bearer("bousai1"))
    created = client.post(f"{API}/admin/operators", headers=bearer(), json={
        "username": "kenko1", "display_name": "健康 一郎", "department": "kenko", "roles": {"kenko": "sender"}})
    responses = [
        issued,
        client.post(f"{API}/tokens", json={"name": ""}, headers=bearer("bousai1")),
        client.get(f"{API}/tokens", headers=bearer("bousai1")),
        client.get(f"{API}/tokens?all=1", headers=bearer("bousai1")),
        client.delete(f"{API}/tokens/{body(issued)['id']}", headers=bearer("bousai1")),
        client.delete(f"{API}/tokens/999999", headers=bearer("bousai1")),
        created,
        client.post(f"{API}/admin/operators", headers=bearer(), json={"username": "kenko1", "display_name": "x"}),
        client.get(f"{API}/admin/operators", headers=bearer()),
        client.get(f"{API}/admin/operators", headers=bearer("bousai1")),
        client.get(f"{API}/admin/operators/kenko1", headers=bearer()),
        client.patch(f"{API}/admin/operators/kenko1", headers=bearer(), json={"display_name": "健康 一郎（新）",
                                                                              "disabled": False}),
        client.put(f"{API}/admin/operators/kenko1/roles/zei", headers=bearer(), json={"role": "viewer"}),
        client.delete(f"{API}/admin/operators/kenko1/roles/zei", headers=bearer()),
        client.post(f"{API}/admin/operators/kenko1/password", headers=bearer()),
        client.delete(f"{API}/admin/operators/kenko1/totp", headers=bearer()),
        client.get(f"{API}/admin/departments", headers=bearer()),
        client.post(f"{API}/admin/departments", headers=bearer(), json={
            "code": "kikaku", "name": "企画課", "sms_sender": "+815012345678", "approval": "all_live"}),
        client.post(f"{API}/admin/departments", headers=bearer(), json={"code": "x", "name": "x",
                                                                        "sms_sender": "1"}),
        client.patch(f"{API}/admin/departments/kikaku", headers=bearer(), json={"disabled": True}),
        client.get(f"{API}/admin/categories", headers=bearer()),
        client.post(f"{API}/admin/categories", headers=bearer(), json={"code": "kikaku", "name": "企画"}),
        client.patch(f"{API}/admin/categories/kikaku", headers=bearer(), json={"name": "企画・広報"}),
        client.get(f"{API}/admin/areas", headers=bearer()),
        client.post(f"{API}/admin/areas", headers=bearer(), json={"code": "211", "name": "岩手県沿岸北部",
                                                                  "family": "quake"}),
        client.patch(f"{API}/admin/areas/nope", headers=bearer(), json={"name": "x"}),
    ]
    statuses = [r.status_code for r in responses]
    assert statuses == [201, 422, 200, 403, 200, 404, 201, 409, 200, 403, 200, 200, 200, 200, 200, 200, 200, 201,
                        422, 200, 200, 201, 200, 200, 201, 404]
    for response in responses:
        _check(api, response)
    samples: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/tokens", {"name": "n", "expires_in_days": 5}),
        ("POST", "/admin/operators", {"username": "kenko1", "display_name": "x", "roles": {"kenko": "sender"}}),
        ("PATCH", "/admin/operators/kenko1", {"disabled": True}),
        ("PUT", "/admin/operators/kenko1/roles/zei", {"role": "viewer"}),
        ("POST", "/admin/departments", {"code": "kikaku", "name": "企画課", "sms_sender": "+815012345678"}),
        ("POST", "/admin/areas", {"code": "0320100", "name": "盛岡市"}),
    ]
    for method, path, payload in samples:
        sample = EnvironBuilder(method=method, path=f"{API}{path}", json=payload, headers=list(bearer().items()))
        api.validate_request(WerkzeugOpenAPIRequest(sample.get_request()))
