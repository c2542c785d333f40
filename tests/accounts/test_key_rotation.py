"""Rotating HUB_SECRET_KEY with the old key in HUB_SECRET_KEY_PREVIOUS: what the old key signed or
keyed keeps working — a resident's stop link in mail already sent, a bounce to an old return path,
the refusal to re-import someone erased on request, an operator's second factor and session — while
everything new uses the new key. Without the old key, the stop link would be dead: a resident could
no longer opt out from the mail they already have."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hub.accounts.sealing import seal_stored, unseal
from hub.app import create_app
from hub.bounces.addresses import delivery_of, return_path
from hub.config import ConfigError, Settings
from hub.contacts.erasure import erase_contact, identity_digest
from hub.contacts.importer import import_contacts
from hub.models import Consent, Contact, ErasedIdentity, Operator
from hub.residents import links
from hub.runtime import Runtime
from tests.accounts.support import code_at, enrol_totp, invoke, login_form
from tests.api.support import PASSWORDS, seed
from tests.residents.support import add_resident

OLD = "old-key-" + "o" * 40
NEW = "new-key-" + "n" * 40


def _runtime(app: Flask) -> Runtime:
    rt: Runtime = app.extensions["hub"]
    return rt


def test_what_the_old_key_signed_keeps_working_after_a_rotation(settings: Settings) -> None:
    before = create_app(replace(settings, secret_key=OLD))
    seed(before)
    rt = _runtime(before)
    resident = add_resident(rt, name="住民 一郎", email="ichiro@example.jp")
    with rt.session() as s:
        s.add(Consent(contact_id=resident, channel="email", source="test"))
    stop_link = links.make_token(rt.settings, links.ResidentLink(links.UNSUBSCRIBE, resident, "email"))
    bounce_to = return_path(rt.settings.secret_key, "bounce.city.example.jp", 4242)
    erased = add_resident(rt, name="消去 花子", phone="+819011112222")
    with rt.session() as s:
        erase_contact(s, s.get(Contact, erased), rt.settings.secret_keys, "operator:請求1", "admin")  # type: ignore[arg-type]
    officer = before.test_client()
    assert login_form(officer, "bousai2", PASSWORDS["bousai2"]).status_code == 302
    totp_secret = enrol_totp(officer)
    session_cookie = officer.get_cookie("session")
    assert session_cookie is not None

    after = create_app(replace(settings, secret_key=NEW, secret_key_previous=OLD))
    rt = _runtime(after)
    # The resident presses the one-click stop of an e-mail sent before the rotation.
    stopped = after.test_client().post(f"/r/u/{stop_link}", data={"List-Unsubscribe": "One-Click"})
    assert stopped.status_code == 200
    with rt.session() as s:
        consent = s.scalar(select(Consent).where(Consent.contact_id == resident, Consent.channel == "email"))
        assert consent is not None and consent.revoked_at is not None
    # A bounce for mail sent before the rotation still finds its row.
    assert delivery_of(rt.settings.secret_keys, bounce_to) == 4242
    # The person erased before the rotation is still not brought back by an old list.
    with rt.session() as s:
        report = import_contacts(s, "name,phone\n消去 花子,09011112222\n".encode(), "list.csv",
                                 secret_key=rt.settings.secret_keys)
    assert report.created == 0 and report.errors and "消去" in report.errors[0].reason
    # The officer stays signed in, and the second factor enrolled under the old key still works.
    carried = after.test_client()
    carried.set_cookie("session", session_cookie.value)
    assert carried.get("/").status_code == 200
    again = after.test_client()
    assert login_form(again, "bousai2", PASSWORDS["bousai2"], code=code_at(totp_secret, 1)).status_code == 302
    # New links are signed with the new key alone.
    fresh = links.make_token(rt.settings, links.ResidentLink(links.UNSUBSCRIBE, resident, "email"))
    only_new = replace(rt.settings, secret_key_previous="")
    assert links.read_token(only_new, links.UNSUBSCRIBE, fresh).contact_id == resident
    with pytest.raises(links.ResidentLinkError):
        links.read_token(only_new, links.UNSUBSCRIBE, stop_link)  # what the old key alone would lose

    # `hub db upgrade` seals the seeds again with the new key: then the old key can go.
    with rt.session() as s:
        assert seal_stored(s, rt.settings.secret_keys) == 1
    with rt.session() as s:
        stored = s.scalar(select(Operator.totp_secret).where(Operator.username == "bousai2"))
        assert stored is not None and unseal(NEW, stored) == totp_secret and unseal(OLD, stored) is None


def test_without_the_old_key_its_links_are_refused(settings: Settings) -> None:
    before = create_app(replace(settings, secret_key=OLD))
    seed(before)
    resident = add_resident(_runtime(before), name="住民 二郎", email="jiro@example.jp")
    stop_link = links.make_token(_runtime(before).settings, links.ResidentLink(links.UNSUBSCRIBE, resident, "email"))
    after: FlaskClient = create_app(replace(settings, secret_key=NEW)).test_client()
    assert after.post(f"/r/u/{stop_link}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert delivery_of(NEW, return_path(OLD, "bounce.city.example.jp", 7)) is None


def test_production_refuses_a_weak_previous_key(settings: Settings) -> None:
    strong = replace(settings, env="production", allow_sandbox=True, secret_key=NEW)
    for weak in ("dev-only-change-me", "short"):
        with pytest.raises(ConfigError, match="HUB_SECRET_KEY_PREVIOUS"):
            replace(strong, secret_key_previous=f"{OLD} {weak}").check_startup([])
    replace(strong, secret_key_previous=f"{OLD},{NEW}").check_startup([])  # the current key listed too: ignored


def _imports_back(app: Flask, phone: str) -> bool:
    """Whether the city's own list, imported again without a new consent, brings this person back."""
    rt = _runtime(app)
    with rt.session() as s:
        report = import_contacts(s, f"name,phone\n誰か,{phone}\n".encode(), "list.csv",
                                 secret_key=rt.settings.secret_keys)
        if report.errors:
            assert "消去" in report.errors[0].reason, report.errors
    return report.created == 1


