"""Plan a message's delivery rows page by page: the first batches leave while the rest is planned.

One row per address and channel, batch numbers fixed when the row is written. A task later only
says "send batch N of channel C of message M", so a redelivered or swept task always finds the same
rows (and LINE's retry key, derived from the batch, stays the same). A batch is released only once
the page that filled it is committed, and a later page never adds a row to a batch already written.

Pages follow the audience by contact id (keyset: each page is an index range scan, never the whole
audience), all channels at once, so the first SMS, LINE and e-mail batches all leave within the
first page. Where planning got to is stored with the message in the same transaction as the page's
rows, so a planner that dies is resumed by the next one without a row twice
(``UNIQUE (message_id, channel, address)`` also holds across pages: two contacts sharing one phone
get one copy, whichever page the second is on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from channels.base import Capability, Channel, skip_message
from hub.compose.audience import RECEIVED_STATES, Audience, contact_ids_query
from hub.db import insert_ignoring_duplicates
from hub.models import Consent, Contact, ContactKind, Delivery, DeliveryState, Message, Mode, MsgType, utcnow
from hub.notices.personal import csv_page, is_personal
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


NOT_BATCHED = -1  # skipped rows never go to a worker


def broadcast_address(channel: str, message: Message) -> str:
    return f"{channel}:{message.category_code or 'all'}"


@dataclass
class PlanCursor:
    """How far planning got, kept in ``Message.meta["plan"]`` with the rows it covers."""

    after: int = 0  # last contact id (or, for a follow-up, the original's delivery id) planned
    next_batch: dict[str, int] = field(default_factory=dict)
    pages: int = 0

    @classmethod
    def of(cls, message: Message) -> PlanCursor:
        raw = (message.meta or {}).get("plan") or {}
        return cls(after=int(raw.get("after", 0)), next_batch=dict(raw.get("next_batch", {})),
                   pages=int(raw.get("pages", 0)))

    def store(self, message: Message) -> None:
        # A new dict: the JSON column notices reassignment, not mutation.
        message.meta = {**(message.meta or {}),
                        "plan": {"after": self.after, "next_batch": self.next_batch, "pages": self.pages}}


@dataclass
class PlannedPage:
    counts: dict[str, int]  # rows written per channel
    batches: list[tuple[str, int]]  # (channel, batch_no) released by this page, in sending order
    done: bool


def plan_page(session: Session, runtime: Runtime, message: Message) -> PlannedPage:
    """Write the next page of the message's rows and advance its cursor. Caller commits, then
    enqueues ``batches``. Sets ``planned_at`` with the last page."""
    cursor = PlanCursor.of(message)
    limit = runtime.settings.plan_first_page if cursor.pages == 0 else runtime.settings.plan_page
    channels = [runtime.channel(name) for name in message.channels]
    rows: list[dict[str, Any]] = []
    if cursor.pages == 0:
        rows += [_broadcast_row(message, c) for c in channels if c.capabilities & Capability.BROADCAST]
    personal = [c for c in channels if not c.capabilities & Capability.BROADCAST]
    done = True
    if personal:
        audience = Audience.parse(message.audience)
        if audience.kind == "personal":
            page, last = csv_page(session, message, personal, cursor.after, limit, utcnow())
        elif audience.kind == "message":
            page, last = _follow_up_page(session, message, personal, int(audience.value), cursor.after, limit)
        else:
            page, last = _audience_page(session, message, personal, audience, cursor.after, limit)
        rows += page
        done = last is None
        cursor.after = last if last is not None else cursor.after
    withdrawn = bool((message.meta or {}).get("withdrawn"))
    batches = _number(rows, {c.name: c.batch_size for c in channels}, cursor, withdrawn)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["channel"]] = counts.get(row["channel"], 0) + 1
    insert_ignoring_duplicates(session, Delivery, rows)
    cursor.pages += 1
    cursor.store(message)
    if done:
        message.planned_at = utcnow()
    return PlannedPage(counts, batches, done)


def _number(rows: Sequence[dict[str, Any]], batch_sizes: dict[str, int], cursor: PlanCursor,
            withdrawn: bool) -> list[tuple[str, int]]:
    """Give the page's sendable rows batch numbers after those already written; returns the batches,
    batch 0 of every channel before batch 1 of any, so fast channels never wait for slow ones."""
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["state"] != DeliveryState.PENDING:
            continue
        if withdrawn:
            row.update(state=DeliveryState.SKIPPED, reason="withdrawn", error="取り下げ: 取消・訂正",
                       batch_no=NOT_BATCHED)
            continue
        by_channel.setdefault(row["channel"], []).append(row)
    released: list[tuple[str, int]] = []
    for channel, sendable in by_channel.items():
        # One language per stretch of a batch: LINE sends one request per language in a batch.
        sendable.sort(key=lambda r: (r["language"], r["contact_id"] or 0))
        first = cursor.next_batch.get(channel, 0)
        size = batch_sizes[channel]
        for n, row in enumerate(sendable):
            row["batch_no"] = first + n // size
        used = -(-len(sendable) // size)
        cursor.next_batch[channel] = first + used
        released += [(channel, b) for b in range(first, first + used)]
    return sorted(released, key=lambda cb: (cb[1], cb[0]))


def _broadcast_row(message: Message, channel: Channel) -> dict[str, Any]:
    row = _row(message, channel.name, None, broadcast_address(channel.name, message), "ja")
    # A drill never posts to a real public account; our own feed keeps exercises in a separate feed.
    if message.mode != Mode.ACTUAL and not channel.publishes_exercises and not channel.config.sandbox:
        row.update(state=DeliveryState.SKIPPED, reason="exercise_only", error=skip_message("exercise_only"),
                   batch_no=NOT_BATCHED)
    return row


def _audience_page(session: Session, message: Message, channels: Sequence[Channel], audience: Audience,
                   after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """The next ``limit`` contacts of the audience after ``after``, as rows for every channel."""
    fields = sorted({c.address_field for c in channels if c.address_field})
    # The message's category narrows it to residents who want that category (hub/residents).
    wanted = contact_ids_query(audience, distinct=False, category=message.category_code)
    page: Select[Any] = wanted.with_only_columns(
        Contact.id, Contact.language, Contact.kind, *(getattr(Contact, f) for f in fields), Contact.email_bounced_at
    ).where(Contact.id > after)
    if message.mode != Mode.ACTUAL:
        page = page.where(Contact.exercise_participant.is_(True))
    contacts = list({c.id: c for c in session.execute(page.order_by(Contact.id).limit(limit))}.values())
    if not contacts:
        return [], None
    last = contacts[-1].id
    # A range, not a list of ids: thousands of bound parameters cost more than the query itself.
    consented, stopped = _consents(session, Consent.contact_id > after, Consent.contact_id <= last,
                                   Consent.channel.in_([c.name for c in channels]))
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for channel in channels:
        assert channel.address_field, f"{channel.name} has no address field"
        column = 3 + fields.index(channel.address_field)
        seen: set[str] = set()  # two contacts sharing one phone or mailbox get one copy
        for contact in contacts:
            address = contact[column]
            if not address or address in seen:
                continue
            seen.add(address)
            # Residents need a live consent for this channel; staff are reached as part of their work.
            if contact.kind == ContactKind.RESIDENT and (contact.id, channel.name) not in consented:
                # A resident who stopped this channel is shown as such, not as never asked.
                reason: str | None = "opted_out" if (contact.id, channel.name) in stopped else "no_consent"
            elif channel.address_field == "email" and contact.email_bounced_at is not None:
                reason = "address_bounced"  # reported unknown by its own server; cleared when it changes
            else:
                reason = channel.check_address(address)
            rows.append(_row(message, channel.name, contact.id, address, contact.language, reason, now))
    return rows, last


def _consents(session: Session, *where: ColumnElement[bool]) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
    """(contact, channel) pairs with a live consent, and those whose every consent is revoked."""
    live: set[tuple[int, str]] = set()
    revoked: set[tuple[int, str]] = set()
    for contact_id, channel, revoked_at in session.execute(
            select(Consent.contact_id, Consent.channel, Consent.revoked_at).where(*where)):
        (revoked if revoked_at is not None else live).add((contact_id, channel))
    return live, revoked - live


def _follow_up_page(session: Session, message: Message, channels: Sequence[Channel], original_id: int,
                    after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """A cancellation or correction reaches exactly the addresses the original reached on each channel."""
    reached: ColumnElement[bool] = Delivery.state.in_(RECEIVED_STATES)
    if message.msg_type == MsgType.UPDATE:
        # A correction also goes to those whose copy of the original was withdrawn before it went
        # out: they must get the corrected information, not nothing.
        reached = reached | ((Delivery.state == DeliveryState.SKIPPED) & (Delivery.reason == "withdrawn"))
    found = session.execute(
        select(Delivery.id, Delivery.channel, Delivery.contact_id, Delivery.address, Delivery.language,
               Delivery.csv_row_id)
        .where(Delivery.message_id == original_id, Delivery.channel.in_([c.name for c in channels]),
               Delivery.id > after, reached)
        .order_by(Delivery.id).limit(limit)
    ).all()
    if not found:
        return [], None
    # A resident who stopped a channel since the original gets no correction or cancellation on
    # it either: an opt-out means nothing more (staff are reached as part of their work).
    residents = set(session.scalars(select(Contact.id).where(
        Contact.id.in_({row[2] for row in found if row[2] is not None}), Contact.kind == ContactKind.RESIDENT)))
    consented, _stopped = _consents(session, Consent.contact_id.in_(residents),
                                    Consent.channel.in_([c.name for c in channels]))
    rows = [_row(message, channel, contact_id, address, language,
                 "opted_out" if contact_id in residents and (contact_id, channel) not in consented else None)
            for _id, channel, contact_id, address, language, _csv_row in found]
    if is_personal(message):
        # A personalised correction: each row is filled with the values of the original's row.
        for row, found_row in zip(rows, found, strict=True):
            row["csv_row_id"] = found_row[5]
    return rows, found[-1][0]


def _row(message: Message, channel: str, contact_id: int | None, address: str, language: str,
         reason: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    row = {
        "message_id": message.id, "channel": channel, "contact_id": contact_id, "address": address,
        "language": language or "ja", "batch_no": 0, "state": DeliveryState.PENDING,
        "reason": None, "error": None, "attempts": 0, "updated_at": now or utcnow(),
    }
    if reason:
        row.update(state=DeliveryState.SKIPPED, reason=reason, error=skip_message(reason), batch_no=NOT_BATCHED)
    return row


def released_in_order(groups: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """Batches to enqueue, batch 0 of every channel first: a slow channel's backlog never goes first."""
    return sorted(set(groups), key=lambda cb: (cb[1], cb[0]))
