"""One row per message × address × channel: the source of truth for who got what."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import PROVIDER_ID_MAX, Base, BigId, UtcDateTime, utcnow


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker; the provider may or may not have it
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider confirmed it reached the handset / inbox / feed
    FAILED = "failed"
    # A request may have reached the provider; the hub asks the provider (reconciles) at
    # ``next_attempt_at`` and sends again only what it did not accept.
    CHECKING = "checking"
    UNKNOWN = "unknown"  # the outcome stays ambiguous and nobody can tell: reported, never blindly resent
    SKIPPED = "skipped"  # deliberately not sent; ``reason`` says why


TERMINAL_STATES = frozenset(
    {DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.UNKNOWN,
     DeliveryState.SKIPPED}
)
# "sent" is terminal for the sender (nothing more to do) even though a callback may still upgrade it.


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # One copy per address and channel even when two contacts share a phone or mailbox.
        UniqueConstraint("message_id", "channel", "address"),
        Index("ix_deliveries_batch", "message_id", "channel", "batch_no"),
        Index("ix_deliveries_message_state", "message_id", "state"),
        Index("ix_deliveries_state_claimed", "state", "claimed_at"),
        Index("ix_deliveries_provider_id", "provider_id"),
        # One person's rows: their contact page (a resident calls: "the alert never came") and the
        # erasure of their addresses. Without it both read the whole history; it costs the rows a
        # send writes about a tenth (benchmarks/erasure.py, docs/operations.md).
        Index("ix_deliveries_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    address: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(8), default="ja")
    batch_no: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    reason: Mapped[str | None] = mapped_column(String(64))
    provider_id: Mapped[str | None] = mapped_column(String(PROVIDER_ID_MAX))
    provider_status: Mapped[str | None] = mapped_column(String(32))
    # The gateway that carries (or carried) the row, on channels with several (SMS: twilio |
    # karaden). Written before the request, so rows in doubt are asked of the right gateway.
    # NULL: never requested through a chosen gateway (rows from before there were two: Twilio).
    gateway: Mapped[str | None] = mapped_column(String(16))
    # The sender identity the row was requested with (an SMS or voice number, a Karaden service id,
    # an e-mail address), written with the request: after a failover it is the second gateway's.
    # NULL: never requested, or a channel without a sender identity of its own (LINE, X, feeds).
    sender: Mapped[str | None] = mapped_column(String(254))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The worker holding the row while it is "sending"; see hub/runtime/leases.py.
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    # Stamped before each request on channels that cannot ask the provider afterwards (e-mail, X);
    # cleared by a new claim. After a crash: NULL means provably never sent in that claim.
    requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The CSV row of a personalised send (hub/models/notices.py): its values make this row's text.
    # No foreign key: the row is kept as proof even if the send's rows are ever pruned.
    csv_row_id: Mapped[int | None] = mapped_column(BigId)


class WorkerLease(Base):
    """A worker process that is alive: it renews ``expires_at`` from a background thread.

    Rows in ``sending`` are reconciled only when their worker's lease has lapsed, so a slow but
    living worker is never raced by the sweeper (which would send a second copy).
    """

    __tablename__ = "worker_leases"

    worker_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    host: Mapped[str] = mapped_column(String(100))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
