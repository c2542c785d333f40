"""Category and area names in the residents' languages

Revision ID: b8d4f2a6c190
Revises: a7c3e9f1b5d2
Create Date: 2026-12-02 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b8d4f2a6c190'
down_revision: str | Sequence[str] | None = 'a7c3e9f1b5d2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ('categories', 'areas'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('names', sa.JSON(), server_default='{}', nullable=False))


def downgrade() -> None:
    for table in ('categories', 'areas'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('names')
