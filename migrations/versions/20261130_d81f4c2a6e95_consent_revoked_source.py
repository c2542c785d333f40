"""Consents: where each opt-out came from (``revoked_source``), as ``source`` says where consent came from

Revision ID: d81f4c2a6e95
Revises: b5d8e2f41a93
Create Date: 2026-11-30 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'd81f4c2a6e95'
down_revision: str | Sequence[str] | None = 'b5d8e2f41a93'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('consents') as batch:
        batch.add_column(sa.Column('revoked_source', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consents') as batch:
        batch.drop_column('revoked_source')
