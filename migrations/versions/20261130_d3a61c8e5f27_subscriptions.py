"""subscriptions: each category, area and language a resident chose, with when and through what

Revision ID: d3a61c8e5f27
Revises: d81f4c2a6e95
Create Date: 2026-11-30 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd3a61c8e5f27'
down_revision: str | Sequence[str] | None = 'd81f4c2a6e95'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('given_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=100), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_subscriptions_contact_id_contacts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
    )
    op.create_index('ix_subscriptions_contact_kind', 'subscriptions', ['contact_id', 'kind'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_subscriptions_contact_kind', table_name='subscriptions')
    op.drop_table('subscriptions')
