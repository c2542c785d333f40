"""engine health: worker heartbeats, the watcher's observations, the engine alarm, provider stats

Revision ID: 5e8b2c4d7f19
Revises: b5d8e2f4a913
Create Date: 2026-11-30 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5e8b2c4d7f19'
down_revision: str | Sequence[str] | None = 'b5d8e2f4a913'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'worker_heartbeats',
        sa.Column('node', sa.String(200), nullable=False),
        sa.Column('host', sa.String(100), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('lanes', sa.String(200), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('beats', sa.Integer(), nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('node', name=op.f('pk_worker_heartbeats')),
    )
    op.create_table(
        'engine_observations',
        sa.Column('subject', sa.String(220), nullable=False),
        sa.Column('fingerprint', sa.String(200), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('subject', name=op.f('pk_engine_observations')),
    )
    op.create_table(
        'engine_alarms',
        sa.Column('kind', sa.String(32), nullable=False),
        sa.Column('alarm_sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('kind', name=op.f('pk_engine_alarms')),
    )
    op.create_table(
        'provider_stats',
        sa.Column('channel', sa.String(16), nullable=False),
        sa.Column('name', sa.String(32), nullable=False),
        sa.Column('label', sa.String(32), nullable=False),
        sa.Column('value', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('channel', 'name', 'label', name=op.f('pk_provider_stats')),
    )


def downgrade() -> None:
    for table in ('provider_stats', 'engine_alarms', 'engine_observations', 'worker_heartbeats'):
        op.drop_table(table)
