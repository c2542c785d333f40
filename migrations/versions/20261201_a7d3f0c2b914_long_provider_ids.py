"""Provider ids up to 320 characters: an e-mail's is its Message-ID, with the city's domain

Revision ID: a7d3f0c2b914
Revises: e2b9d4c71a05
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'a7d3f0c2b914'
down_revision: str | Sequence[str] | None = 'e2b9d4c71a05'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('deliveries', 'contact_attempts', 'status_events')


def upgrade() -> None:
    # PostgreSQL widens a varchar in place (no table rewrite): safe on a large deliveries table.
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('provider_id', type_=sa.String(320), existing_type=sa.String(64))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.alter_column('provider_id', type_=sa.String(64), existing_type=sa.String(320))
