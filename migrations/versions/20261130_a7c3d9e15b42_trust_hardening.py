"""Trust hardening: messages.public_id, the audit log's hash chain, seen webhook event ids

- messages.public_id: the unguessable address of a message's public page (/m/<public_id>);
  existing messages get one each.
- audit_log.prev_hash / hash / seq: the hash chain and each row's place in it; existing rows are
  chained in id order here, with the
  same canonical form as hub.models.audit (copied: a migration must not change when the app does).
- webhook_events: provider event ids already applied (LINE webhookEventId), for deduplication.

Revision ID: a7c3d9e15b42
Revises: e7a3d5b90c14
Create Date: 2026-11-30 05:20:00
"""

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = 'a7c3d9e15b42'
down_revision: str | Sequence[str] | None = 'e7a3d5b90c14'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _row_hash(prev_hash: str, at: datetime, actor: str, action: str, subject_type: str, subject_id: str,
              detail: Any) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    content = json.dumps(
        {"at": at.astimezone(UTC).isoformat(timespec="microseconds"), "actor": actor, "action": action,
         "subject": [subject_type, subject_id], "detail": detail},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def upgrade() -> None:
    conn = op.get_bind()

    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('public_id', sa.String(length=32), nullable=True))
    messages = sa.table('messages', sa.column('id', sa.Integer), sa.column('public_id', sa.String))
    for (message_id,) in conn.execute(sa.select(messages.c.id)).all():
        conn.execute(sa.update(messages).where(messages.c.id == message_id)
                     .values(public_id=secrets.token_urlsafe(16)))
    with op.batch_alter_table('messages') as batch:
        batch.alter_column('public_id', existing_type=sa.String(length=32), nullable=False)
        batch.create_unique_constraint(batch.f('uq_messages_public_id'), ['public_id'])

    with op.batch_alter_table('audit_log') as batch:
        batch.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
    log = sa.table('audit_log', sa.column('id', sa.BigInteger), sa.column('at', sa.DateTime(timezone=True)),
                   sa.column('actor', sa.String), sa.column('action', sa.String),
                   sa.column('subject_type', sa.String), sa.column('subject_id', sa.String),
                   sa.column('detail', sa.JSON), sa.column('prev_hash', sa.String), sa.column('hash', sa.String),
                   sa.column('seq', sa.BigInteger))
    prev = ""
    for seq, row in enumerate(conn.execute(sa.select(log).order_by(log.c.id)).all(), start=1):
        digest = _row_hash(prev, row.at, row.actor, row.action, row.subject_type, row.subject_id, row.detail)
        conn.execute(sa.update(log).where(log.c.id == row.id).values(prev_hash=prev, hash=digest, seq=seq))
        prev = digest
    with op.batch_alter_table('audit_log') as batch:
        batch.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(batch.f('uq_audit_log_seq'), ['seq'])

    op.create_table(
        'webhook_events',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('event_id', sa.String(length=64), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
        sa.UniqueConstraint('channel', 'event_id', name=op.f('uq_webhook_events_channel_event_id')),
    )
    op.create_index('ix_webhook_events_seen_at', 'webhook_events', ['seen_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_webhook_events_seen_at', table_name='webhook_events')
    op.drop_table('webhook_events')
    with op.batch_alter_table('audit_log') as batch:
        batch.drop_constraint(batch.f('uq_audit_log_seq'), type_='unique')
        batch.drop_column('seq')
        batch.drop_column('hash')
        batch.drop_column('prev_hash')
    with op.batch_alter_table('messages') as batch:
        batch.drop_constraint(batch.f('uq_messages_public_id'), type_='unique')
        batch.drop_column('public_id')
