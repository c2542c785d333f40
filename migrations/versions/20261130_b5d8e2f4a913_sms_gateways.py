"""SMS gateways: deliveries.gateway, departments.sms_gateway / sms_failover_gateway / karaden_service_id

- deliveries.gateway: the SMS gateway (twilio | karaden) a row was requested through, written
  before the request so that reconciliation and callbacks go to the right one. Existing rows keep
  NULL, which means Twilio (the only gateway there was).
- departments.sms_gateway, sms_failover_gateway: the department's gateway and failover partner
  (NULL: the hub's settings); departments.karaden_service_id: its Karaden サービス設定ID.

Revision ID: b5d8e2f4a913
Revises: a7c3d9e15b42
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b5d8e2f4a913'
down_revision: str | Sequence[str] | None = 'a7c3d9e15b42'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("gateway", sa.String(16), nullable=True))
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("sms_gateway", sa.String(16), nullable=True))
        batch.add_column(sa.Column("sms_failover_gateway", sa.String(16), nullable=True))
        batch.add_column(sa.Column("karaden_service_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("karaden_service_id")
        batch.drop_column("sms_failover_gateway")
        batch.drop_column("sms_gateway")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("gateway")
