"""取消・訂正 from the message page (test client): the policy, the correction's own text, the same code as the API."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import Message, MsgType
from tests.api.policy_support import create_approved
from tests.api.support import csrf, login


def _original(client: FlaskClient) -> int:
    created = create_approved(client, "bousai1", title="避難指示", body="高台へ避難してください。",
                              channels=["sms"], audience="residents", mode="exercise")
    return int(created["message_id"])


def test_a_correction_previews_the_new_text_then_goes_as_an_update(app: Flask, client: FlaskClient) -> None:
    original = _original(client)
    login(client, "bousai1")
    assert 'id="correct-button"' in client.get(f"/messages/{original}").get_data(as_text=True)
    page = client.get(f"/messages/{original}/follow-up/update")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="body"' in html and "高台へ避難してください。" in html
    assert "Confirm the correction" in client.get(f"/messages/{original}/follow-up/update?lang=en").get_data(as_text=True)
    client.get(f"/messages/{original}?lang=ja")
    url = f"/messages/{original}/follow-up/update"
    shown = client.post(url, data={"csrf_token": csrf(client), "step": "preview", "body": "避難所は北小学校です。"})
    assert shown.status_code == 200 and "避難所は北小学校です。" in shown.get_data(as_text=True)
    with app.extensions["hub"].session() as s:
        assert s.scalar(select(Message).where(Message.references_id == original)) is None, "a preview sends nothing"
    sent = client.post(url, data={"csrf_token": csrf(client), "step": "send", "body": "避難所は北小学校です。"})
    assert sent.status_code == 302
    with app.extensions["hub"].session() as s:
        follow = s.scalar(select(Message).where(Message.references_id == original))
        assert follow is not None and follow.msg_type == MsgType.UPDATE and "北小学校" in follow.body
        assert sent.headers["Location"].endswith(f"/messages/{follow.id}")


def test_a_viewer_may_not_cancel(app: Flask, client: FlaskClient) -> None:
    original = _original(client)
    login(client, "viewer")
    page = client.get(f"/messages/{original}").get_data(as_text=True)
    assert 'id="cancel-button"' not in page and 'id="correct-button"' not in page, "no button that can only fail"
    assert client.get(f"/messages/{original}/follow-up/cancel").status_code == 403
    refused = client.post(f"/messages/{original}/follow-up/cancel", data={"csrf_token": csrf(client), "step": "send"})
    assert refused.status_code == 403
    with app.extensions["hub"].session() as s:
        assert s.scalar(select(Message).where(Message.references_id == original)) is None


def test_an_unknown_kind_is_404(client: FlaskClient) -> None:
    original = _original(client)
    login(client, "bousai1")
    assert client.get(f"/messages/{original}/follow-up/delete").status_code == 404
