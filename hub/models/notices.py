"""Personalised CSV sends (差し込み): the file's good rows, each with its values, kept with the messages.

A :class:`CsvSend` is one uploaded file; its rows are grouped by send time into ordinary messages
(one for a plain send, one per send time for reminders), so scheduling, approval, lanes and the
delivery guarantees are the engine's own. Each :class:`CsvRow` keeps the row's values: planning
turns it into one delivery row per channel (``Delivery.csv_row_id``), a batch renders that row's
text from the message's template and these values, and the delivery export carries them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, BigId, UtcDateTime, utcnow


class CsvSend(Base):
    __tablename__ = "csv_sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)  # the templates, as written ({{氏名}} …)
    body: Mapped[str] = mapped_column(Text)
    channels: Mapped[list[str]] = mapped_column(JSON, default=list)
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)  # the file's header, in order
    category_code: Mapped[str | None] = mapped_column(String(32))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    # A reminder rule ("day_before@10:00", "days:3@09:00", "hours:2") and the date column it reads.
    reminder: Mapped[str | None] = mapped_column(String(64))
    date_column: Mapped[str | None] = mapped_column(String(100))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CsvRow(Base):
    __tablename__ = "csv_send_rows"
    __table_args__ = (Index("ix_csv_send_rows_message", "message_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    csv_send_id: Mapped[int] = mapped_column(ForeignKey("csv_sends.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)  # the row's line in the file (the header is line 1)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    addresses: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # channel → normalised address
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # column → cell, as read
    send_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
