"""``hub send --csv FILE``: the bad rows by line and the preview first; nothing stored until the
operator sends (with --skip-bad when some rows are bad)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from sqlalchemy import func, select

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.models import CsvSend
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from tests.api.support import TOKENS, seed
from tests.notices.support import HEADER, csv_bytes, mobile


def _invoke(app: Flask, *args: str) -> tuple[int, str]:
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, list(args), obj=hub, env={TOKEN_ENV: TOKENS["admin"]})
    return result.exit_code, result.output


def test_send_csv(app: Flask, runtime: Runtime, tmp_path: Path, clock: ManualClock) -> None:
    seed(app)
    path = tmp_path / "kenshin.csv"
    path.write_bytes(csv_bytes([HEADER, f"{mobile(1)},山田 花子,12月2日 14:30,all", "0312,佐藤,12月2日,all"]))
    base = ["send", "--csv", str(path), "--title", "健診のご案内", "--body", "{{氏名}}様 {{予約日時}}です。",
            "--channels", "sms", "--mode", "actual", "--category", "kenko"]
    code, out = _invoke(app, *base, "--check")
    assert code == 0, out
    assert "kenshin.csv:3: " in out and "山田 花子様 12月2日 14:30です。" in out and "概算 3.3円" in out
    code, out = _invoke(app, *base)
    assert code == 1 and "--skip-bad" in out
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(CsvSend)) == 0
    code, out = _invoke(app, *base, "--skip-bad", "--json")
    assert code == 0, out
    result = json.loads(out)
    assert result["csv_send_id"] and [m["state"] for m in result["messages"]] == ["awaiting_approval"]


def test_csv_refuses_an_audience(app: Flask, tmp_path: Path) -> None:
    seed(app)
    path = tmp_path / "a.csv"
    path.write_bytes(b"phone\n09012340001\n")
    code, out = _invoke(app, "send", "--csv", str(path), "--audience", "all", "--title", "t", "--channels", "sms",
                        "--mode", "actual")
    assert code == 2 and "--csv" in out
