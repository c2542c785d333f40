"""Erasing a person on their request: a resident's own 「登録を削除する」, or an operator's in the
console or on the command line. The details go, the city's proof of what it sent stays without
addresses, nothing more is sent, and the city's own list imported again does not bring them back."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.contacts.erasure import erase_contact, mask_settled_follow_ups
from hub.contacts.importer import import_contacts
from hub.dispatch.tasks import send_batch
from hub.models import (
    AuditLog,
    Consent,
    Contact,
    Delivery,
    DeliveryState,
    ErasedIdentity,
    ErasureFollowUp,
    Subscription,
    utcnow,
)
from hub.residents.links import ANSWER, PREFERENCES, ResidentLink, make_token
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import TOKENS, bearer, csrf, login, seed
from tests.residents.support import OSHU, add_resident
from tests.support.hubtools import rows, send, wait_for

PHONE = "+819012345678"
MAILBOX = "erase.me@mail.example.jp"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    seed(app)
    return app.test_client()


def _resident(runtime: Runtime, **fields: object) -> int:
    contact_id = add_resident(runtime, name="消去 希望", **fields)
    with runtime.session() as s:
        s.add(Subscription(contact_id=contact_id, kind="category", code="bousai", source="web:register"))
    return contact_id


def _preferences(runtime: Runtime, contact_id: int) -> str:
    return f"/r/p/{make_token(runtime.settings, ResidentLink(PREFERENCES, contact_id))}"


def _settled(runtime: Runtime, message_id: int) -> list[Delivery]:
    # Until the carriers' last word is in, so a late callback does not move a row during the test.
    final = {"sms": ("delivered", "skipped")}
    wait_for(lambda: all(r.state in final.get(r.channel, ("sent", "delivered", "skipped"))
                         for r in rows(runtime, message_id)))
    return rows(runtime, message_id)


def test_a_resident_erases_their_registration_and_only_masked_proof_remains(
        client: FlaskClient, runtime: Runtime) -> None:
    me = _resident(runtime, phone=PHONE, email=MAILBOX)
    first = send(runtime, channels=["sms", "email"], audience=f"area:{OSHU}", category_code="bousai",
                 title="避難指示", body="避難してください。")
    mine = [r for r in _settled(runtime, first) if r.contact_id == me]
    assert {r.address for r in mine} == {PHONE, MAILBOX}
    # A later send still waiting for them, and one row a worker holds at this moment.
    later = send(runtime, channels=["sms", "email"], audience=f"area:{OSHU}", category_code="bousai",
                 title="避難指示（続報）", body="避難を続けてください。")
    _settled(runtime, later)
    with runtime.session() as s:
        held = s.scalar(select(Delivery.id).where(Delivery.message_id == later, Delivery.contact_id == me,
                                                  Delivery.channel == "sms"))
        waiting = s.scalar(select(Delivery.id).where(Delivery.message_id == later, Delivery.contact_id == me,
                                                     Delivery.channel == "email"))
        # (another request's id: a late callback of the real one does not settle it meanwhile)
        s.execute(update(Delivery).where(Delivery.id == held).values(state=DeliveryState.SENDING,
                                                                      provider_id="SM-held"))
        s.execute(update(Delivery).where(Delivery.id == waiting).values(state=DeliveryState.PENDING))

    path = _preferences(runtime, me)
    page = client.get(path).get_data(as_text=True)
    assert 'id="erase"' in page and "元に戻すことはできません" in page
    unconfirmed = client.post(path, data={"csrf_token": csrf(client), "action": "erase"})
    assert unconfirmed.status_code == 422 and 'id="erase-error"' in unconfirmed.get_data(as_text=True)
    with runtime.session() as s:
        assert s.get(Contact, me).erased_at is None, "nothing happens without the tick"

    done = client.post(path, data={"csrf_token": csrf(client), "action": "erase", "confirm_erase": "yes"})
    assert done.status_code == 200 and "登録を削除しました" in done.get_data(as_text=True)

    with runtime.session() as s:
        contact = s.get(Contact, me)
        assert contact is not None and contact.erased_at is not None and not contact.active
        assert (contact.name, contact.phone, contact.email, contact.line_user_id) == ("", None, None, None)
        assert contact.categories == [] and contact.areas == []
        assert {(c.channel, c.revoked_source) for c in contact.consents} == {
            ("sms", "web:preferences"), ("email", "web:preferences")}, "the consents stay, as revoked"
        assert all(sub.revoked_at for sub in s.scalars(select(Subscription).where(Subscription.contact_id == me)))
        history = {r.id: r for r in s.scalars(select(Delivery).where(Delivery.contact_id == me))}
        [entry] = s.scalars(select(AuditLog).where(AuditLog.action == "contact.erased"))
        assert entry.actor == f"resident:{me}" and entry.detail["skipped"] == 1 and entry.detail["in_hand"] == 1
        assert PHONE not in str(entry.detail) and MAILBOX not in str(entry.detail)
    sent_before = [r for r in history.values() if r.message_id == first]
    assert {r.state for r in sent_before} <= {"sent", "delivered"}, "what was sent is still shown as sent"
    assert sorted(r.address.split("（")[0] for r in sent_before) == ["+81 90-****-5678", "e***@mail.example.jp"]
    assert all(f"消去済み #{r.id}" in r.address for r in sent_before)
    assert (history[waiting].state, history[waiting].reason) == ("skipped", "erased"), "never sent now"
    assert history[held].address == PHONE, "a worker holds it: asking the provider needs the number"

    # It settles; the sweeper's next round masks it too.
    with runtime.session() as s:
        s.execute(update(Delivery).where(Delivery.id == held).values(state=DeliveryState.DELIVERED))
    with runtime.session() as s:
        assert mask_settled_follow_ups(s) == 1
    with runtime.session() as s:
        assert PHONE not in (s.get(Delivery, held).address or "")
        assert s.scalars(select(ErasureFollowUp)).all() == []

    # Their links say so; nothing more is sent to them.
    again = client.get(path)
    assert again.status_code == 410 and "この登録は削除されています" in again.get_data(as_text=True)
    answer = f"/r/a/{make_token(runtime.settings, ResidentLink(ANSWER, me, 'sms', first))}"
    assert client.get(answer).status_code == 404
    after = send(runtime, channels=["sms", "email"], audience="all", title="お知らせ", body="本文")
    assert not [r for r in _settled(runtime, after) if r.contact_id == me or r.address in (PHONE, MAILBOX)]


def test_the_citys_list_imported_again_does_not_bring_an_erased_person_back(runtime: Runtime) -> None:
    secret = runtime.settings.secret_key
    with runtime.session() as s:
        s.add(Contact(kind="resident", name="名簿 太郎", external_id="R-001", phone=PHONE,
                      consents=[Consent(channel="sms", source="csv:roster.csv")]))
    with runtime.session() as s:
        contact = s.scalar(select(Contact).where(Contact.external_id == "R-001"))
        assert contact is not None
        erase_contact(s, contact, secret, "operator:削除請求 第12号", "admin")
    roster = "external_id,name,phone,consent\nR-001,名簿 太郎,090-1234-5678,sms\n"
    by_phone = "external_id,name,phone,consent\nR-999,別番号 扱い,090-1234-5678,sms\n"
    with runtime.session() as s:
        for data in (roster, by_phone):
            report = import_contacts(s, data.encode(), source="csv:roster.csv", secret_key=secret)
            assert report.created == 0 and len(report.errors) == 1
            assert "本人の請求により" in report.errors[0].reason and "consent_date" in report.errors[0].reason
    with runtime.session() as s:
        assert s.scalar(select(Contact).where(Contact.phone == PHONE)) is None

    # Consent given after the erasure (the person asked again) is a new beginning.
    with runtime.session() as s:
        s.execute(update(ErasedIdentity).values(erased_at=utcnow() - timedelta(days=10)))
    renewed = (utcnow() - timedelta(days=3)).strftime("%Y-%m-%d")
    with runtime.session() as s:
        report = import_contacts(s, (roster.replace("consent\n", "consent,consent_date\n").rstrip("\n")
                                     + f",{renewed}\n").encode(), source="csv:roster.csv", secret_key=secret)
        assert (report.created, report.errors) == (1, [])


def test_an_operator_erases_on_a_request_through_the_console_and_the_command_line(
        client: FlaskClient, app: Flask, runtime: Runtime) -> None:
    on_web = _resident(runtime, phone="+819011110001")
    on_cli = _resident(runtime, email="cli.erase@mail.example.jp")

    login(client, "viewer")  # residents are the register keepers' (here: admins'): not even shown
    assert client.get(f"/contacts/{on_web}").status_code == 404
    refused = client.post(f"/contacts/{on_web}/erase",
                          data={"csrf_token": csrf(client), "reason": "x", "confirm_erase": "yes"})
    assert refused.status_code == 404
    with runtime.session() as s:
        assert s.get(Contact, on_web).erased_at is None
    client.post("/logout", data={"csrf_token": csrf(client)})

    login(client, "admin")
    assert 'id="erase-form"' in client.get(f"/contacts/{on_web}").get_data(as_text=True)
    no_reason = client.post(f"/contacts/{on_web}/erase", data={"csrf_token": csrf(client), "confirm_erase": "yes"})
    assert no_reason.status_code == 422 and 'id="erase-error"' in no_reason.get_data(as_text=True)
    done = client.post(f"/contacts/{on_web}/erase", follow_redirects=True,
                       data={"csrf_token": csrf(client), "reason": "削除請求 第7号", "confirm_erase": "yes"})
    page = done.get_data(as_text=True)
    assert done.status_code == 200 and "消去済みの連絡先" in page and 'id="erased-note"' in page
    assert "+819011110001" not in page and 'id="erase-form"' not in page
    listed = client.get("/contacts?kind=resident").get_data(as_text=True)
    assert f'/contacts/{on_web}"' not in listed and f'/contacts/{on_cli}"' in listed, \
        "an erased person is no longer listed (nor exported)"
    exported = client.get("/contacts/export.csv?kind=resident").get_data(as_text=True)
    rows_out = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    assert rows_out and all(r["active"] == "1" for r in rows_out), "the erased (inactive, empty) row is left out"

    def hub(who: str, *args: str) -> tuple[int, str]:
        context = HubContext()
        context._app = app
        result = CliRunner().invoke(main, list(args), obj=context, env={TOKEN_ENV: TOKENS[who]})
        return result.exit_code, result.output

    code, out = hub("bousai1", "contacts", "erase", str(on_cli), "--reason", "削除請求 第8号", "--yes")
    assert code != 0 and "権限がありません" in out, "residents are the register keepers' (here: admins')"
    code, out = hub("admin", "contacts", "erase", str(on_cli), "--reason", "削除請求 第8号", "--yes")
    assert code == 0 and "消去しました" in out, out
    with runtime.session() as s:
        assert s.get(Contact, on_cli).email is None
        details = {e.subject_id: e for e in s.scalars(select(AuditLog).where(AuditLog.action == "contact.erased"))}
        assert (details[str(on_web)].actor, details[str(on_web)].detail["source"]) == (
            "admin", "operator:削除請求 第7号")
        assert details[str(on_cli)].detail["source"] == "operator:削除請求 第8号"


def test_the_api_erases_under_the_same_rule_and_says_what_it_did(client: FlaskClient, runtime: Runtime) -> None:
    me = _resident(runtime, phone="+819011110002")
    path = f"/api/v1/contacts/{me}/erase"
    assert client.post(path, json={"reason": "削除請求 第9号"}, headers=bearer("admin")).status_code == 400, \
        "confirm: true is required"
    assert client.post(path, json={"reason": " ", "confirm": True}, headers=bearer("admin")).status_code == 400
    assert client.post(path, json={"reason": "x" * 81, "confirm": True}, headers=bearer("admin")).status_code == 400
    assert client.post(path, json={"reason": "削除請求 第9号", "confirm": True},
                       headers=bearer("bousai1")).status_code == 404, "a sender of 防災 does not keep the register"
    assert client.post("/api/v1/contacts/999999999999/erase", json={"reason": "x", "confirm": True},
                       headers=bearer("admin")).status_code == 404
    with runtime.session() as s:
        assert s.get(Contact, me).phone == "+819011110002", "nothing changed so far"
    done = client.post(path, json={"reason": "削除請求 第9号", "confirm": True}, headers=bearer("admin"))
    assert done.status_code == 200 and done.json == {"contact_id": me, "already": False, "skipped": 0, "masked": 0,
                                                     "in_hand": 0}
    again = client.post(path, json={"reason": "削除請求 第9号", "confirm": True}, headers=bearer("admin"))
    assert again.status_code == 200 and again.json["already"] is True
    with runtime.session() as s:
        assert s.get(Contact, me).phone is None
        assert len(s.scalars(select(AuditLog).where(AuditLog.action == "contact.erased")).all()) == 1


def test_a_row_planned_from_a_read_made_just_before_the_erasure_is_not_sent(
        client: FlaskClient, runtime: Runtime, sandbox_client: SandboxClient) -> None:
    """A send's planning read the person before the erasure committed and wrote their row after it:
    the batch's last check skips the row, and the sweeper masks it."""
    me = _resident(runtime, phone=PHONE)
    message_id = send(runtime, channels=["sms"], audience=f"area:{OSHU}", category_code="bousai",
                      title="避難指示", body="避難してください。")
    _settled(runtime, message_id)
    with runtime.session() as s:
        contact = s.get(Contact, me)
        assert contact is not None
        erase_contact(s, contact, runtime.settings.secret_key, "web:preferences", "resident")
    with runtime.session() as s:  # as the racing planner left it: pending, with the real number
        row = s.scalar(select(Delivery).where(Delivery.message_id == message_id, Delivery.contact_id == me))
        assert row is not None
        s.execute(update(Delivery).where(Delivery.id == row.id).values(
            address=PHONE, state=DeliveryState.PENDING, provider_id=None, attempts=0))
        row_id, batch_no = row.id, row.batch_no
    copies = len(sandbox_client.inbox("sms", to=PHONE))
    send_batch(message_id, "sms", batch_no)
    with runtime.session() as s:
        skipped = s.get(Delivery, row_id)
        assert skipped is not None and (skipped.state, skipped.reason) == ("skipped", "erased")
    assert len(sandbox_client.inbox("sms", to=PHONE)) == copies, "no second copy after the erasure"
    with runtime.session() as s:
        assert mask_settled_follow_ups(s) == 1
    with runtime.session() as s:
        assert PHONE not in (s.get(Delivery, row_id).address or "")


