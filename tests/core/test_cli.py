"""The `hub` command as an officer uses it: send, status, export."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from flask import Flask

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.runtime import Runtime
from tests.api.support import TOKENS, seed


def _invoke(app: Flask, *args: str, who: str = "admin") -> tuple[int, str, bytes]:
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, list(args), obj=hub, env={TOKEN_ENV: TOKENS[who]})
    return result.exit_code, result.output if result.exit_code else result.stdout, result.stdout_bytes


def test_send_waits_for_the_second_person_then_prints_counts_per_channel(app: Flask, runtime: Runtime) -> None:
    seed(app, residents=50, staff=5)
    code, out, _ = _invoke(app, "send", "--title", "健診のお知らせ", "--body", "明日は健診日です。", "--channels",
                           "sms,email,line", "--audience", "category:kenko", "--mode", "actual", "--json",
                           who="bousai1")
    assert code == 0, out
    waiting = json.loads(out)
    assert waiting["state"] == "awaiting_approval"
    assert all(sum(c.values()) == 0 for c in waiting["channels"].values()), "nothing planned before approval"
    code, out, _ = _invoke(app, "approve", str(waiting["message_id"]), "--json", who="bousai2")
    assert code == 0, out
    from tests.support.hubtools import counts, wait_for

    def finished() -> bool:
        return all(c["pending"] == 0 for c in counts(runtime, waiting["message_id"]).values())

    wait_for(finished)
    code, out, _ = _invoke(app, "status", str(waiting["message_id"]), "--json")
    result = json.loads(out)
    assert set(result["channels"]) == {"sms", "email", "line"}
    sms = result["channels"]["sms"]
    assert sms["pending"] == 0 and sms["sent"] + sms["delivered"] > 0
    assert result["sandbox"] == ["sms", "email", "line"]

    code, out, _ = _invoke(app, "status", str(result["message_id"]))
    assert code == 0 and "sms" in out and "健診のお知らせ" in out


def test_send_refuses_text_a_channel_cannot_carry(app: Flask, runtime: Runtime) -> None:
    seed(app, residents=0, staff=0)
    code, out, _ = _invoke(app, "send", "--title", "長文", "--body", "あ" * 700, "--channels", "sms",
                           "--audience", "all", "--mode", "actual")
    assert code != 0 and "660" in out


def test_send_without_mode_fails_and_creates_nothing(app: Flask, runtime: Runtime) -> None:
    from sqlalchemy import func, select

    from hub.models import Message

    seed(app, residents=5, staff=0)
    code, out, _ = _invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms", "--audience", "all")
    assert code == 2 and "--mode" in out
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_send_without_a_token_is_refused(app: Flask, runtime: Runtime) -> None:
    seed(app, residents=5, staff=0)
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, ["send", "--title", "t", "--channels", "sms", "--audience", "all",
                                       "--mode", "exercise"], obj=hub, env={TOKEN_ENV: ""})
    assert result.exit_code == 1 and TOKEN_ENV in result.output


def test_export_is_excel_friendly_csv_with_one_row_per_delivery(app: Flask, runtime: Runtime) -> None:
    seed(app, residents=5, staff=8)
    # Staff only: under the default policy it needs no second person, so rows exist at once.
    code, out, _ = _invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms,email",
                           "--audience", "staff", "--mode", "actual", "--json")
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

    seed(app, residents=5, staff=1)
    cases = [
        (("--audience", "area:9999999"), "area:9999999"),
        (("--audience", "category:nosuch"), "category:nosuch"),
        (("--audience", "department:x"), "department:x"),
        (("--audience", "list:abc"), "list:abc"),
        (("--audience", "all", "--schedule", "tomorrow"), "--schedule"),
        (("--audience", "all", "--channel-text", "sms"), "--channel-text"),
        (("--audience", "all", "--channel-text", "sms=a\x00b"), "NUL"),
        (("--audience", "all", "--title", "あ" * 201), "200"),  # PostgreSQL refused it: a traceback
    ]
    for extra, named in cases:
        code, out, _ = _invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms", "--mode", "actual",
                               *extra)
        assert code != 0 and named in out and "Traceback" not in out, (extra, out)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_unreadable_csv_files_are_a_message_not_a_traceback(app: Flask, runtime: Runtime, tmp_path: object) -> None:
    from pathlib import Path

    seed(app, residents=2, staff=1)
    bad = Path(str(tmp_path)) / "bad.csv"
    bad.write_bytes(b"name,phone\n" + b'"' + b"x" * 200_000 + b'",1\n')  # beyond the csv module's field limit
    code, out, _ = _invoke(app, "contacts", "import", str(bad))
    assert code == 1 and "CSV" in out and "Traceback" not in out, out
    code, out, _ = _invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms", "--mode", "actual",
                           "--audience", f"csv:{bad}")
    assert code == 2 and "CSV" in out, out
    code, out, _ = _invoke(app, "send", "--title", "t", "--body", "b", "--channels", "sms", "--mode", "actual",
                           "--audience", f"csv:{Path(str(tmp_path)) / 'missing.csv'}")
    assert code == 2 and "missing.csv" in out, out
