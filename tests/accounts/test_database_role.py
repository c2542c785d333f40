"""PostgreSQL: the hub runs as a role of its own (``HUB_DATABASE_APP_ROLE``), which sends, erases and
audits as usual but can only add to the audit log, never change or remove a row of it, nor lift
the log's guard, nor change the schema. Even the owner's ordinary statements meet the guard."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from hub.app import create_app
from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.config import Settings
from hub.db import dispose_engines
from hub.models import AuditLog
from sandbox import Sandbox, hub_settings
from tests.api.support import TOKENS, bearer, body, create_approved, seed
from tests.support.live import free_port
from tests.support.services import PG_URL, drop_pg_schema, new_pg_schema_url, postgres_reachable, require


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(url.replace("postgresql+psycopg", "postgresql").split("?")[0], autocommit=True)


@pytest.fixture
def schema_and_role(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(the owner's URL, the app role's URL, the role), the schema upgraded by `hub db upgrade`."""
    require("PostgreSQL", postgres_reachable())
    owner_url = new_pg_schema_url()
    role = f"hubapp_{uuid.uuid4().hex[:8]}"
    with _admin(PG_URL) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        result = CliRunner().invoke(main, ["db", "upgrade"], obj=HubContext(), env={
            "HUB_DATABASE_URL": owner_url, "HUB_DATABASE_APP_ROLE": role, "HUB_DATA_DIR": str(tmp_path)})
        assert result.exit_code == 0, result.output
        assert f"ロール {role} の権限を設定しました" in result.output
        app_url = make_url(owner_url).set(username=role).render_as_string(hide_password=False)
        yield owner_url, app_url, role
    finally:
        dispose_engines()
        drop_pg_schema(owner_url)
        with _admin(PG_URL) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def _refused(url: str, statement: str) -> str:
    engine = create_engine(url)
    try:
        with engine.begin() as conn, pytest.raises(DBAPIError) as refused:
            conn.execute(text(statement))
        return str(refused.value.orig)
    finally:
        engine.dispose()


def test_the_hub_works_as_its_own_role_and_may_only_add_to_the_audit_log(
    schema_and_role: tuple[str, str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    owner_url, app_url, _role = schema_and_role
    settings = Settings(**hub_settings(sandbox.http_url, sandbox.smtp_port), database_url=app_url,
                        tasks_eager=True, data_dir=str(tmp_path), public_url=f"http://127.0.0.1:{free_port()}",
                        rate_sms=0, rate_voice=0, rate_email=0, rate_line=0, rate_x=0, quiet_hours="").resolved()
    app = create_app(settings)
    with app.app_context():
        seed(app)  # accounts and contacts, written by the app's role
        client = app.test_client()
        sent = create_approved(client, channels=["sms", "email"])
        status = body(client.get(f"/api/v1/messages/{sent['message_id']}", headers=bearer("admin")))
        sms = status["channels"]["sms"]
        assert status["state"] == "done" and sms["sent"] + sms["delivered"] > 0 and sms["failed"] == 0, sms
        erased = client.post("/api/v1/contacts/1/erase", json={"reason": "削除請求 第1号", "confirm": True}, headers=bearer("admin"))
        assert erased.status_code == 200, erased.get_data(as_text=True)
        with app.extensions["hub"].session() as s:
            actions = set(s.scalars(text("SELECT action FROM audit_log")))
            assert {"message.create", "message.approve", "contact.erased"} <= actions, actions
            assert s.query(AuditLog).filter(AuditLog.seq.is_(None)).count() == 0  # every row linked
        hub = HubContext()
        hub._app = app
        verified = CliRunner().invoke(main, ["audit", "verify"], obj=hub, env={TOKEN_ENV: TOKENS["admin"]})
        assert verified.exit_code == 0, verified.output

    # What a stolen app connection (an injection, a leaked password) cannot do.
    assert "permission denied" in _refused(app_url, "UPDATE audit_log SET actor = 'someone-else'")
    assert "append-only" in _refused(app_url, "UPDATE audit_log SET hash = 'x'")  # the link columns: not once linked
    assert "permission denied" in _refused(app_url, "DELETE FROM audit_log")
    assert "permission denied" in _refused(app_url, "TRUNCATE audit_log")
    assert "must be owner" in _refused(app_url, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    assert "must be owner" in _refused(app_url, "DROP TABLE audit_log")
    assert "permission denied" in _refused(app_url, "UPDATE alembic_version SET version_num = 'x'")
    assert "permission denied" in _refused(app_url, "CREATE TABLE stolen (x text)")
    # The owner's ordinary statements meet the log's trigger too; lifting it takes a deliberate ALTER.
    assert "append-only" in _refused(owner_url, "UPDATE audit_log SET actor = 'someone-else'")
    assert "append-only" in _refused(owner_url, "DELETE FROM audit_log")
    assert "append-only" in _refused(owner_url, "TRUNCATE audit_log")


def test_a_role_that_does_not_exist_is_said_plainly(tmp_path: Path) -> None:
    require("PostgreSQL", postgres_reachable())
    owner_url = new_pg_schema_url()
    try:
        result = CliRunner().invoke(main, ["db", "upgrade"], obj=HubContext(), env={
            "HUB_DATABASE_URL": owner_url, "HUB_DATABASE_APP_ROLE": "nobody_here", "HUB_DATA_DIR": str(tmp_path)})
        assert result.exit_code == 1 and "role 'nobody_here' does not exist" in result.output
        bad = CliRunner().invoke(main, ["db", "upgrade"], obj=HubContext(), env={
            "HUB_DATABASE_URL": owner_url, "HUB_DATABASE_APP_ROLE": 'x"; DROP TABLE audit_log; --',
            "HUB_DATA_DIR": str(tmp_path)})
        assert bad.exit_code == 1 and "not a plain role name" in bad.output
    finally:
        dispose_engines()
        drop_pg_schema(owner_url)
