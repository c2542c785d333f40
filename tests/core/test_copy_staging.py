"""PostgreSQL's COPY path of ``insert_ignoring_duplicates``: its staging table outlives one call on
the pooled connection, so two calls filling different columns must both land."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.db import COPY_AT_LEAST, insert_ignoring_duplicates
from hub.models import Delivery, Message, utcnow
from hub.runtime import Runtime


def test_calls_with_different_columns_share_the_staging_table(runtime: Runtime) -> None:
    with runtime.session() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("the COPY path is PostgreSQL's")
        message = Message(title="t", body="b", audience="all", channels=["sms"])
        s.add(message)
        s.flush()
        n = COPY_AT_LEAST
        plain = [{"message_id": message.id, "channel": "sms", "contact_id": None, "address": f"+8190{i:08d}",
                  "language": "ja", "batch_no": 0, "state": "pending", "reason": None, "error": None, "attempts": 0,
                  "updated_at": utcnow()} for i in range(n)]
        personal = [{**row, "address": f"+8180{i:08d}", "csv_row_id": 1000 + i} for i, row in enumerate(plain)]
        insert_ignoring_duplicates(s, Delivery, plain)  # the staging table is made here
        insert_ignoring_duplicates(s, Delivery, personal)  # with a column the first call did not fill
        by_address = {address: row_id for address, row_id in s.execute(
            select(Delivery.address, Delivery.csv_row_id).where(Delivery.message_id == message.id))}
    assert len(by_address) == 2 * n
    assert by_address["+819000000007"] is None and by_address["+818000000007"] == 1007