def test_the_erased_stay_recognised_after_the_old_key_is_dropped(settings: Settings) -> None:
    """A key that leaked must leave HUB_SECRET_KEY_PREVIOUS: the people erased before the rotation
    are still recognised afterwards, because their fingerprints have a key of their own that
    `hub db upgrade` seals again with the new key."""
    before = create_app(replace(settings, secret_key=OLD))
    seed(before)
    erased = add_resident(_runtime(before), name="消去 三郎", phone="+819022223333")
    with _runtime(before).session() as s:
        erase_contact(s, s.get(Contact, erased), OLD, "operator:請求2", "admin")  # type: ignore[arg-type]

    rotated = create_app(replace(settings, secret_key=NEW, secret_key_previous=OLD))
    result = invoke(rotated, "db", "upgrade")
    assert result.exit_code == 0 and "erasure fingerprint key" in result.output, result.output
    dropped = create_app(replace(settings, secret_key=NEW))
    assert not _imports_back(dropped, "09022223333")
    assert _imports_back(dropped, "09022224444"), "someone never erased is imported as usual"


def test_fingerprints_made_with_the_secret_key_itself_are_still_recognised(settings: Settings) -> None:
    """Erasures recorded before the fingerprint key existed were keyed with HUB_SECRET_KEY."""
    app = create_app(replace(settings, secret_key=NEW, secret_key_previous=OLD))
    seed(app)
    with _runtime(app).session() as s:
        s.add(ErasedIdentity(digest=identity_digest(OLD, "phone", "+819055556666")))
    assert not _imports_back(app, "09055556666")


def test_an_erasure_still_happens_when_its_fingerprint_key_cannot_be_opened(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The old key went before `hub db upgrade` sealed the fingerprint key again: erasing goes on
    (the person's details go), keyed with HUB_SECRET_KEY meanwhile, and the log says so."""
    before = create_app(replace(settings, secret_key=OLD))
    seed(before)
    first = add_resident(_runtime(before), name="消去 四郎", phone="+819077778888")
    with _runtime(before).session() as s:
        erase_contact(s, s.get(Contact, first), OLD, "operator:請求3", "admin")  # type: ignore[arg-type]

    after = create_app(replace(settings, secret_key=NEW))
    second = add_resident(_runtime(after), name="消去 五郎", phone="+819077779999")
    with _runtime(after).session() as s:
        done = erase_contact(s, s.get(Contact, second), NEW, "operator:請求4", "admin")  # type: ignore[arg-type]
        assert not done.already and s.get(Contact, second).phone is None  # type: ignore[union-attr]
    assert "fingerprint key cannot be opened" in caplog.text
    assert not _imports_back(after, "09077779999")
