"""Administration over /api/v1/admin and `hub admin`: admins only, validated, audited, and what is disabled
cannot be used for a new message."""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.accounts.support import audit_actions, invoke, login_form, one_time_password
from tests.api.support import TOKENS, bearer, body, create, csrf, login

API = "/api/v1"


def _admin_routes(app: Flask) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(f"{API}/admin/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", "bousai", rule.rule)
            routes += [(m, path) for m in sorted(rule.methods or ()) if m not in ("HEAD", "OPTIONS")]
    return routes


@pytest.mark.parametrize("who", ["bousai2", "bousai1", "viewer"])
def test_a_non_admin_gets_403_on_every_admin_endpoint(client: FlaskClient, app: Flask, who: str) -> None:
    routes = _admin_routes(app)
    assert len(routes) >= 17  # operators (8) and three directories (3 each)
    for method, path in routes:
        r = client.open(path, method=method, json={"username": "x", "display_name": "x", "code": "x",
                                                     "name": "x", "role": "sender"}, headers=bearer(who))
        assert r.status_code == 403, (method, path, r.status_code)
    assert client.get(f"{API}/admin/operators").status_code == 401
    assert not [a for a in audit_actions(app) if a[1].startswith(("operator.", "department.", "category."))]


ADMIN_COMMANDS = [
    ["operator", "list"], ["operator", "create", "x1", "--display-name", "X"], ["operator", "edit", "bousai1",
                                                                             "--display-name", "X"],
    ["operator", "disable", "bousai1"], ["operator", "enable", "bousai1"],
    ["operator", "grant", "bousai1", "--department", "kenko", "--role", "sender"],
    ["operator", "revoke-role", "bousai1", "--department", "bousai"], ["operator", "reset-password", "bousai1"],
    ["operator", "reset-totp", "bousai1"],
    *([kind, "list"] for kind in ("department", "category", "area")),
    ["department", "create", "kikaku", "--name", "企画課"], ["department", "edit", "bousai", "--name", "X"],
    ["department", "disable", "bousai"], ["department", "enable", "bousai"],
    ["category", "create", "kikaku", "--name", "企画"], ["category", "edit", "bousai", "--name", "X"],
    ["category", "disable", "bousai"], ["category", "enable", "bousai"],
    ["area", "create", "0320100", "--name", "盛岡市"], ["area", "edit", "0321500", "--name", "X"],
    ["area", "disable", "0321500"], ["area", "enable", "0321500"],
]


def test_the_cli_refuses_a_non_admin_for_every_admin_command(client: FlaskClient, app: Flask) -> None:
    for args in ADMIN_COMMANDS:
        result = invoke(app, "admin", *args, token=TOKENS["bousai2"])
        assert result.exit_code != 0 and "権限" in result.output, (args, result.output)
        assert invoke(app, "admin", *args).exit_code != 0  # no token at all
    assert not [a for a in audit_actions(app) if a[1].startswith(("operator.", "department.", "area."))]
    # The same commands work for an admin (enable/disable last, so the city is whole again).
    for args in ADMIN_COMMANDS:
        result = invoke(app, "admin", *args, token=TOKENS["admin"])
        assert result.exit_code == 0, (args, result.output)


