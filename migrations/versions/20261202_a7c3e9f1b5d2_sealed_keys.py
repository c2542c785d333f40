"""Sealed keys: erased people's fingerprints get a key of their own that outlives HUB_SECRET_KEY

Revision ID: a7c3e9f1b5d2
Revises: d5f7a9c1e3b6
Create Date: 2026-12-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'a7c3e9f1b5d2'
down_revision: str | Sequence[str] | None = 'd5f7a9c1e3b6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'sealed_keys',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('sealed', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('sealed_keys')
