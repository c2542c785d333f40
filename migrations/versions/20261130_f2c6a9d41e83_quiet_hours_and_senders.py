"""Each department's quiet hours for everyday notices, and the sender each delivery was requested with

Revision ID: f2c6a9d41e83
Revises: f1c5a9d3e7b2
Create Date: 2026-11-30 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'f2c6a9d41e83'
down_revision: str | Sequence[str] | None = 'f1c5a9d3e7b2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('departments') as batch:
        batch.add_column(sa.Column('quiet_hours', sa.String(length=16), nullable=True))
    with op.batch_alter_table('deliveries') as batch:
        batch.add_column(sa.Column('sender', sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_column('sender')
    with op.batch_alter_table('departments') as batch:
        batch.drop_column('quiet_hours')
