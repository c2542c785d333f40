"""An admin sets a department's SMS gateway, failover partner and Karaden service id (API and CLI)."""

from __future__ import annotations

import json

from flask import Flask
from flask.testing import FlaskClient

from tests.accounts.support import invoke
from tests.api.support import TOKENS, bearer, body

API = "/api/v1"


def test_department_sms_gateway_is_validated_and_can_be_reset(client: FlaskClient, app: Flask) -> None:
    bad = client.post(f"{API}/admin/departments", headers=bearer(), json={
        "code": "kiki", "name": "危機管理課", "sms_gateway": "docomo", "sms_failover_gateway": "other",
        "karaden_service_id": -3})
    assert bad.status_code == 422
    assert set(body(bad)["error"]["problems"]) == {"sms_gateway", "sms_failover_gateway", "karaden_service_id"}
    ok = client.post(f"{API}/admin/departments", headers=bearer(), json={
        "code": "kiki", "name": "危機管理課", "sms_gateway": "karaden", "sms_failover_gateway": "twilio",
        "karaden_service_id": 12})
    assert ok.status_code == 201, ok.get_data(as_text=True)
    assert (body(ok)["sms_gateway"], body(ok)["sms_failover_gateway"], body(ok)["karaden_service_id"]) == (
        "karaden", "twilio", 12)

    result = invoke(app, "admin", "department", "edit", "kiki", "--sms-gateway", "", "--sms-failover-gateway",
                    "none", "--json", token=TOKENS["admin"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)
    assert (row["sms_gateway"], row["sms_failover_gateway"], row["karaden_service_id"]) == (None, "none", 12), \
        "an empty value goes back to the hub's setting"
