"""templates.translations: reviewed texts of a template per language (en, zh, ja-easy …)

Revision ID: 4c7e19a2d8f3
Revises: d3a81f6c2e57
Create Date: 2026-11-30 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '4c7e19a2d8f3'
down_revision: str | Sequence[str] | None = 'd3a81f6c2e57'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('templates') as batch:
        # Existing rows have no translations yet: `hub templates load` fills them.
        batch.add_column(sa.Column('translations', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('templates') as batch:
        batch.drop_column('translations')
