"""The preferences page a resident's personal link opens: change categories, areas, language, or stop."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import Area, AuditLog, Category, Consent, Contact
from hub.models.residents import Subscription
from hub.residents.links import PREFERENCES, UNSUBSCRIBE, ResidentLink, make_token
from hub.runtime import Runtime
from tests.api.support import csrf, login, seed


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    return app.test_client()


@pytest.fixture
def resident(runtime: Runtime) -> int:
    with runtime.session() as s:
        bousai = s.scalar(select(Category).where(Category.code == "bousai"))
        oshu = s.scalar(select(Area).where(Area.code == "0321500"))
        contact = Contact(kind="resident", name="", email="hanako@mail.example.jp", line_user_id="U" + "7" * 32,
                          categories=[bousai], areas=[oshu],
                          consents=[Consent(channel="email", source="web:register"),
                                    Consent(channel="line", source="line:follow")])
        s.add(contact)
        s.flush()
        return contact.id


def _path(runtime: Runtime, contact_id: int, purpose: str = PREFERENCES) -> str:
    return f"/r/p/{make_token(runtime.settings, ResidentLink(purpose, contact_id))}"


def test_the_page_shows_the_residents_choices(client: FlaskClient, runtime: Runtime, resident: int) -> None:
    response = client.get(_path(runtime, resident))
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "配信設定" in page
    assert 'value="bousai" checked' in page and 'value="kenko" >' in page
    assert 'value="0321500" checked' in page and "メール" in page and "LINE" in page


def test_changes_are_saved_dated_with_their_source_and_audited(
        client: FlaskClient, runtime: Runtime, resident: int) -> None:
    path = _path(runtime, resident)
    client.get(path)
    response = client.post(path, data={"csrf_token": csrf(client), "action": "save", "category": ["kenko", "zei"],
                                       "area": ["0320500", "0321300"], "language": "zh"})
    assert response.status_code == 200 and "保存しました" in response.get_data(as_text=True)
    with runtime.session() as s:
        contact = s.get(Contact, resident)
        assert contact is not None
        assert sorted(c.code for c in contact.categories) == ["kenko", "zei"]
        assert sorted(a.code for a in contact.areas) == ["0320500", "0321300"] and contact.language == "zh"
        records = s.scalars(select(Subscription).where(Subscription.contact_id == resident)).all()
        assert {(r.kind, r.code) for r in records if r.source == "web:preferences" and r.revoked_at is None} == {
            ("category", "kenko"), ("category", "zei"), ("area", "0320500"), ("area", "0321300"),
            ("language", "zh")}
        [change] = s.scalars(select(AuditLog).where(AuditLog.action == "preferences.changed",
                                                    AuditLog.subject_id == str(resident)))
        assert change.detail["categories"] == {"added": ["kenko", "zei"], "removed": ["bousai"]}
        assert change.detail["language"] == {"from": "ja", "to": "zh"} and change.actor == f"resident:{resident}"
    forged = client.post(path, data={"csrf_token": csrf(client), "action": "save", "category": ["kenko", "nosuch"],
                                     "area": ["0320500", "0321300"], "language": "xx"})
    assert forged.status_code == 200
    with runtime.session() as s:
        contact = s.get(Contact, resident)
        assert contact is not None and contact.language == "zh", "a language not offered leaves it as it was"
        assert sorted(c.code for c in contact.categories) == ["kenko"]


def test_stop_everything_revokes_every_consent(client: FlaskClient, runtime: Runtime, resident: int) -> None:
    path = _path(runtime, resident)
    client.get(path)
    response = client.post(path, data={"csrf_token": csrf(client), "action": "stop"})
    assert response.status_code == 200 and "すべての配信を停止しました" in response.get_data(as_text=True)
    with runtime.session() as s:
        consents = s.scalars(select(Consent).where(Consent.contact_id == resident)).all()
        assert consents and all(c.revoked_at is not None for c in consents)
        assert {c.revoked_source for c in consents} == {"web:preferences"}
        stops = s.scalars(select(AuditLog).where(AuditLog.action == "consent.revoked",
                                                 AuditLog.subject_id == str(resident))).all()
        assert sorted((a.detail["channel"], a.detail["source"]) for a in stops) == [
            ("email", "web:preferences"), ("line", "web:preferences")]
    assert 'id="stopped"' in client.get(path).get_data(as_text=True)


def test_bad_links_and_forms_are_4xx_and_change_nothing(
        client: FlaskClient, runtime: Runtime, resident: int) -> None:
    good = _path(runtime, resident)
    for path in ("/r/p/nonsense", good[:-3] + "abc", _path(runtime, resident, UNSUBSCRIBE).replace("/r/u/", "/r/p/"),
                 _path(runtime, 999_999)):
        assert client.get(path).status_code == 404
    client.get(good)
    assert client.post(good, data={"action": "stop"}).status_code == 400  # no CSRF token
    assert client.post(good, data={"csrf_token": csrf(client), "action": "bogus"}).status_code == 400
    with runtime.session() as s:
        assert all(c.revoked_at is None for c in s.scalars(select(Consent).where(Consent.contact_id == resident)))
        assert s.scalar(select(Subscription)) is None


def test_the_operators_contact_page_shows_what_the_resident_chose(
        client: FlaskClient, runtime: Runtime, resident: int) -> None:
    path = _path(runtime, resident)
    client.get(path)
    client.post(path, data={"csrf_token": csrf(client), "action": "save", "category": ["kenko"],
                            "area": ["0321500"], "language": "vi"})
    staff = client.application.test_client()
    assert login(staff, "admin").status_code == 302
    page = staff.get(f"/contacts/{resident}").get_data(as_text=True)
    table = page[page.index('id="choices"'):]
    assert "健康" in table and "Tiếng Việt" in table and "web:preferences" in table
