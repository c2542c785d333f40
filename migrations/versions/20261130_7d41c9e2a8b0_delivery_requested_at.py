"""deliveries.requested_at: when the last provider request for the row was about to be made

Channels that cannot ask the provider afterwards (e-mail, X) stamp it before each request, so after
a crash a row without it provably never left and can be sent; with it, the row is in doubt.

Revision ID: 7d41c9e2a8b0
Revises: 5c1e7a0f3b21, de228f2b720f
Create Date: 2026-11-30 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7d41c9e2a8b0'
down_revision: str | Sequence[str] | None = ('5c1e7a0f3b21', 'de228f2b720f')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.add_column(sa.Column('requested_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('deliveries') as batch:
        batch.drop_column('requested_at')
