"""Personalised CSV sends: csv_sends, csv_send_rows and deliveries.csv_row_id

Revision ID: f1c5a9d3e7b2
Revises: 4c7e19a2d8f3
Create Date: 2026-11-30 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f1c5a9d3e7b2'
down_revision: str | Sequence[str] | None = '4c7e19a2d8f3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "csv_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("category_code", sa.String(32), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("reminder", sa.String(64), nullable=True),
        sa.Column("date_column", sa.String(100), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"], name="fk_csv_sends_department_id_departments"),
        sa.ForeignKeyConstraint(["created_by_id"], ["operators.id"], name="fk_csv_sends_created_by_id_operators"),
        sa.PrimaryKeyConstraint("id", name="pk_csv_sends"),
    )
    op.create_table(
        "csv_send_rows",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("csv_send_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["csv_send_id"], ["csv_sends.id"], name="fk_csv_send_rows_csv_send_id_csv_sends",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name="fk_csv_send_rows_message_id_messages",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name="fk_csv_send_rows_contact_id_contacts",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_csv_send_rows"),
    )
    op.create_index("ix_csv_send_rows_csv_send_id", "csv_send_rows", ["csv_send_id"])
    op.create_index("ix_csv_send_rows_message", "csv_send_rows", ["message_id", "id"])
    op.add_column("deliveries", sa.Column("csv_row_id", BIG_ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("csv_row_id")
    op.drop_index("ix_csv_send_rows_message", table_name="csv_send_rows")
    op.drop_index("ix_csv_send_rows_csv_send_id", table_name="csv_send_rows")
    op.drop_table("csv_send_rows")
    op.drop_table("csv_sends")
