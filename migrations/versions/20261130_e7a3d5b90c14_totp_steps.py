"""TOTP: the last accepted time-step (a code is never accepted twice) and a secret awaiting confirmation

Revision ID: e7a3d5b90c14
Revises: c4f2a8e61d07
Create Date: 2026-11-30 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e7a3d5b90c14'
down_revision: str | Sequence[str] | None = 'c4f2a8e61d07'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('operators') as batch:
        batch.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('totp_pending_secret', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('operators') as batch:
        batch.drop_column('totp_pending_secret')
        batch.drop_column('totp_last_step')
