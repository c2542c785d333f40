"""Messages: when their recipients' addresses were masked at the end of the retention period

Revision ID: e2b9d4c71a05
Revises: c4e1b7a92f60
Create Date: 2026-12-01 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'e2b9d4c71a05'
down_revision: str | Sequence[str] | None = 'c4e1b7a92f60'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('history_masked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('history_masked_at')
