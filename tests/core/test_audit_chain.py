"""The audit log is a hash chain: an edited or deleted row is found and named by `hub audit verify`."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from sqlalchemy import create_engine, text, update
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder

from hub.cli import main
from hub.cli.context import HubContext
from hub.db import session_factory
from hub.migrate import upgrade
from hub.models import AuditLog, Department, audit, utcnow
from hub.models.audit import hash_of, verify_chain
from hub.runtime import Runtime
from tests.api.support import bearer, create, seed
from tests.support.openapi import hub_api


def _hub(app: Flask, *args: str) -> tuple[int, str]:
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, list(args), obj=hub)
    return result.exit_code, result.output


def _write(runtime: Runtime, n: int, actor: str = "test") -> None:
    for i in range(n):
        with runtime.session() as s:
            audit(s, actor, "test.action", ("things", i), note=f"第{i}項", values=(1, 2), nested={"b": 1, "a": [i]})


def _ids(runtime: Runtime) -> list[int]:
    with runtime.session() as s:
        return list(s.scalars(text("SELECT id FROM audit_log ORDER BY id")))


def _lift_the_guard(session: Session) -> None:
    """What only the database's owner or a superuser can do: on PostgreSQL the log's own trigger
    refuses edits and deletes (tests/accounts/test_database_role.py); past it, the chain still tells."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))


def test_an_intact_log_verifies(app: Flask, runtime: Runtime) -> None:
    seed(app)
    create(app.test_client())  # real actions write audit rows too
    _write(runtime, 5)
    code, out = _hub(app, "audit", "verify")
    assert code == 0, out
    assert f"{len(_ids(runtime))}行" in out


def test_an_edited_row_is_named(app: Flask, runtime: Runtime) -> None:
    _write(runtime, 6)
    victim = _ids(runtime)[3]
    with runtime.session() as s:
        _lift_the_guard(s)
        s.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE id = :id"), {"id": victim})
    code, out = _hub(app, "audit", "verify")
    assert code == 1 and f"行 {victim}:" in out and "改変" in out


def test_an_edited_detail_is_named(app: Flask, runtime: Runtime) -> None:
    _write(runtime, 4)
    victim = _ids(runtime)[1]
    with runtime.session() as s:
        _lift_the_guard(s)
        s.execute(text("UPDATE audit_log SET detail = :d WHERE id = :id"),
                  {"d": json.dumps({"note": "書き換え"}), "id": victim})
    code, out = _hub(app, "audit", "verify")
    assert code == 1 and f"行 {victim}:" in out


def test_a_row_rehashed_after_editing_still_breaks_the_next_link(app: Flask, runtime: Runtime) -> None:
    """Recomputing the edited row's own hash does not help: the next row still names the old one."""
    _write(runtime, 4)
    ids = _ids(runtime)
    with runtime.session() as s:
        _lift_the_guard(s)
        row = s.get(AuditLog, ids[1])
        assert row is not None
        row.actor = "someone-else"
        row.hash = hash_of(row)
    code, out = _hub(app, "audit", "verify")
    assert code == 1 and f"行 {ids[2]}:" in out


def test_a_deleted_row_is_found(app: Flask, runtime: Runtime) -> None:
    _write(runtime, 6)
    ids = _ids(runtime)
    with runtime.session() as s:
        _lift_the_guard(s)
        s.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[2]})
    code, out = _hub(app, "audit", "verify")
    assert code == 1 and f"行 {ids[3]}:" in out and "削除" in out


