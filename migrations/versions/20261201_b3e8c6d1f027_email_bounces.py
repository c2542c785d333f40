"""Contacts: when a remote server reported their e-mail address unknown, and what it said

Revision ID: b3e8c6d1f027
Revises: a7d3f0c2b914
Create Date: 2026-12-01 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'b3e8c6d1f027'
down_revision: str | Sequence[str] | None = 'a7d3f0c2b914'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('email_bounced_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('email_bounce', sa.String(240), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('email_bounce')
        batch.drop_column('email_bounced_at')
