"""Run Alembic migrations programmatically (``hub db upgrade``, tests, the demo)."""

from __future__ import annotations

import re
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from hub.db import get_engine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Columns the hub writes when it links the rows it added (hub/models/audit.py); the log's trigger
# refuses even those on a row already linked.
AUDIT_LINK_COLUMNS = ("seq", "prev_hash", "hash")


class RoleError(ValueError):
    pass


def grant_app_role(url: str, role: str) -> None:
    """PostgreSQL, as the schema's owner: what the application's role may do there. It reads and
    writes every table, but may only add to the audit log (and link what it added); it owns
    nothing, so it can neither lift the log's trigger nor change the schema. Run after every
    upgrade: tables a migration added are covered too."""
    if not ROLE_NAME.fullmatch(role):
        raise RoleError(f"HUB_DATABASE_APP_ROLE: not a plain role name: {role!r}")
    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        raise RoleError("HUB_DATABASE_APP_ROLE is for PostgreSQL (SQLite has no roles)")
    with engine.begin() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
            raise RoleError(f"HUB_DATABASE_APP_ROLE: role {role!r} does not exist (CREATE ROLE {role} LOGIN …)")
        schema = conn.scalar(text("SELECT current_schema()"))
        grants = [
            f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"',
            f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"',
            f'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM "{role}"',
            f'GRANT UPDATE ({", ".join(AUDIT_LINK_COLUMNS)}) ON audit_log TO "{role}"',
            f'REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM "{role}"',
        ]
        for statement in grants:
            conn.execute(text(statement))
