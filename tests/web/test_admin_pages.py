"""The administration and audit pages with the Flask test client: forms, validation, policy, secrets."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.config import masked_value
from hub.models import AuditLog, Department, Operator
from tests.api.support import bearer, csrf, login


def _admin(client: FlaskClient) -> None:
    assert login(client, "admin").status_code == 302


def test_a_bad_e164_sender_number_is_shown_next_to_the_field_and_nothing_is_stored(
        client: FlaskClient, app: Flask) -> None:
    _admin(client)
    page = client.post("/admin/d/departments", data={
        "csrf_token": csrf(client), "code": "kikaku", "name": "企画課", "sms_sender": "031234567",
        "voice_sender": "", "email_sender": "", "email_sender_name": "", "approval": "residents"})
    html = page.get_data(as_text=True)
    assert page.status_code == 422
    assert re.search(r'id="err-sms_sender"[^>]*>電話番号の形式が正しくありません', html)
    assert 'value="031234567"' in html, "what the admin typed stays in the form"
    with app.extensions["hub"].session() as s:
        assert s.scalar(select(Department).where(Department.code == "kikaku")) is None
    good = client.post("/admin/d/departments", data={
        "csrf_token": csrf(client), "code": "kikaku", "name": "企画課", "sms_sender": "050-1234-5678",
        "voice_sender": "", "email_sender": "kikaku@example.jp", "email_sender_name": "企画課",
        "approval": "all_live"})
    assert good.status_code == 302
    with app.extensions["hub"].session() as s:
        dept = s.scalar(select(Department).where(Department.code == "kikaku"))
        assert dept is not None and dept.sms_sender == "+815012345678" and dept.approval == "all_live"
    # Shown as typed nationally, on the list and in the form it is edited in (kept in E.164).
    assert '<td data-field="sms_sender">050-1234-5678</td>' in client.get("/admin/d/departments").get_data(as_text=True)
    assert 'value="050-1234-5678"' in client.get("/admin/d/departments/kikaku").get_data(as_text=True)


def test_editing_a_department_shows_the_same_errors_and_disabling_is_audited(
        client: FlaskClient, app: Flask) -> None:
    _admin(client)
    bad = client.post("/admin/d/departments/bousai", data={
        "csrf_token": csrf(client), "name": "防災危機管理課", "sms_sender": "+81", "voice_sender": "",
        "email_sender": "not-an-address", "email_sender_name": "", "approval": "residents"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="err-sms_sender"' in html and 'id="err-email_sender"' in html
    off = client.post("/admin/d/departments/bousai/disabled", data={"csrf_token": csrf(client), "disabled": "yes"})
    assert off.status_code == 302
    with app.extensions["hub"].session() as s:
        dept = s.scalar(select(Department).where(Department.code == "bousai"))
        assert dept is not None and dept.disabled_at is not None and dept.sms_sender != "+81"
        assert s.scalar(select(AuditLog).where(AuditLog.action == "department.update")) is not None


def test_a_bad_username_is_shown_next_to_the_field(client: FlaskClient, app: Flask) -> None:
    _admin(client)
    page = client.post("/admin/operators", data={"csrf_token": csrf(client), "username": "Bad Name",
                                                 "display_name": "x", "department": ""})
    assert page.status_code == 422 and 'id="err-username"' in page.get_data(as_text=True)
    with app.extensions["hub"].session() as s:
        assert s.scalar(select(Operator).where(Operator.username == "Bad Name")) is None


def test_every_post_needs_the_csrf_token(client: FlaskClient, app: Flask) -> None:
    _admin(client)
    refused = client.post("/admin/operators", data={"username": "eve", "display_name": "Eve"})
    assert refused.status_code == 400
    with app.extensions["hub"].session() as s:
        assert s.scalar(select(Operator).where(Operator.username == "eve")) is None


def test_a_non_admin_gets_403_on_every_admin_page_and_action(client: FlaskClient, app: Flask) -> None:
    assert login(client, "bousai2").status_code == 302
    for path in ("/admin", "/admin/operators", "/admin/operators/bousai1", "/admin/d/departments",
                 "/admin/d/areas/1234567", "/admin/audit", "/admin/settings"):
        assert client.get(path).status_code == 403, path
    token = csrf(client)
    assert client.post("/admin/operators/bousai1/password", data={"csrf_token": token}).status_code == 403
    assert client.post("/admin/operators", data={"csrf_token": token, "username": "eve",
                                                 "display_name": "Eve"}).status_code == 403
    assert "管理" not in re.findall(r"<nav.*?</nav>", client.get("/").get_data(as_text=True), re.S)[0]
    assert client.get("/tokens").status_code == 200, "everyone manages their own tokens"


def test_an_operator_sees_only_their_own_tokens_and_cannot_revoke_others(client: FlaskClient) -> None:
    assert login(client, "bousai1").status_code == 302
    page = client.get("/tokens").get_data(as_text=True)
    assert page.count("data-token-id=") == 1  # the seed's "test" token of bousai1
    admin_token = client.application.test_client().get("/api/v1/tokens", headers=bearer("admin")).json
    admin_id = admin_token["items"][0]["id"]  # type: ignore[index]
    gone = client.post(f"/tokens/{admin_id}/revoke", data={"csrf_token": csrf(client)}, follow_redirects=True)
    assert "見つかりません" in gone.get_data(as_text=True)
    assert client.application.test_client().get("/api/v1/messages", headers=bearer("admin")).status_code == 200


def test_issuing_a_token_keeps_this_session_and_shows_it_once(client: FlaskClient) -> None:
    _admin(client)
    issued = client.post("/tokens", data={"csrf_token": csrf(client), "name": "防災アプリ", "expires_in_days": "30"})
    html = issued.get_data(as_text=True)
    token = re.search(r'id="new-token"[^>]*>(hub_[^<]+)<', html)
    assert issued.status_code == 201 and token and issued.headers["Cache-Control"] == "no-store"
    again = client.get("/tokens")
    assert again.status_code == 200 and token.group(1) not in again.get_data(as_text=True)
    bad = client.post("/tokens", data={"csrf_token": csrf(client), "name": "", "expires_in_days": "999"})
    assert bad.status_code == 422 and 'id="err-name"' in bad.get_data(as_text=True)


def test_audit_filters_and_chain_verification(client: FlaskClient) -> None:
    _admin(client)
    created = client.post("/admin/operators", data={"csrf_token": csrf(client), "username": "tanaka",
                                                    "display_name": "田中", "department": "bousai"})
    assert created.status_code == 201 and 'id="one-time-password"' in created.get_data(as_text=True)
    assert created.headers["Cache-Control"] == "no-store"
    page = client.get("/admin/audit?action=operator.&verify=1").get_data(as_text=True)
    actions = re.findall(r'data-action="([^"]+)"', page)
    assert actions and all(a.startswith("operator.") for a in actions) and "operator.create" in actions
    assert "監査ログは正常です" in page
    none = client.get("/admin/audit?actor=nobody").get_data(as_text=True)
    assert "data-action=" not in none
    future = client.get("/admin/audit?from=2999-01-01").get_data(as_text=True)
    assert "data-action=" not in future


def test_settings_page_masks_secrets() -> None:
    assert masked_value("twilio_auth_token", "abc", True) == "********"
    assert masked_value("twilio_account_sid", "AC123") == "********"
    assert masked_value("x_consumer_key", "k") == "********"
    assert masked_value("smtp_password", "") == ""
    assert masked_value("broker_url", "redis://user:pw@redis:6379/0") == "redis://********@redis:6379/0"
    assert masked_value("database_url", "postgresql://hub:s3cret@db/hub") == "postgresql://********@db/hub"
    assert masked_value("public_url", "https://hub.example.jp") == "https://hub.example.jp"


def test_settings_page_shows_no_secret(client: FlaskClient, app: Flask) -> None:
    _admin(client)
    html = client.get("/admin/settings").get_data(as_text=True)
    settings = app.config["HUB_SETTINGS"]
    assert "HUB_SECRET_KEY" in html and settings.secret_key not in html
    for name in ("twilio_auth_token", "line_channel_secret", "twilio_account_sid"):
        value = getattr(settings, name)
        assert not value or value not in html, name


def test_roles_disable_password_and_totp_of_an_operator(client: FlaskClient, app: Flask) -> None:
    _admin(client)
    base = "/admin/operators/bousai1"
    assert client.post(f"{base}/roles", data={"csrf_token": csrf(client), "department": "kenko",
                                              "role": "approver"}).status_code == 302
    assert "kenko" in client.get(base).get_data(as_text=True)
    bad = client.post(f"{base}/roles", data={"csrf_token": csrf(client), "department": "kenko", "role": "admin"},
                      follow_redirects=True)
    assert "次のいずれかを指定してください" in bad.get_data(as_text=True)
    assert client.post(f"{base}/roles/kenko/remove", data={"csrf_token": csrf(client)}).status_code == 302
    assert client.post(f"{base}/disabled", data={"csrf_token": csrf(client), "disabled": "yes"}).status_code == 302
    with app.extensions["hub"].session() as s:
        op = s.scalar(select(Operator).where(Operator.username == "bousai1"))
        assert op is not None and op.disabled_at is not None
        assert {m.department.code for m in op.memberships} == {"bousai"}
        op.totp_secret = "JBSWY3DPEHPK3PXP"
    assert client.post(f"{base}/disabled", data={"csrf_token": csrf(client), "disabled": "no"}).status_code == 302
    reset = client.post(f"{base}/password", data={"csrf_token": csrf(client)})
    secret = re.search(r'id="one-time-password"[^>]*>([^<]+)<', reset.get_data(as_text=True))
    assert reset.status_code == 200 and secret and reset.headers["Cache-Control"] == "no-store"
    assert secret.group(1) not in client.get(base).get_data(as_text=True)
    assert client.post(f"{base}/totp", data={"csrf_token": csrf(client)}).status_code == 302
    with app.extensions["hub"].session() as s:
        op = s.scalar(select(Operator).where(Operator.username == "bousai1"))
        assert op is not None and op.disabled_at is None and op.must_change_password and op.totp_secret is None
        actions = set(s.scalars(select(AuditLog.action).where(AuditLog.subject_id == str(op.id))))
    assert {"operator.grant", "operator.revoke_role", "operator.update", "operator.reset_password",
            "operator.reset_totp"} <= actions
    last = client.post("/admin/operators/admin/disabled", data={"csrf_token": csrf(client), "disabled": "yes"},
                       follow_redirects=True)
    assert "最後の管理者は無効にできません" in last.get_data(as_text=True)


def test_the_admin_pages_are_translated(client: FlaskClient) -> None:
    _admin(client)
    assert "Operators and roles" in client.get("/admin/operators?lang=en").get_data(as_text=True)
    assert "Verify the chain" in client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Issue a token" in client.get("/tokens?lang=en").get_data(as_text=True)
    assert "SMS sender number" in client.get("/admin/d/departments?lang=en").get_data(as_text=True)


def test_audit_pages_newest_first(client: FlaskClient, app: Flask) -> None:
    _admin(client)
    with app.extensions["hub"].session() as s:
        from hub.models import audit

        for n in range(60):
            audit(s, "pager", "test.page", ("test", n))
    first = client.get("/admin/audit?actor=pager").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'<tr data-action="test.page">\s*<td>(\d+)</td>', first)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    older = re.search(r'id="older" href="([^"]+)"', first)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
    rest = [int(i) for i in re.findall(r'<tr data-action="test.page">\s*<td>(\d+)</td>', second)]
    assert len(rest) == 10 and max(rest) < min(ids) and 'id="older"' not in second


def test_categories_and_areas_create_edit_and_validate(client: FlaskClient, app: Flask) -> None:
    _admin(client)
    bad = client.post("/admin/d/areas", data={"csrf_token": csrf(client), "code": "12", "name": "どこか",
                                              "family": "municipality"})
    assert bad.status_code == 422 and 'id="err-code"' in bad.get_data(as_text=True)
    ok = client.post("/admin/d/areas", data={"csrf_token": csrf(client), "code": "1310100", "name": "千代田区",
                                             "family": "municipality"})
    assert ok.status_code == 302
    renamed = client.post("/admin/d/areas/1310100", data={"csrf_token": csrf(client), "name": "東京都千代田区"})
    assert renamed.status_code == 302
    empty = client.post("/admin/d/categories/zei", data={"csrf_token": csrf(client), "name": ""})
    assert empty.status_code == 422 and 'id="err-name"' in empty.get_data(as_text=True)
    from hub.models import Area, Category

    with app.extensions["hub"].session() as s:
        area = s.scalar(select(Area).where(Area.code == "1310100"))
        assert area is not None and area.name == "東京都千代田区" and area.family == "municipality"
        zei = s.scalar(select(Category).where(Category.code == "zei"))
        assert zei is not None and zei.name
    assert client.get("/admin/d/nothing").status_code == 404
