"""Plan every delivery row of a message in bulk: one row per address and channel, batch numbers fixed.

Batches are decided here, once, and stored on the rows; a task later only says "send batch N of
channel C of message M", so a redelivered or swept task always finds the same rows (and LINE's
retry key, derived from the batch, stays the same).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, insert, select
from sqlalchemy.orm import Session

from channels.base import Capability, Channel, skip_message
from hub.compose.audience import RECEIVED_STATES, Audience, contact_ids_query
from hub.models import Consent, Contact, ContactKind, Delivery, DeliveryState, Message, Mode, MsgType, utcnow
from hub.models.base import table_of
from hub.runtime import Runtime

# Plugins (e.g. triggers) add checks that run right before a message is planned and sent; a
# returned reason stops the message. Core code never needs to know which plugin objected.
PreSendCheck = Callable[[Session, Message], str | None]
pre_send_checks: list[PreSendCheck] = []


def register_pre_send_check(check: PreSendCheck) -> None:
    if check not in pre_send_checks:
        pre_send_checks.append(check)


def blocking_reason(session: Session, message: Message) -> str | None:
    for check in pre_send_checks:
        reason = check(session, message)
        if reason:
            return reason
    return None


INSERT_CHUNK = 5000
NOT_BATCHED = -1  # skipped rows never go to a worker


def broadcast_address(channel: str, message: Message) -> str:
    return f"{channel}:{message.category_code or 'all'}"


def plan_deliveries(session: Session, runtime: Runtime, message: Message) -> dict[str, int]:
    """Insert the message's delivery rows; returns rows planned per channel. Caller commits."""
    counts: dict[str, int] = {}
    for name in message.channels:
        channel = runtime.channel(name)
        rows = _broadcast_rows(message, channel) if channel.capabilities & Capability.BROADCAST else (
            _personal_rows(session, message, channel)
        )
        counts[name] = 0
        for chunk in _chunks(rows, INSERT_CHUNK):
            # Core, not ORM: the ORM splits rows whose None columns differ into separate statements.
            session.execute(insert(table_of(Delivery)), chunk)
            counts[name] += len(chunk)
    message.planned_at = utcnow()
    return counts


def _broadcast_rows(message: Message, channel: Channel) -> Iterator[dict[str, Any]]:
    row = _row(message, channel.name, None, broadcast_address(channel.name, message), "ja", 0)
    # A drill never posts to a real public account; our own feed keeps exercises in a separate feed.
    if message.mode != Mode.ACTUAL and not channel.publishes_exercises and not channel.config.sandbox:
        row.update(state=DeliveryState.SKIPPED, reason="exercise_only", error=skip_message("exercise_only"),
                   batch_no=NOT_BATCHED)
    yield row


def _follow_up_rows(session: Session, message: Message, channel: Channel,
                    original_id: int) -> Iterator[dict[str, Any]]:
    """A cancellation or correction reaches exactly the addresses the original reached on this channel."""
    reached: ColumnElement[bool] = Delivery.state.in_(RECEIVED_STATES)
    if message.msg_type == MsgType.UPDATE:
        # A correction also goes to those whose copy of the original was withdrawn before it went
        # out: they must get the corrected information, not nothing.
        reached = reached | ((Delivery.state == DeliveryState.SKIPPED) & (Delivery.reason == "withdrawn"))
    query = (
        select(Delivery.contact_id, Delivery.address, Delivery.language)
        .where(Delivery.message_id == original_id, Delivery.channel == channel.name, reached)
        .order_by(Delivery.language, Delivery.id)
    )
    for n, (contact_id, address, language) in enumerate(session.execute(query).all()):
        yield _row(message, channel.name, contact_id, address, language, n // channel.batch_size)


def _personal_rows(session: Session, message: Message, channel: Channel) -> Iterator[dict[str, Any]]:
    assert channel.address_field, f"{channel.name} has no address field"
    audience = Audience.parse(message.audience)
    if audience.kind == "message":
        yield from _follow_up_rows(session, message, channel, int(audience.value))
        return
    address_col = getattr(Contact, channel.address_field)
    audience_ids = contact_ids_query(audience)
    if message.mode != Mode.ACTUAL:
        audience_ids = audience_ids.where(Contact.exercise_participant.is_(True))
    # Residents need a live consent for this channel; staff are reached as part of their work.
    consented = exists().where(
        and_(Consent.contact_id == Contact.id, Consent.channel == channel.name, Consent.revoked_at.is_(None))
    )
    query = (
        select(Contact.id, address_col, Contact.language, Contact.kind, consented)
        .where(Contact.id.in_(audience_ids.scalar_subquery()), address_col.is_not(None), address_col != "")
        .order_by(Contact.language, Contact.id)
    )
    seen: set[str] = set()
    sendable = 0
    for contact_id, address, language, kind, has_consent in session.execute(query).all():
        if address in seen:  # two contacts sharing one phone or mailbox get one copy
            continue
        seen.add(address)
        reason = None
        if kind == ContactKind.RESIDENT and not has_consent:
            reason = "no_consent"
        else:
            reason = channel.check_address(address)
        if reason:
            row = _row(message, channel.name, contact_id, address, language, NOT_BATCHED)
            row.update(state=DeliveryState.SKIPPED, reason=reason, error=skip_message(reason))
        else:
            row = _row(message, channel.name, contact_id, address, language, sendable // channel.batch_size)
            sendable += 1
        yield row


def _row(message: Message, channel: str, contact_id: int | None, address: str, language: str,
         batch_no: int) -> dict[str, Any]:
    return {
        "message_id": message.id, "channel": channel, "contact_id": contact_id, "address": address,
        "language": language or "ja", "batch_no": batch_no, "state": DeliveryState.PENDING,
        "reason": None, "error": None, "attempts": 0, "updated_at": utcnow(),
    }


def _chunks(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