def test_a_staff_members_call_out_steps_are_masked_too(client: FlaskClient, runtime: Runtime) -> None:
    from hub.models.relay import AttemptState, Callout, CalloutTarget, ContactAttempt, Survey

    with runtime.session() as s:
        staff = Contact(kind="staff", name="退職 予定", phone="+819077770901")
        s.add(staff)
        s.flush()
        survey = Survey(code="sanshu_test", title="参集", intro="", builtin=False)
        s.add(survey)
        s.flush()
        callout = Callout(survey_id=survey.id, title="参集", chain=["sms", "voice"])
        s.add(callout)
        s.flush()
        target = CalloutTarget(callout_id=callout.id, contact_id=staff.id)
        s.add(target)
        s.flush()
        retried, in_flight = (ContactAttempt(callout_id=callout.id, target_id=target.id, cycle=1, step_index=i,
                                      channel=ch, address="+819077770901", state=state)
                       for i, (ch, state) in enumerate((("sms", AttemptState.RETRY), ("voice", AttemptState.SENDING))))
        s.add_all([retried, in_flight])
        s.flush()
        ids = (staff.id, retried.id, in_flight.id)
    with runtime.session() as s:
        contact = s.get(Contact, ids[0])
        assert contact is not None
        erase_contact(s, contact, runtime.settings.secret_key, "operator:退職", "admin")
    with runtime.session() as s:
        assert "消去済み" in (s.get(ContactAttempt, ids[1]).address or ""), \
            "the engine never contacts an erased (inactive) person again, so the retry is not sent"
        assert s.get(ContactAttempt, ids[2]).address == "+819077770901", "a step being sent right now keeps it"
