"""The three front doors of a call-out: the CLI, the JSON API and the live tally page; plus the
deadline, staff CSV import and what a trigger rule calls."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner
from flask import Flask

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.models import Contact
from hub.relay.callouts import start_callout
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import TOKENS, bearer, login, seed
from tests.relay.support import attempts, seed_staff, tick


def _cli(app: Flask, *args: str, who: str = "admin") -> tuple[int, str, bytes]:
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, list(args), obj=hub, env={TOKEN_ENV: TOKENS[who]})
    return result.exit_code, result.output, result.stdout_bytes


def test_cli_start_status_export_close(
    app: Flask, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    seed(app, residents=0, staff=0)  # departments and operators
    people = seed_staff(runtime, 8)
    code, out, _ = _cli(app, "callout", "start", "--survey", "anpi", "--departments", "bousai,総務課",
                        "--mode", "exercise", "--steps", "line,email", "--interval", "2m", "--cycles", "1",
                        "--json")
    assert code == 0, out
    started = json.loads(out)
    callout_id = started["callout"]["id"]
    assert started["total"] == 4 and started["callout"]["chain"] == ["line", "email"]
    assert len(sandbox_client.inbox("line")) == 4

    code, out, _ = _cli(app, "callout", "status", str(callout_id))
    assert code == 0 and "防災危機管理課" in out and "連絡がついていない職員" in out and "LINE" in out
    code, out, _ = _cli(app, "callout", "status", str(callout_id), "--json")
    assert json.loads(out)["unreached"] == 4

    code, _, raw = _cli(app, "callout", "export", str(callout_id))
    assert code == 0 and raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 4 and {"部署", "氏名", "状態", "あなたの安否を教えてください", "連絡履歴"} <= set(rows[0])
    assert all(r["連絡履歴"].startswith("LINE") for r in rows)

    code, out, _ = _cli(app, "callout", "close", str(callout_id))
    assert code == 0 and "締め切りました" in out
    clock.advance(minutes=10)
    tick(runtime)
    assert not sandbox_client.inbox("email"), "a closed call-out contacts nobody"
    assert {p.email for p in people} and len(attempts(runtime, callout_id)) == 4


def test_cli_refuses_what_it_cannot_do(app: Flask, runtime: Runtime, clock: ManualClock) -> None:
    seed(app, residents=0, staff=0)
    seed_staff(runtime, 2, exercise=False)
    code, out, _ = _cli(app, "callout", "start", "--departments", "nosuch", "--mode", "actual")
    assert code != 0 and "部署が見つかりません" in out
    code, out, _ = _cli(app, "callout", "start", "--departments", "all", "--mode", "exercise")
    assert code != 0 and "訓練参加者" in out
    code, out, _ = _cli(app, "callout", "start", "--departments", "all", "--mode", "actual", "--steps", "line,fax")
    assert code != 0 and "fax" in out
    code, out, _ = _cli(app, "callout", "start", "--departments", "all", "--mode", "actual", "--interval", "soon")
    assert code != 0 and "5m" in out
    code, out, _ = _cli(app, "callout", "start", "--departments", "all")
    assert code == 2 and "--mode" in out, "no default mode: actual or exercise is always chosen"


def test_staff_import_defaults_to_staff_and_reports_bad_lines(
    app: Flask, runtime: Runtime, tmp_path: Path
) -> None:
    seed(app, residents=0, staff=0)  # the operators
    path = tmp_path / "staff.csv"
    path.write_text("external_id,name,department,position,phone,email,line_user_id,exercise\n"
                    f"E1,山田 太郎,bousai,課長,090-1234-5678,yamada@city.example.jp,U{'a' * 32},yes\n"
                    "E2,佐藤 花子,nosuch,主事,090-1234-5679,,,no\n", encoding="utf-8")
    code, out, _ = _cli(app, "staff", "import", str(path))
    assert code == 2 and "staff.csv:3" in out and "部署" in out
    with runtime.session() as s:
        person = s.query(Contact).filter_by(external_id="E1").one()
        assert (person.kind, person.position, person.phone, person.exercise_participant) == (
            "staff", "課長", "+819012345678", True)


def test_api_start_read_close_and_export(
    app: Flask, runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    seed(app)
    seed_staff(runtime, 6)
    client = app.test_client()
    body = {"survey": "sanshu", "departments": ["bousai"], "mode": "exercise", "interval": "5m", "cycles": 1}
    assert client.post("/api/v1/callouts", json=body).status_code == 401
    assert client.post("/api/v1/callouts", json=body, headers=bearer("viewer")).status_code == 403
    created = client.post("/api/v1/callouts", json=body, headers=bearer("bousai1"))
    assert created.status_code == 201, created.get_data(as_text=True)
    callout_id = created.json["callout"]["id"]  # type: ignore[index]
    assert created.json["total"] >= 2 and created.json["callout"]["source"] == "api"  # type: ignore[index]
    listed = client.get("/api/v1/callouts", headers=bearer("viewer")).json
    assert [c["id"] for c in listed["items"]] == [callout_id]  # type: ignore[index]
    tally = client.get(f"/api/v1/callouts/{callout_id}", headers=bearer("viewer")).json
    assert {q["key"] for q in tally["questions"]} == {"attend", "eta", "note"}  # type: ignore[index]
    assert client.get("/api/v1/callouts/999", headers=bearer()).status_code == 404
    bad = client.post("/api/v1/callouts", json={**body, "departments": ["nosuch"]}, headers=bearer())
    assert bad.status_code == 400 and bad.json["error"]["code"] == "invalid_callout"  # type: ignore[index]
    closed = client.post(f"/api/v1/callouts/{callout_id}/close", headers=bearer("bousai1"))
    assert closed.status_code == 200 and closed.json["state"] == "closed"  # type: ignore[index]
    exported = client.get(f"/api/v1/callouts/{callout_id}/export.csv", headers=bearer("viewer"))
    assert exported.status_code == 200 and exported.data.startswith("\ufeff".encode())


def test_live_tally_page_needs_a_login_and_keeps_itself_current(
    app: Flask, runtime: Runtime, clock: ManualClock
) -> None:
    seed(app)
    seed_staff(runtime, 4)
    with runtime.session() as s:
        callout_id = start_callout(s, runtime, "anpi", "bousai", mode="exercise", source="test").id
        everyone = start_callout(s, runtime, "anpi", "all", mode="exercise", source="test").id
    client = app.test_client()
    assert client.get(f"/relay/callouts/{callout_id}").status_code == 302
    login(client, "viewer")
    # The viewer reads the 防災 department only: a call-out of every department is not theirs to read.
    assert client.get(f"/relay/callouts/{everyone}").status_code == 403
    page = client.get(f"/relay/callouts/{callout_id}")
    text = page.get_data(as_text=True)
    # It polls (static/callouts.js) instead of reloading: the operator's scroll position stays.
    assert page.status_code == 200 and 'data-poll="5"' in text and "callouts.js" in text
    assert 'http-equiv="refresh"' not in text
    assert "【訓練】" in text and "部署別" in text and "連絡がついていない職員" in text


def test_deadline_closes_the_call_out_and_leaves_the_unanswered_listed(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    from tests.relay.support import start

    seed_staff(runtime, 3)
    callout_id = start(runtime, interval="5m", cycles=3, deadline="7m")
    for _ in range(30):
        clock.advance(60)
        tick(runtime)
    assert [a.channel for a in attempts(runtime, callout_id)].count("email") == 0
    from hub.relay.tally import tally

    with runtime.session() as s:
        result = tally(s, callout_id)
    assert result is not None and result["callout"]["state"] == "closed"
    assert {p["state"] for p in result["unreached_list"]} == {"closed"} and result["unreached"] == 3


def test_trigger_rules_start_a_call_out_with_one_call(runtime: Runtime, clock: ManualClock) -> None:
    """What the trigger engine's "start a call-out" action calls (then release after commit)."""
    seed_staff(runtime, 4, exercise=False)
    seed_staff(runtime, 4, exercise=True, start=4)
    with runtime.session() as s:
        actual = start_callout(s, runtime, "anpi_sanshu", ["all"], "actual", source="trigger:jma")
        drill = start_callout(s, runtime, "anpi", "bousai", "exercise", steps=["voice", "email"],
                              interval=120, cycles=1, source="trigger:jma")
        s.flush()
        assert (actual.chain, actual.interval_seconds, actual.cycles) == (["line", "voice", "email"], 300, 3)
        assert (drill.chain, drill.interval_seconds, drill.cycles) == (["voice", "email"], 120, 1)
        actual_id, drill_id = actual.id, drill.id
    tick(runtime)  # no release call: the tick finds the due first steps by itself
    from hub.relay.tally import tally

    with runtime.session() as s:
        assert tally(s, actual_id)["total"] == 8  # type: ignore[index]
        assert tally(s, drill_id)["total"] == 1  # type: ignore[index]
    assert len(attempts(runtime, actual_id)) == 8
