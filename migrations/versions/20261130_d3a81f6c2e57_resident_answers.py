"""Resident surveys: resident_answers (one current answer per resident and message)

Revision ID: d3a81f6c2e57
Revises: d3a61c8e5f27
Create Date: 2026-11-30 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd3a81f6c2e57'
down_revision: str | Sequence[str] | None = 'd3a61c8e5f27'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resident_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("choice_key", sa.String(1), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name="fk_resident_answers_message_id_messages",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_resident_answers_contact_id_contacts",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_resident_answers"),
        sa.UniqueConstraint("message_id", "contact_id", name="uq_resident_answers_message_id_contact_id"),
    )
    op.create_index("ix_resident_answers_message", "resident_answers", ["message_id", "choice_key"])


def downgrade() -> None:
    op.drop_index("ix_resident_answers_message", table_name="resident_answers")
    op.drop_table("resident_answers")