def test_operators_over_the_api(client: FlaskClient, app: Flask) -> None:
    created = client.post(f"{API}/admin/operators", headers=bearer(), json={
        "username": "kenko1", "display_name": "健康 一郎", "department": "kenko", "roles": {"kenko": "approver"}})
    assert created.status_code == 201, created.get_data(as_text=True)
    data = body(created)
    secret = data["one_time_password"]
    assert len(secret) >= 12 and data["operator"]["roles"] == {"kenko": "approver"}
    assert data["operator"]["must_change_password"] is True
    assert client.post(f"{API}/admin/operators", headers=bearer(), json={
        "username": "kenko1", "display_name": "again"}).status_code == 409
    bad = client.post(f"{API}/admin/operators", headers=bearer(), json={"username": "No Spaces!",
                                                                         "display_name": ""})
    assert bad.status_code == 422 and set(body(bad)["error"]["problems"]) == {"username", "display_name"}

    # A role change ends the operator's sessions.
    browser = app.test_client()
    login_form(browser, "kenko1", secret)
    browser.post("/password", data={"current_password": secret, "new_password": "kenko-approver-1",
                                    "confirm_password": "kenko-approver-1", "csrf_token": csrf(browser)})
    assert browser.get("/").status_code == 200
    granted = client.put(f"{API}/admin/operators/kenko1/roles/zei", headers=bearer(), json={"role": "sender"})
    assert body(granted)["roles"] == {"kenko": "approver", "zei": "sender"}
    assert browser.get("/").status_code == 302
    assert client.put(f"{API}/admin/operators/kenko1/roles/zei", headers=bearer(),
                      json={"role": "admin"}).status_code == 422
    removed = client.delete(f"{API}/admin/operators/kenko1/roles/zei", headers=bearer())
    assert body(removed)["roles"] == {"kenko": "approver"}
    edited = client.patch(f"{API}/admin/operators/kenko1", headers=bearer(),
                          json={"display_name": "健康 一郎（課長）", "can_override": True})
    assert body(edited)["display_name"] == "健康 一郎（課長）" and body(edited)["can_override"] is True
    assert client.patch(f"{API}/admin/operators/kenko1", headers=bearer(),
                        json={"password_hash": "x"}).status_code == 422
    reset = body(client.post(f"{API}/admin/operators/kenko1/password", headers=bearer()))
    assert login_form(app.test_client(), "kenko1", "kenko-approver-1").status_code == 401
    assert login_form(app.test_client(), "kenko1", reset["one_time_password"]).headers["Location"].endswith(
        "/password")
    assert body(client.get(f"{API}/admin/operators/kenko1", headers=bearer()))["must_change_password"] is True
    assert client.get(f"{API}/admin/operators/nobody", headers=bearer()).status_code == 404

    audit = audit_actions(app, "operator.")
    actions = {b for _a, b, _d in audit}
    assert {"operator.create", "operator.grant", "operator.revoke_role", "operator.update",
            "operator.reset_password"} <= actions
    assert all(a == "admin" for a, _b, _d in audit)
    update = next(d for _a, b, d in audit if b == "operator.update")
    assert update["changes"] == {"display_name": ["健康 一郎", "健康 一郎（課長）"], "can_override": [False, True]}
    dumped = json.dumps([d for _a, _b, d in audit_actions(app)], ensure_ascii=False)
    assert secret not in dumped and reset["one_time_password"] not in dumped and "kenko-approver-1" not in dumped


def test_the_last_admin_cannot_be_disabled_or_demoted(client: FlaskClient) -> None:
    assert client.patch(f"{API}/admin/operators/admin", headers=bearer(), json={"disabled": True}).status_code == 409
    assert client.patch(f"{API}/admin/operators/admin", headers=bearer(), json={"is_admin": False}
                        ).status_code == 409
    client.patch(f"{API}/admin/operators/bousai2", headers=bearer(), json={"is_admin": True})
    assert client.patch(f"{API}/admin/operators/admin", headers=bearer(), json={"is_admin": False}
                        ).status_code == 200


def test_departments_with_validated_sender_identities(client: FlaskClient, app: Flask) -> None:
    bad = client.post(f"{API}/admin/departments", headers=bearer(), json={
        "code": "kikaku", "name": "企画課", "sms_sender": "0501234", "voice_sender": "+81 50 1234 5678x",
        "email_sender": "not-an-address", "approval": "never"})
    assert bad.status_code == 422
    assert set(body(bad)["error"]["problems"]) == {"sms_sender", "voice_sender", "email_sender", "approval"}
    ok = client.post(f"{API}/admin/departments", headers=bearer(), json={
        "code": "kikaku", "name": "企画課", "sms_sender": "+815012345678", "voice_sender": "03-1234-5678",
        "email_sender": "kikaku@city.example.jp", "email_sender_name": "○○市 企画課", "approval": "all_live"})
    assert ok.status_code == 201, ok.get_data(as_text=True)
    assert body(ok)["sms_sender"] == "+815012345678" and body(ok)["approval"] == "all_live"
    assert client.post(f"{API}/admin/departments", headers=bearer(), json={"code": "kikaku", "name": "x"}
                       ).status_code == 409
    edited = client.patch(f"{API}/admin/departments/kikaku", headers=bearer(), json={"voice_sender": None})
    assert body(edited)["voice_sender"] is None
    assert client.patch(f"{API}/admin/departments/kikaku", headers=bearer(), json={"code": "other"}
                        ).status_code == 422
    changes = [d for _a, b, d in audit_actions(app, "department.") if b == "department.update"]
    assert changes == [{"changes": {"voice_sender": ["+81312345678", None]}}]


