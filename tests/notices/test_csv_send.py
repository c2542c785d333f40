"""A personalised CSV send: every bad row reported by line before anything is stored, each resident's
own text through Twilio's SDK to the sandbox, and the export carrying each row's values."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from hub.compose.status import export_deliveries_csv
from hub.models import Consent, Contact, CsvSend, Delivery, Message
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.notices.support import HEADER, checked, csv_bytes, mobile, request, send
from tests.support.hubtools import counts


def _thousand_rows(runtime: Runtime) -> tuple[bytes, dict[int, str]]:
    """1,000 data rows (lines 2–1001) of which 12 are bad, of six kinds; the bad lines and why."""
    with runtime.session() as s:
        stopped = Contact(kind="resident", name="停止 済", phone="+819012349990")
        stopped.consents.append(Consent(channel="sms", source="test"))
        s.add(stopped)
        s.flush()
        stopped.consents[0].revoked_at = stopped.created_at
    lines, bad = [HEADER], {}
    for n in range(1000):
        line = n + 2
        name, phone, consent = f"住民{n:04d}", mobile(n), "all"
        match n:
            case 10 | 20:
                phone, bad[line] = "090-12", "電話番号"
            case 30 | 40:
                name, bad[line] = "", "空"
            case 50 | 60:
                phone, bad[line] = f"03-3581-{n:04d}", "固定電話"
            case 70 | 80:
                consent, bad[line] = "", "同意"
            case 90 | 100:
                phone, bad[line] = mobile(n - 1), "同じ宛先"
            case 110 | 120:
                phone, bad[line] = "090-1234-9990", "停止"
        lines.append(f"{phone},{name},12月{1 + n % 20}日 {9 + n % 8}:00,{consent}")
    return csv_bytes(lines), bad


def test_a_thousand_row_shift_jis_file(runtime: Runtime, sandbox_client: SandboxClient, clock: ManualClock) -> None:
    data, bad = _thousand_rows(runtime)
    report = checked(runtime, request(data))
    assert {e.line: e.reason for e in report.errors}.keys() == bad.keys()
    for error in report.errors:
        assert bad[error.line] in error.reason, error
    assert len(report.rows) == 988
    preview = report.preview(unit_price=3.3)
    sms = preview["channels"]["sms"]
    assert sms["samples"][0]["text"] == "健診のご案内\n住民0000様 12月1日 9:00に健診のご予約があります。"
    assert preview["sms_segments"] == sum(r.rendered["sms"].units for r in report.rows)
    assert preview["estimated_cost_yen"] == round(preview["sms_segments"] * 3.3, 2)
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(CsvSend)) == 0  # checking stores nothing

    sandbox_client.clear()
    _send_id, [message_id] = send(runtime, request(data))
    sent = counts(runtime, message_id)["sms"]  # once: status callbacks move rows from sent to delivered
    assert sent["sent"] + sent["delivered"] == 988 and sent["failed"] == sent["unknown"] == 0
    for n in (0, 1, 499, 998):
        [item] = sandbox_client.inbox(channel="sms", to=f"+8190{mobile(n)[4:].replace('-', '')}")
        assert item["text"] == f"健診のご案内\n住民{n:04d}様 12月{1 + n % 20}日 {9 + n % 8}:00に健診のご予約があります。"
    assert sandbox_client.inbox(channel="sms", to="+819012349990") == []  # the resident who stopped

    with runtime.session() as s:
        exported = "".join(export_deliveries_csv(s, message_id)).lstrip("\ufeff")
        message = s.get(Message, message_id)
        assert message is not None and message.body == "{{氏名}}様 {{予約日時}}に健診のご予約があります。"
        assert s.scalar(select(func.count()).select_from(Delivery).where(Delivery.message_id == message_id)) == 988
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 988
    first = next(r for r in rows if r["address"].endswith("+819012340007"))  # quoted against formulas
    assert (first["csv_line"], first["氏名"], first["予約日時"]) == ("9", "住民0007", "12月8日 16:00")
