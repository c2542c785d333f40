"""The public page /m/<public_id>: only what was meant for the public, at an address nobody can guess."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import Message, MessageBody
from hub.runtime import Runtime
from tests.api.support import body, create, create_approved
from tests.support.hubtools import public_path


def _rt(client: FlaskClient) -> Runtime:
    rt: Runtime = client.application.extensions["hub"]
    return rt


def _texts(rt: Runtime, message_id: int) -> dict[str, str]:
    with rt.session() as s:
        return {b.channel: b.text for b in s.scalars(select(MessageBody).where(MessageBody.message_id == message_id))}


def test_a_resident_message_links_its_page_by_an_unguessable_id(client: FlaskClient) -> None:
    message_id = create_approved(client, body="断水は15時に復旧しました", channels=["sms", "email"])["message_id"]
    rt = _rt(client)
    path = public_path(rt, message_id)
    public_id = path.removeprefix("/m/")
    assert len(public_id) >= 22 and not public_id.isdigit()
    texts = _texts(rt, message_id)
    assert f"{rt.settings.public_url}{path}" in texts["sms"] and path in texts["email"]
    anonymous = client.application.test_client()
    page = anonymous.get(path)
    assert page.status_code == 200 and "断水は15時に復旧しました" in page.get_data(as_text=True)
    assert anonymous.get(f"/m/{message_id}").status_code == 404, "sequential ids open nothing"
    other = create_approved(client, channels=["sms"])["message_id"]
    assert public_path(rt, other) != path


def test_staff_only_messages_have_no_public_page_and_no_link(client: FlaskClient) -> None:
    rt = _rt(client)
    anonymous = client.application.test_client()
    for audience in ("staff", "department:bousai"):
        message_id = create_approved(client, audience=audience, channels=["sms", "email"],
                                     body="職員向け: 庁舎の鍵の場所")["message_id"]
        assert anonymous.get(public_path(rt, message_id)).status_code == 404, audience
        assert not any("/m/" in text for text in _texts(rt, message_id).values()), audience


def test_exercises_are_public_only_as_public_drills_and_clearly_marked(client: FlaskClient) -> None:
    rt = _rt(client)
    anonymous = client.application.test_client()
    public_drill = body(create(client, mode="exercise", audience="residents", body="避難訓練の本文"))["message_id"]
    page = anonymous.get(public_path(rt, public_drill)).get_data(as_text=True)
    assert "banner-exercise" in page and "【訓練】" in page
    staff_drill = body(create(client, mode="exercise", audience="staff", channels=["sms", "email"], body="参集訓練"))["message_id"]
    assert anonymous.get(public_path(rt, staff_drill)).status_code == 404
    with rt.session() as s:  # a system test is never public, whoever it went to
        test_message = s.scalar(select(Message).where(Message.id == public_drill))
        assert test_message is not None
        test_message.mode = "test"
    assert anonymous.get(public_path(rt, public_drill)).status_code == 404


def test_feeds_link_only_public_pages(client: FlaskClient) -> None:
    rt = _rt(client)
    drill = create_approved(client, title="避難訓練のお知らせ", mode="exercise", channels=["rss"])["message_id"]
    system_test = create_approved(client, title="配信試験", mode="test", channels=["rss"])["message_id"]
    feed = client.application.test_client().get("/feeds/exercise.atom").get_data(as_text=True)
    assert "避難訓練のお知らせ" in feed and "配信試験" in feed
    links = re.findall(r'href="([^"]*/m/[^"]*)"', feed)
    assert links == [f"{rt.settings.public_url}{public_path(rt, drill)}"], "a system test has no public page"
    assert public_path(rt, system_test) not in feed


def test_a_staff_only_message_is_refused_on_the_public_channels(client: FlaskClient) -> None:
    """X and the feeds are read by anyone: approval does not make an internal text public."""
    for audience in ("staff", "department:bousai"):
        r = create(client, title="職員のみ", body="庁舎の鍵の場所", audience=audience, channels=["email", "rss", "x"])
        assert r.status_code == 400, audience
        problems = body(r)["error"]["problems"]
        assert "rss" in problems["channels"][0] and "x" in problems["channels"][0], problems
    feed = client.application.test_client().get("/feeds/all.atom").get_data(as_text=True)
    assert "庁舎の鍵の場所" not in feed and "職員のみ" not in feed
    with _rt(client).session() as s:
        assert s.scalar(select(Message).where(Message.title == "職員のみ")) is None, "nothing was stored"


def test_a_cancellation_is_linked_from_the_original_page_by_its_public_id(client: FlaskClient) -> None:
    rt = _rt(client)
    original = create_approved(client, title="断水のお知らせ", channels=["sms"])["message_id"]
    cancel = create_approved(client, title="取消", body="誤りでした", msg_type="cancel", references=original)
    page = client.application.test_client().get(public_path(rt, original)).get_data(as_text=True)
    assert f'href="{public_path(rt, cancel["message_id"])}"' in page
    assert f'href="/m/{cancel["message_id"]}"' not in page