def test_area_codes_are_jma_style_digits(client: FlaskClient) -> None:
    for code, family in (("032150", "municipality"), ("03215OO", "municipality"), ("0321500x", "warning"),
                         ("3333", "quake"), ("０３２１５００", "municipality")):
        r = client.post(f"{API}/admin/areas", headers=bearer(), json={"code": code, "name": "x", "family": family})
        assert r.status_code == 422, (code, family)
    assert client.post(f"{API}/admin/areas", headers=bearer(), json={"code": "0320100", "name": "x",
                                                                     "family": "comet"}).status_code == 422
    assert client.post(f"{API}/admin/areas", headers=bearer(), json={"code": "0320100", "name": "盛岡市"}
                       ).status_code == 201
    assert client.post(f"{API}/admin/areas", headers=bearer(), json={"code": "211", "name": "岩手県沿岸北部",
                                                                     "family": "quake"}).status_code == 201
    listed = body(client.get(f"{API}/admin/areas", headers=bearer()))["items"]
    assert {"0320100", "211"} <= {a["code"] for a in listed}


def test_what_is_disabled_cannot_be_used_for_a_new_message(client: FlaskClient, app: Flask) -> None:
    assert create(client, category="kenko").status_code == 201
    client.patch(f"{API}/admin/categories/kenko", headers=bearer(), json={"disabled": True})
    refused = create(client, category="kenko")
    assert refused.status_code == 400 and "無効" in json.dumps(body(refused), ensure_ascii=False)
    client.patch(f"{API}/admin/categories/kenko", headers=bearer(), json={"disabled": False})
    assert create(client, category="kenko").status_code == 201

    client.patch(f"{API}/admin/areas/0321500", headers=bearer(), json={"disabled": True})
    by_area = create(client, audience="area:0321500")
    assert by_area.status_code == 400 and "audience" in body(by_area)["error"]["problems"]

    client.patch(f"{API}/admin/departments/kenko", headers=bearer(), json={"disabled": True})
    by_dept = create(client, department="kenko")
    assert by_dept.status_code == 400 and "department" in body(by_dept)["error"]["problems"]
    # The CLI, which hands codes over unchecked, is refused as well.
    client.patch(f"{API}/admin/categories/zei", headers=bearer(), json={"disabled": True})
    sent = invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms", "--audience", "residents",
                  "--category", "zei", "--mode", "actual", token=TOKENS["admin"])
    assert sent.exit_code != 0 and "無効" in sent.output
    dept = invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms", "--audience",
                  "department:kenko", "--mode", "actual", token=TOKENS["admin"])
    assert dept.exit_code != 0 and "無効" in dept.output
    # Nor can a disabled department be anyone's new home.
    assert client.patch(f"{API}/admin/operators/bousai1", headers=bearer(), json={"department": "kenko"}
                        ).status_code == 404


def test_cli_operator_lifecycle_prints_a_one_time_password_once(client: FlaskClient, app: Flask) -> None:
    created = invoke(app, "admin", "operator", "create", "zei1", "--display-name", "税務 太郎", "--department",
                     "zei", "--role", "zei=sender", "--role", "kenko=viewer", token=TOKENS["admin"])
    assert created.exit_code == 0, created.output
    secret = one_time_password(created.output)
    assert login_form(app.test_client(), "zei1", secret).status_code == 302
    listed = invoke(app, "admin", "operator", "list", "--json", token=TOKENS["admin"])
    zei1 = next(o for o in json.loads(listed.output) if o["username"] == "zei1")
    assert zei1["roles"] == {"kenko": "viewer", "zei": "sender"} and secret not in listed.output
    bad_role = invoke(app, "admin", "operator", "create", "zei2", "--display-name", "x", "--role", "zei=boss",
                      token=TOKENS["admin"])
    assert bad_role.exit_code != 0 and "role" in bad_role.output
    bad_number = invoke(app, "admin", "department", "create", "kikaku", "--name", "企画課", "--sms-sender",
                        "090-1234", token=TOKENS["admin"])
    assert bad_number.exit_code != 0 and "050-1234-5678" in bad_number.output, "the error shows the forms taken"
    national = invoke(app, "admin", "department", "create", "kikaku", "--name", "企画課", "--sms-sender",
                      "050-1234-5678", "--json", token=TOKENS["admin"])
    assert national.exit_code == 0 and json.loads(national.output)["sms_sender"] == "+815012345678"


def test_login_page_still_works_for_the_demo_admin(client: FlaskClient) -> None:
    assert login(client, "admin").status_code == 302


def test_a_department_or_username_that_is_not_text_is_a_clear_error(client: FlaskClient) -> None:
    # Found by the API fuzzer: JSON true compared with a text column was a database error (500) on PostgreSQL.
    created = client.post(f"{API}/admin/operators", headers=bearer(),
                          json={"username": "yamada", "display_name": "山田", "department": True})
    assert created.status_code == 422 and "department" in body(created)["error"]["problems"]
