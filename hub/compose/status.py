"""Per-channel counts and the delivery history export (proof of what was sent to whom)."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.compose.tally import CountRow, Tally, count, exact
from hub.contacts.masking import mask_address
from hub.csvsafe import SafeWriter
from hub.models import Contact, CsvRow, CsvSend, Delivery, DeliveryState, Message

COUNT_KEYS = ("sent", "delivered", "failed", "skipped", "unknown", "pending")
BUSY_STATES = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.CHECKING)


def channel_counts(session: Session, message_id: int) -> dict[str, dict[str, int]]:
    """``{"sms": {"sent": n, "delivered": n, "failed": n, "skipped": n, "unknown": n, "pending": n}}``.

    ``pending`` includes rows being sent right now (``sending``) and rows whose outcome is being
    checked with the provider (``checking``): all mean "not finished yet". Counted exactly, now.
    """
    message = session.get(Message, message_id)
    return counts_from(count(session, message_id), message.channels if message else [])


def counts_from(rows: Iterable[CountRow], channels: Iterable[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {ch: dict.fromkeys(COUNT_KEYS, 0) for ch in channels}
    for channel, state, _reason, n in rows:
        key = "pending" if state in BUSY_STATES else str(state)
        out.setdefault(channel, dict.fromkeys(COUNT_KEYS, 0))[key] += n
    return out


def is_finished(counts: dict[str, dict[str, int]]) -> bool:
    return all(c["pending"] == 0 for c in counts.values())


def message_summary(session: Session, message: Message, tally: Tally | None = None) -> dict[str, Any]:
    """``tally``: the counts to show (hub.compose.tally.watched); counted exactly when not given."""
    tally = tally or exact(session, message.id)
    return {
        "message_id": message.id,
        "title": message.title,
        "mode": message.mode,
        "msg_type": message.msg_type,
        "state": message.state,
        "references": message.references_id,
        "created_at": message.created_at.isoformat() if message.created_at else None,
        "channels": counts_from(tally.rows, message.channels or []),
        "counted_at": tally.counted_at.isoformat(),
    }


# "gateway" and "sender": what really carried the row (after a failover, the second gateway and
# its sender), written with the request.
EXPORT_COLUMNS = ["delivery_id", "message_id", "channel", "contact_id", "contact_name", "address", "language",
                  "state", "reason", "provider_id", "provider_status", "attempts", "error_code", "error",
                  "sent_at", "delivered_at", "updated_at", "gateway", "sender"]


def export_deliveries_csv(session: Session, message_id: int, *, mask: bool = False) -> Iterator[str]:
    """CSV chunks, UTF-8 with a BOM so Excel in Japan opens it correctly; ``mask`` hides addresses.

    A personalised send's rows also carry their CSV line and values (the file's columns, after the
    usual ones): the record of what each person was told. ``mask`` hides the address columns there too.
    """
    buf = io.StringIO()
    writer = SafeWriter(buf)
    buf.write("\ufeff")
    extra = _csv_columns(session, message_id)
    writer.writerow(EXPORT_COLUMNS + (["csv_line", *extra] if extra else []))
    q = (
        select(Delivery, Contact.name, CsvRow.line, CsvRow.values)
        .outerjoin(Contact, Contact.id == Delivery.contact_id)
        .outerjoin(CsvRow, CsvRow.id == Delivery.csv_row_id)
        .where(Delivery.message_id == message_id)
        .order_by(Delivery.channel, Delivery.id)
    )
    for n, (d, name, line, values) in enumerate(session.execute(q), start=1):
        shown = {k: (mask_address(str(v)) if mask and v and k in ADDRESS_COLUMNS else v)
                 for k, v in (values or {}).items()}
        writer.writerow([
            d.id, d.message_id, d.channel, d.contact_id or "", name or "",
            mask_address(d.address) if mask else d.address, d.language, d.state,
            d.reason or "", d.provider_id or "", d.provider_status or "", d.attempts, d.error_code or "",
            d.error or "", _iso(d.sent_at), _iso(d.delivered_at), _iso(d.updated_at), d.gateway or "",
            d.sender or "",
        ] + ([line or "", *(shown.get(c, "") for c in extra)] if extra else []))
        if n % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


ADDRESS_COLUMNS = frozenset({"phone", "email", "line_user_id"})


def _csv_columns(session: Session, message_id: int) -> list[str]:
    message = session.get(Message, message_id)
    send_id = (message.meta or {}).get("csv_send") if message is not None else None
    send = session.get(CsvSend, int(send_id)) if isinstance(send_id, int) else None
    return list(send.columns) if send is not None else []


def _iso(value: Any) -> str:
    return value.isoformat() if value else ""