def test_concurrent_writers_keep_one_chain(app: Flask, runtime: Runtime) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            _write(runtime, 10, actor=f"writer{k}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with runtime.session() as s:
        report = verify_chain(s)
    assert report.broken is None and report.rows == 60


def test_auditing_never_deadlocks_with_row_locks(app: Flask, runtime: Runtime) -> None:
    """One transaction audits and then updates a row, another updates the row and then audits:
    linking happens at commit, so neither waits for the other while holding the chain."""
    with runtime.session() as s:
        s.add(Department(code="lock", name="ロック試験課"))
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def audit_then_row() -> None:
        try:
            with runtime.session() as s:
                audit(s, "t1", "test.first", ("things", 1))
                barrier.wait()
                s.execute(update(Department).where(Department.code == "lock").values(name="t1"))
        except BaseException as exc:
            errors.append(exc)

    def row_then_audit() -> None:
        try:
            with runtime.session() as s:
                s.execute(update(Department).where(Department.code == "lock").values(name="t2"))
                barrier.wait()
                time.sleep(0.3)  # the other transaction is now waiting for our row
                audit(s, "t2", "test.second", ("things", 2))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=audit_then_row), threading.Thread(target=row_then_audit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with runtime.session() as s:
        report = verify_chain(s)
    assert report.broken is None and report.rows == 2


def test_a_rolled_back_entry_leaves_the_chain_intact(app: Flask, runtime: Runtime) -> None:
    _write(runtime, 2)
    try:
        with runtime.session() as s:
            audit(s, "test", "test.undone", ("things", 9))
            s.flush()
            raise RuntimeError("the action failed")
    except RuntimeError:
        pass
    _write(runtime, 1)
    with runtime.session() as s:
        report = verify_chain(s)
        assert report.broken is None and report.rows == 3
        assert s.query(AuditLog).filter_by(action="test.undone").count() == 0


def test_a_row_inserted_behind_audits_back_is_found(app: Flask, runtime: Runtime) -> None:
    _write(runtime, 2)
    with runtime.session() as s:
        s.execute(text("INSERT INTO audit_log (at, actor, action, subject_type, subject_id, detail, prev_hash, hash) "
                       "VALUES (:at, 'forger', 'x', 't', '1', '{}', '', '')"), {"at": utcnow()})
        forged = s.scalar(text("SELECT max(id) FROM audit_log"))
    code, out = _hub(app, "audit", "verify")
    assert code == 1 and f"行 {forged}:" in out


def test_audit_list_since_and_json(app: Flask, runtime: Runtime) -> None:
    _write(runtime, 3)
    code, out = _hub(app, "audit", "list", "--json")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["subject_id"] for e in lines] == ["0", "1", "2"]
    assert lines[0]["detail"]["values"] == [1, 2] and lines[1]["prev_hash"] == lines[0]["hash"]
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert _hub(app, "audit", "list", "--since", future) == (0, "")
    code, out = _hub(app, "audit", "list", "--since", "yesterday")
    assert code != 0 and "ISO 8601" in out


def test_the_audit_api_is_for_administrators(app: Flask, runtime: Runtime) -> None:
    seed(app)
    _write(runtime, 3)
    client = app.test_client()
    api = hub_api()
    answers = [client.get("/api/v1/audit", headers=bearer("admin")),
               client.get("/api/v1/audit?limit=2", headers=bearer("admin")),
               client.get("/api/v1/audit", headers=bearer("bousai2")),
               client.get("/api/v1/audit?since=soon", headers=bearer("admin")),
               client.get("/api/v1/audit")]
    assert [r.status_code for r in answers] == [200, 200, 403, 400, 401]
    for response in answers:
        route = EnvironBuilder(method="GET", path=response.request.path,
                               query_string=response.request.query_string.decode()).get_request()
        api.validate_response(WerkzeugOpenAPIRequest(route), WerkzeugOpenAPIResponse(response))
    items = answers[0].get_json()["items"]
    assert [e["subject_id"] for e in items if e["action"] == "test.action"] == ["0", "1", "2"]
    page = answers[1].get_json()
    rest = client.get(f"/api/v1/audit?after={page['next_after']}", headers=bearer("admin")).get_json()
    assert [e["id"] for e in page["items"] + rest["items"]] == [e["id"] for e in items]
    future = (utcnow() + timedelta(hours=1)).isoformat().replace("+", "%2B")
    assert client.get(f"/api/v1/audit?since={future}", headers=bearer("admin")).get_json()["items"] == []


def test_the_migration_chains_rows_written_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "3b9e51f0c6d2")
    engine = create_engine(url)
    with engine.begin() as conn:
        for i in range(3):
            conn.execute(text("INSERT INTO audit_log (at, actor, action, subject_type, subject_id, detail) "
                              "VALUES (:at, 'old', 'x', 't', :i, :d)"),
                         {"at": f"2026-11-01 00:00:0{i}.000000", "i": str(i), "d": json.dumps({"n": i})})
        conn.execute(text("INSERT INTO messages (title, body, overrides, channels, audience, mode, msg_type, "
                          "state, source, created_at, meta) VALUES ('t', 'b', '{}', '[]', 'all', 'actual', "
                          "'alert', 'done', 'manual', '2026-11-01 00:00:00', '{}')"))
    engine.dispose()
    upgrade(url)
    with session_factory(url)() as s:
        report = verify_chain(s)
        assert report.broken is None and report.rows == 3
        assert list(s.scalars(text("SELECT seq FROM audit_log ORDER BY id"))) == [1, 2, 3]
        public_id = s.scalar(text("SELECT public_id FROM messages"))
        assert public_id and len(public_id) >= 22
