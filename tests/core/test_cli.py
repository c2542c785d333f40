"""The `hub` command as an officer uses it: send, status, export."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from flask import Flask

from hub.cli import main
from hub.cli.context import HubContext
from hub.demo.seed import seed_demo
from hub.runtime import Runtime


def _invoke(app: Flask, *args: str) -> tuple[int, str, bytes]:
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, list(args), obj=hub)
    return result.exit_code, result.output if result.exit_code else result.stdout, result.stdout_bytes


def test_send_wait_json_prints_counts_per_channel(app: Flask, runtime: Runtime) -> None:
    with runtime.session() as session:
        seed_demo(session, residents=50, staff=5)
    code, out, _ = _invoke(app, "send", "--title", "健診のお知らせ", "--body", "明日は健診日です。", "--channels",
                           "sms,email,line", "--audience", "category:kenko", "--wait", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert set(result["channels"]) == {"sms", "email", "line"}
    sms = result["channels"]["sms"]
    assert sms["pending"] == 0 and sms["sent"] + sms["delivered"] > 0
    assert result["sandbox"] == ["sms", "email", "line"]

    code, out, _ = _invoke(app, "status", str(result["message_id"]))
    assert code == 0 and "sms" in out and "健診のお知らせ" in out


def test_send_refuses_text_a_channel_cannot_carry(app: Flask, runtime: Runtime) -> None:
    code, out, _ = _invoke(app, "send", "--title", "長文", "--body", "あ" * 700, "--channels", "sms",
                           "--audience", "all")
    assert code != 0 and "660" in out


def test_export_is_excel_friendly_csv_with_one_row_per_delivery(app: Flask, runtime: Runtime) -> None:
    with runtime.session() as session:
        seed_demo(session, residents=20, staff=0)
    code, out, _ = _invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms,email",
                           "--audience", "all", "--json")
    message_id = json.loads(out)["message_id"]
    code, _, raw = _invoke(app, "export", "deliveries", str(message_id))
    assert code == 0 and raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    total = sum(sum(c.values()) for c in json.loads(_invoke(app, "status", str(message_id), "--json")[1])[
        "channels"].values())
    assert len(rows) == total and {"address", "state", "reason", "provider_id"} <= set(rows[0])


def test_send_refuses_bad_input_with_a_message_and_stores_nothing(app: Flask, runtime: Runtime) -> None:
    from sqlalchemy import func, select

    from hub.models import Message

    with runtime.session() as session:
        seed_demo(session, residents=5, staff=1)
    cases = [
        (("--audience", "area:9999999"), "area:9999999"),
        (("--audience", "category:nosuch"), "category:nosuch"),
        (("--audience", "department:x"), "department:x"),
        (("--audience", "list:abc"), "list:abc"),
        (("--audience", "all", "--schedule", "tomorrow"), "--schedule"),
        (("--audience", "all", "--override", "sms"), "--override"),
        (("--audience", "all", "--override", "sms=a\x00b"), "NUL"),
        (("--audience", "all", "--title", "あ" * 201), "200"),  # PostgreSQL refused it: a traceback
    ]
    for extra, named in cases:
        code, out, _ = _invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms", *extra)
        assert code != 0 and named in out and "Traceback" not in out, (extra, out)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_unreadable_csv_files_are_a_message_not_a_traceback(app: Flask, runtime: Runtime, tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.csv"
    bad.write_bytes(b"name,phone\n" + b'"' + b"x" * 200_000 + b'",1\n')  # beyond the csv module's field limit
    code, out, _ = _invoke(app, "contacts", "import", str(bad))
    assert code == 1 and "CSV" in out and "Traceback" not in out, out
    code, out, _ = _invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms",
                           "--audience", f"csv:{bad}")
    assert code == 2 and "CSV" in out, out
    code, out, _ = _invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms",
                           "--audience", f"csv:{Path(str(tmp_path)) / 'missing.csv'}")
    assert code == 2 and "missing.csv" in out, out
