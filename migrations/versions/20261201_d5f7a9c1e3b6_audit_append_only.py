"""Audit log: append-only in the database itself (PostgreSQL)

Revision ID: d5f7a9c1e3b6
Revises: c9d2e4f6a813
Create Date: 2026-12-01 13:00:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = 'd5f7a9c1e3b6'
down_revision: str | Sequence[str] | None = 'c9d2e4f6a813'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The hub writes a row, then links it (seq, prev_hash, hash) before its transaction commits; that
# one update, of a row not yet linked and with its content unchanged, is all it ever does. Triggers
# belong to the table's owner: the application's role (HUB_DATABASE_APP_ROLE) cannot lift them.
ROW_GUARD = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.seq IS NULL
     AND (NEW.at, NEW.actor, NEW.action, NEW.subject_type, NEW.subject_id, NEW.detail::text)
         IS NOT DISTINCT FROM (OLD.at, OLD.actor, OLD.action, OLD.subject_type, OLD.subject_id, OLD.detail::text)
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$
"""
TRUNCATE_GUARD = """
CREATE OR REPLACE FUNCTION audit_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: whoever holds the file holds everything; the hash chain still tells
    op.execute(ROW_GUARD)
    op.execute(TRUNCATE_GUARD)
    op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
    op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
               "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_no_truncate()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_no_truncate()")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
