"""A later CSV import never re-subscribes a resident who stopped, unless the row carries a new consent.

The rule (hub/contacts/importer.py): after a stop, only a row whose consent_date is given and falls
on a later day than the stop (Japan time) adds a consent; the same file imported again, a row
without a date or with an older one, leaves the consent revoked and is counted in kept_revoked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from hub.contacts.importer import import_contacts
from hub.models import Consent, Contact
from hub.residents.optout import revoke
from hub.runtime import Runtime
from sandbox import Sandbox
from tests.support.hubtools import rows, send

PHONE = "+819012340001"
CSV = "external_id,name,phone,consent,consent_date\nR1,山田 太郎,090-1234-0001,sms,{date}\n"
# Noon in Japan a month ago: "the day of the stop" is the same date in UTC and in Japan time.
STOPPED_AT = (datetime.now(UTC) - timedelta(days=30)).replace(hour=3, minute=0, second=0, microsecond=0)


def _day(offset: int) -> str:
    """The date ``offset`` days after the stop, as a CSV carries it."""
    return (STOPPED_AT + timedelta(days=offset)).date().isoformat()


def _import(runtime: Runtime, date: str) -> int:
    with runtime.session() as session:
        report = import_contacts(session, CSV.format(date=date).encode(), secret_key="test", source="csv:residents.csv")
        assert not report.errors
        return report.kept_revoked


def _stop(runtime: Runtime) -> None:
    with runtime.session() as session:
        assert revoke(session, Contact.phone == PHONE, "sms", "sms:停止", actor="test")
        session.query(Consent).update({"revoked_at": STOPPED_AT})


def _live(runtime: Runtime) -> list[str]:
    with runtime.session() as session:
        return list(session.scalars(select(Consent.source).where(Consent.revoked_at.is_(None))))


def test_reimporting_the_same_file_keeps_the_stop(runtime: Runtime) -> None:
    assert _import(runtime, _day(-60)) == 0
    _stop(runtime)
    assert _import(runtime, _day(-60)) == 1  # the very same file
    assert _import(runtime, "") == 1  # no date: "now" is not a resident's new consent
    assert _import(runtime, _day(0)) == 1  # the day of the stop: cannot tell which came first
    # A date in the future is a typo, not a consent; two days ahead is the future in Japan whatever
    # the hour (one day ahead in UTC is already today there from 15:00 UTC).
    assert _import(runtime, _day(32)) == 1
    assert _live(runtime) == []
    with runtime.session() as session:
        [consent] = session.scalars(select(Consent))
        assert (consent.revoked_source, consent.revoked_at) == ("sms:停止", STOPPED_AT)


def test_a_consent_dated_after_the_stop_resubscribes(runtime: Runtime) -> None:
    _import(runtime, _day(-60))
    _stop(runtime)
    assert _import(runtime, _day(1)) == 0
    with runtime.session() as session:
        consents = sorted(session.scalars(select(Consent)), key=lambda c: c.given_at)
        assert [(c.given_at.date().isoformat(), c.revoked_at is None) for c in consents] == [
            (_day(-60), False), (_day(1), True)]  # the stop stays on record


def test_reimport_after_an_sms_stop_sends_nothing(
    app: Flask, runtime: Runtime, sandbox: Sandbox
) -> None:
    """End to end through the sandbox: STOP by SMS, the same CSV again, the next message skips the number."""
    _import(runtime, _day(-60))
    sandbox.send_sms(PHONE, "+815012345678", "STOP")
    assert _import(runtime, _day(-60)) == 1
    message_id = send(runtime, channels=["sms"])
    [row] = rows(runtime, message_id, "sms")
    assert (row.state, row.reason) == ("skipped", "opted_out")
    assert sandbox.inbox("sms", to=PHONE)[-1]["text"].startswith("You are unsubscribed")
