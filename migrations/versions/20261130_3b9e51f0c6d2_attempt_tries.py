"""contact_attempts.tries: provider requests made for a call-out step (a 429 or 500 retries the step)

Revision ID: 3b9e51f0c6d2
Revises: 7d41c9e2a8b0
Create Date: 2026-11-30 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3b9e51f0c6d2'
down_revision: str | Sequence[str] | None = '7d41c9e2a8b0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contact_attempts') as batch:
        batch.add_column(sa.Column('tries', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('contact_attempts') as batch:
        batch.drop_column('tries')
