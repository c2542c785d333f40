"""The retention periods: after HUB_HISTORY_RETENTION_DAYS a finished message's addresses are masked
and its CSV values cleared, the record of what was sent staying; after HUB_STOPPED_RETENTION_DAYS a
resident who stopped everything is erased. 0 keeps everything; under 30 days counts as 30."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select, update

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.contacts.retention import apply_retention
from hub.models import AuditLog, Consent, Contact, CsvRow, CsvSend, Delivery, DeliveryState, Message, utcnow
from hub.runtime import Runtime
from tests.api.support import TOKENS, seed
from tests.residents.support import OSHU, add_resident
from tests.support.hubtools import rows, send, wait_for


@pytest.fixture
def city(app: Flask) -> Flask:
    seed(app, residents=0, staff=0)
    return app


def _sent(runtime: Runtime, days_ago: int) -> int:
    message_id = send(runtime, channels=["sms", "email"], audience=f"area:{OSHU}", category_code="bousai",
                      title="避難指示", body="避難してください。")
    # Until the carriers' last word is in, so a late callback does not move a row during the test.
    wait_for(lambda: bool(rows(runtime, message_id)) and all(
        r.state == "delivered" if r.channel == "sms" else r.state in ("sent", "delivered")
        for r in rows(runtime, message_id)))
    with runtime.session() as s:
        s.execute(update(Message).where(Message.id == message_id).values(
            created_at=utcnow() - timedelta(days=days_ago), planned_at=utcnow() - timedelta(days=days_ago)))
    return message_id


def _states(runtime: Runtime, message_id: int) -> Counter[tuple[str, str]]:
    return Counter((r.channel, r.state) for r in rows(runtime, message_id))


def test_an_old_messages_addresses_are_masked_and_the_record_of_what_was_sent_stays(
        city: Flask, runtime: Runtime) -> None:
    add_resident(runtime, phone="+819012340001", email="a@mail.example.jp")
    add_resident(runtime, phone="+819012340002")
    old, recent = _sent(runtime, days_ago=40), _sent(runtime, days_ago=20)
    before_old, before_recent = _states(runtime, old), _states(runtime, recent)
    with runtime.session() as s:
        upload = CsvSend(filename="kenshin.csv", title="健診", body="{{氏名}}様", channels=["sms"], columns=["氏名"])
        s.add(upload)
        s.flush()
        s.add(CsvRow(csv_send_id=upload.id, message_id=old, line=2, values={"氏名": "住民 一郎"},
                     addresses={"sms": "+819012340001"}))
        # One row of the old message is still being checked with its provider.
        doubted = s.scalar(select(Delivery.id).where(Delivery.message_id == old, Delivery.channel == "sms")
                           .order_by(Delivery.id).limit(1))
        s.execute(update(Delivery).where(Delivery.id == doubted).values(state=DeliveryState.CHECKING))

    for keeps in (0, 10):  # 0 keeps everything; 10 counts as 30, and the old one is 40 days old
        settings = replace(runtime.settings, history_retention_days=keeps)
        with runtime.session() as s:
            apply_retention(s, settings)
        assert all("保存期間経過" not in r.address for r in rows(runtime, recent))
    assert all("保存期間経過" in r.address for r in rows(runtime, old) if r.id != doubted), \
        "10 days counts as 30: the 40-day-old message is past it"
    with runtime.session() as s:
        message = s.get(Message, old)
        assert message is not None and message.history_masked_at is None, "a row in doubt is not done yet"
        assert s.scalar(select(CsvRow.values)) == {"氏名": "住民 一郎"}
        assert s.get(Delivery, doubted).address == "+819012340001", "asking the provider still needs it"
        s.execute(update(Delivery).where(Delivery.id == doubted).values(state=DeliveryState.SENT))

    settings = replace(runtime.settings, history_retention_days=30)
    with runtime.session() as s:
        report = apply_retention(s, settings)
    assert (report.messages, report.rows, report.csv_rows) == (1, 1, 1)
    after = rows(runtime, old)
    assert all(r.address.startswith(("+81 90-****-", "a***@")) and f"保存期間経過 #{r.id}" in r.address
               for r in after)
    assert len(after) == sum(before_old.values()) and {r.state for r in after} <= {"sent", "delivered"}, \
        "every row and its state stay"
    assert [r.address for r in rows(runtime, recent)] != [] and _states(runtime, recent) == before_recent
    with runtime.session() as s:
        message = s.get(Message, old)
        assert message is not None and message.history_masked_at is not None
        assert (message.title, message.body) == ("避難指示", "避難してください。"), "what was sent stays"
        assert s.scalar(select(CsvRow.values)) == {} and s.scalar(select(CsvRow.addresses)) == {}
        assert s.scalar(select(AuditLog.detail).where(AuditLog.action == "retention.applied")
                        .order_by(AuditLog.id.desc()).limit(1))["messages"] == 1
    with runtime.session() as s:
        again = apply_retention(s, settings)
    assert (again.messages, again.rows) == (0, 0), "nothing twice"


def test_a_resident_who_stopped_everything_long_ago_is_erased(city: Flask, runtime: Runtime) -> None:
    long_ago, lately = utcnow() - timedelta(days=70), utcnow() - timedelta(days=10)
    stopped = add_resident(runtime, phone="+819012340011")
    stopped_lately = add_resident(runtime, phone="+819012340012")
    still_reads_mail = add_resident(runtime, phone="+819012340013", email="c@mail.example.jp")
    with runtime.session() as s:
        staff = Contact(kind="staff", name="職員", phone="+819012340014",
                        consents=[Consent(channel="sms", source="hr", revoked_at=long_ago)])
        s.add(staff)
        s.flush()
        staff_id = staff.id
        for who, when in ((stopped, long_ago), (stopped_lately, lately), (still_reads_mail, long_ago)):
            s.execute(update(Consent).where(Consent.contact_id == who, Consent.channel == "sms")
                      .values(revoked_at=when, revoked_source="sms:停止"))

    with runtime.session() as s:
        report = apply_retention(s, replace(runtime.settings, stopped_retention_days=60))
    assert report.erased == [stopped]
    with runtime.session() as s:
        erased = s.get(Contact, stopped)
        assert erased is not None and erased.erased_at is not None and erased.phone is None
        assert [e.detail["source"] for e in s.scalars(select(AuditLog).where(AuditLog.action == "contact.erased"))] \
            == ["retention"]
        assert s.get(Contact, stopped_lately).phone == "+819012340012"
        assert s.get(Contact, still_reads_mail).phone == "+819012340013", "one channel still live"
        assert s.get(Contact, staff_id).phone == "+819012340014", "staff are the city's own records"


def test_the_command_applies_both_periods_for_an_administrator_only(
        city: Flask, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    add_resident(runtime, phone="+819012340021")
    old = _sent(runtime, days_ago=400)
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, history_retention_days=365))

    def hub(who: str, *args: str) -> tuple[int, str]:
        context = HubContext()
        context._app = city
        result = CliRunner().invoke(main, list(args), obj=context, env={TOKEN_ENV: TOKENS[who]})
        return result.exit_code, result.output

    code, out = hub("bousai1", "contacts", "retention")
    assert code != 0 and "権限がありません" in out
    assert all("保存期間経過" not in r.address for r in rows(runtime, old))
    code, out = hub("admin", "contacts", "retention")
    assert code == 0 and "宛先を伏せた配信: 1 件" in out, out
    assert all("保存期間経過" in r.address for r in rows(runtime, old))
