"""The console obeys the same policy as the API: department-scoped pages, no composer for viewers."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.api.support import bearer, body, create, login


def test_viewer_has_no_composer_and_sees_only_their_departments(client: FlaskClient) -> None:
    mine = body(create(client, who="bousai1", title="防災のお知らせ"))["message_id"]
    theirs = body(create(client, who="admin", title="健康課のお知らせ", department="kenko"))["message_id"]
    login(client, "viewer")
    assert client.get("/compose").status_code == 403
    dashboard = client.get("/").get_data(as_text=True)
    assert "防災のお知らせ" in dashboard and "健康課のお知らせ" not in dashboard
    assert client.get(f"/messages/{mine}").status_code == 200
    assert client.get(f"/messages/{theirs}").status_code == 403


def test_approve_button_only_for_the_departments_approver(client: FlaskClient) -> None:
    theirs = body(create(client, who="admin", department="kenko"))["message_id"]
    assert client.get(f"/api/v1/messages/{theirs}", headers=bearer("bousai2")).status_code == 403
    login(client, "bousai2")
    assert client.get(f"/messages/{theirs}").status_code == 403
    mine = body(create(client, who="bousai1"))["message_id"]
    page = client.get(f"/messages/{mine}").get_data(as_text=True)
    assert "確認して承認する（実配信）" in page


def test_approve_button_fills_a_phone_screen(client: FlaskClient) -> None:
    css = client.get("/static/hub.css").get_data(as_text=True)
    phone = css[css.index("@media (max-width: 32rem) {\n  .actions.big"):]
    assert ".actions.big button { flex-basis: 100%; }" in phone
