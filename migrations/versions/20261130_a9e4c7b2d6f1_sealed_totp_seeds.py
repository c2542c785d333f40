"""TOTP seeds sealed: room for the encrypted form (hub.accounts.sealing); `hub db upgrade` seals old ones

Revision ID: a9e4c7b2d6f1
Revises: f2c6a9d41e83
Create Date: 2026-11-30 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a9e4c7b2d6f1'
down_revision: str | Sequence[str] | None = 'f2c6a9d41e83'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('operators') as batch:
        batch.alter_column('totp_secret', existing_type=sa.String(length=64), type_=sa.String(length=255))
        batch.alter_column('totp_pending_secret', existing_type=sa.String(length=64), type_=sa.String(length=255))


def downgrade() -> None:
    with op.batch_alter_table('operators') as batch:
        batch.alter_column('totp_pending_secret', existing_type=sa.String(length=255), type_=sa.String(length=64))
        batch.alter_column('totp_secret', existing_type=sa.String(length=255), type_=sa.String(length=64))
