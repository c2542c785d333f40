"""Personal data kept no longer than the city needs it: the retention periods.

``HUB_HISTORY_RETENTION_DAYS`` after a message finished, its recipients' addresses are masked
(``+81 90-****-5678（保存期間経過 #812）``) and a personalised send's CSV values (names, appointment
times) are cleared; the message itself, its counts, states and times stay: the record that the city
sent it, to how many, and how it went. ``HUB_STOPPED_RETENTION_DAYS`` after a resident stopped
everything (no live consent left), they are erased as on their own request
(hub/contacts/erasure.py, source ``retention``). Staff are the city's own records: not touched.

0 keeps the data (the default: the city decides, by its 文書管理規程, how long delivery records
are kept); a period under :data:`MIN_DAYS` counts as :data:`MIN_DAYS`, so a typo cannot mask last
week's alert. The sweeper runs :func:`apply_retention` at most once an hour (every minute while a
backlog is left); ``hub contacts retention`` runs it by hand until nothing is left.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.config import Keys, Settings
from hub.contacts.erasure import ERASED_MARK, EXPIRED_MARK, erase_contact, mask_rows
from hub.db import rowcount
from hub.models import (
    TERMINAL_STATES,
    Consent,
    Contact,
    ContactKind,
    CsvRow,
    Delivery,
    Message,
    MessageState,
    audit,
    utcnow,
)
from hub.runtime import Runtime

log = logging.getLogger(__name__)

MIN_DAYS = 30
ROWS_PER_ROUND = 5000  # delivery rows masked per call: one transaction stays short
# A backlog of stopped residents is worked off a few at a time: each erasure is a transaction of its
# own rows in several tables, and one round stays short beside a send.
CONTACTS_PER_ROUND = 50
EVERY_SECONDS = 3600.0
AGAIN_SECONDS = 60.0  # while a backlog is left
FINISHED = (MessageState.DONE, MessageState.WITHDRAWN)


@dataclass
class RetentionReport:
    messages: int = 0  # messages whose history is now masked in full
    rows: int = 0  # delivery rows masked
    csv_rows: int = 0  # personalised-send rows cleared
    erased: list[int] = field(default_factory=list)  # residents erased
    more: bool = False  # a limit was reached: call again

    def as_dict(self) -> dict[str, object]:
        return {"messages": self.messages, "rows": self.rows, "csv_rows": self.csv_rows,
                "erased": len(self.erased), "more": self.more}


def period(days: int) -> timedelta | None:
    if days <= 0:
        return None
    return timedelta(days=max(days, MIN_DAYS))


def apply_retention(session: Session, settings: Settings, now: datetime | None = None) -> RetentionReport:
    """One round of both periods, in the caller's transaction (it commits)."""
    now = now or utcnow()
    report = RetentionReport()
    history = period(settings.history_retention_days)
    if history is not None:
        _mask_history(session, now - history, report)
    stopped = period(settings.stopped_retention_days)
    if stopped is not None:
        _erase_stopped(session, settings.secret_keys, now - stopped, report)
    if report.rows or report.csv_rows or report.erased or report.messages:
        audit(session, "system", "retention.applied", ("retention", "round"), **report.as_dict())
    return report


def _mask_history(session: Session, cutoff: datetime, report: RetentionReport) -> None:
    due = session.scalars(select(Message.id).where(
        Message.history_masked_at.is_(None), Message.state.in_(FINISHED),
        func.coalesce(Message.planned_at, Message.created_at) < cutoff).order_by(Message.id).limit(50))
    for message_id in due:
        budget = ROWS_PER_ROUND - report.rows
        if budget <= 0:
            report.more = True
            return
        rows = session.execute(select(Delivery.id, Delivery.address).where(
            Delivery.message_id == message_id, Delivery.state.in_(TERMINAL_STATES),
            # Rows masked already (an erased person's) are not taken again: a message with more of
            # them than a round's budget would otherwise be taken, unchanged, round after round.
            ~Delivery.address.contains(EXPIRED_MARK), ~Delivery.address.contains(ERASED_MARK))
            .order_by(Delivery.id).limit(budget)).all()
        report.rows += mask_rows(session, rows, EXPIRED_MARK)
        if len(rows) == budget:
            report.more = True
            return
        unsettled = session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.message_id == message_id, Delivery.state.not_in(TERMINAL_STATES)))
        if unsettled:
            continue  # rows still in doubt keep their address until they settle
        report.csv_rows += rowcount(session.execute(
            update(CsvRow).where(CsvRow.message_id == message_id).values(values={}, addresses={})
            .execution_options(synchronize_session=False)))
        session.execute(update(Message).where(Message.id == message_id).values(history_masked_at=utcnow()))
        report.messages += 1


def _erase_stopped(session: Session, secret_key: Keys, cutoff: datetime, report: RetentionReport) -> None:
    live = select(Consent.id).where(Consent.contact_id == Contact.id, Consent.revoked_at.is_(None)).exists()
    last_stop = (select(func.max(Consent.revoked_at)).where(Consent.contact_id == Contact.id)
                 .scalar_subquery())
    stopped = session.scalars(select(Contact).where(
        Contact.kind == ContactKind.RESIDENT, Contact.erased_at.is_(None), ~live, last_stop < cutoff)
        .order_by(Contact.id).limit(CONTACTS_PER_ROUND + 1)).all()
    report.more = report.more or len(stopped) > CONTACTS_PER_ROUND
    for contact in stopped[:CONTACTS_PER_ROUND]:
        erase_contact(session, contact, secret_key, "retention", "system")
        report.erased.append(contact.id)


class RetentionClock:
    """The sweeper's job: a round at most every ``EVERY_SECONDS``, at once again while work is left."""

    def __init__(self) -> None:
        self._next = 0.0

    def __call__(self, rt: Runtime) -> RetentionReport | None:
        settings = rt.settings
        if time.monotonic() < self._next or not (settings.history_retention_days or settings.stopped_retention_days):
            return None
        with rt.session() as session:
            report = apply_retention(session, settings)
        self._next = time.monotonic() + (AGAIN_SECONDS if report.more else EVERY_SECONDS)
        if report.rows or report.erased:
            log.info("retention: %s", report.as_dict())
        return report
