"""Erasing a person: contacts.erased_at, the keyed hashes of erased identifiers, and the deliveries
whose address is masked once they settle

Revision ID: c4e1b7a92f60
Revises: a9e4c7b2d6f1
Create Date: 2026-12-01 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'c4e1b7a92f60'
down_revision: str | Sequence[str] | None = 'a9e4c7b2d6f1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'erased_identities',
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('erased_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('digest'),
    )
    op.create_table(
        'erasure_follow_ups',
        sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False,
                  nullable=False),
        sa.PrimaryKeyConstraint('delivery_id'),
    )


def downgrade() -> None:
    op.drop_table('erasure_follow_ups')
    op.drop_table('erased_identities')
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('erased_at')
