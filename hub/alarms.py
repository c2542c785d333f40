"""Alarms to the duty department: the JMA feed's silence and the delivery engine's stall.

One path for both: an ordinary actual-mode message (so its delivery history is recorded like any
other) to ``jma_alarm_audience`` on ``jma_alarm_channels`` for ``trigger_department``, raised once
per outage through a compare-and-set on an ``alarm_sent_at`` column, with a recovery notice when
the outage ends. Only how it leaves differs: the feed alarm is queued for the workers like any
send; the engine alarm is delivered by the process that noticed, because when no worker is alive
a queued alarm would wait with everything else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import InstrumentedAttribute

from hub.compose.messages import ComposeError, Composition, create_message
from hub.dispatch.claim import CLAIMABLE
from hub.dispatch.tasks import finish_if_done, plan_here, release, send_batch
from hub.models import Delivery, Department, Mode
from hub.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alarm:
    title: str
    body: str
    source: str  # e.g. trigger:jma:alarm, engine:alarm
    actor: str
    meta: dict[str, Any] = field(default_factory=dict)


def flip(rt: Runtime, column: InstrumentedAttribute[datetime | None], where: ColumnElement[bool],
         value: datetime | None) -> bool:
    """Compare-and-set ``column`` (an ``alarm_sent_at``): set it if unset, or clear it if set.

    True for the one process whose update changed the row: only that one sends the alarm (or the
    recovery notice), however many pollers or web processes noticed at the same moment.
    """
    condition = column.is_(None) if value is not None else column.is_not(None)
    with rt.session() as session:
        done = session.execute(update(column.class_).where(where, condition).values({column.key: value}))
    return bool(getattr(done, "rowcount", 0))


def send_alarm(rt: Runtime, alarm: Alarm, *, here: bool = False) -> int | None:
    """Compose the alarm for the duty department and send it; returns the message id.

    ``here``: deliver it from this process, through the channel adapters, instead of queueing it.
    """
    settings = rt.settings
    channels = [c.strip() for c in settings.jma_alarm_channels.split(",") if c.strip()]
    composition = Composition(title=alarm.title, body=alarm.body, channels=channels, mode=Mode.ACTUAL,
                              audience=settings.jma_alarm_audience, source=alarm.source)
    try:
        with rt.session() as session:
            # The trigger department's, like every automatic message; an alarm goes out even without one.
            composition.department_id = session.scalar(
                select(Department.id).where(Department.code == settings.trigger_department))
            message = create_message(session, rt, composition, actor=alarm.actor)
            message.meta = {**(message.meta or {}), **alarm.meta}
            message_id, state = message.id, message.state
    except ComposeError as exc:
        log.error("alarm %r could not be sent: %s", alarm.title, exc)
        return None
    log.error("%s (message %s)", alarm.title, message_id)
    if here:
        deliver_here(rt, message_id)
    else:
        release(message_id, state)
    return message_id


def deliver_here(rt: Runtime, message_id: int) -> None:
    """Plan and send every batch of the message in this process (a small duty audience).

    What a transient error leaves pending is retried by the workers once they are back (the sweeper
    finds it); if this process is itself killed midway, the rows it held are settled like any dead
    worker's, so nobody gets two copies.
    """
    if not plan_here(message_id):
        return
    with rt.session() as session:
        batches = sorted((str(c), int(b)) for c, b in session.execute(
            select(Delivery.channel, Delivery.batch_no)
            .where(Delivery.message_id == message_id, Delivery.state.in_(CLAIMABLE)).distinct()
        ))
    for channel, batch_no in batches:
        try:
            send_batch.run(message_id, channel, batch_no)
        except Exception:  # one channel failing must not keep the alarm off the others
            log.exception("alarm %s: %s batch %s could not be sent here", message_id, channel, batch_no)
    finish_if_done(message_id)
