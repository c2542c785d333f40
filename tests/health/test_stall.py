"""What counts as a stalled send: due rows and none settled for three minutes; rows waiting for their
retry time are not stuck, and a send that settles rows is moving however long it takes."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select, update

from hub.dispatch.lanes import LANES
from hub.dispatch.tasks import plan_here
from hub.health.engine import STALLED, observe
from hub.health.heartbeat import Heartbeat
from hub.models import Delivery, DeliveryState
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from tests.api.support import create_approved

MINUTE = 60


def _planned_send(client: FlaskClient, rt: Runtime) -> int:
    message_id = int(create_approved(client, channels=["sms"])["message_id"])
    assert plan_here(message_id)  # planned, its batches queued for workers that never take them
    return message_id


def test_waiting_for_a_retry_is_not_a_stall_but_due_rows_left_alone_are(
    engine_client: FlaskClient, engine_runtime: Runtime, clock: ManualClock
) -> None:
    rt = engine_runtime
    worker = Heartbeat("celery@node1", LANES)
    worker.start(rt)
    message_id = _planned_send(engine_client, rt)
    # Every row backs off for ten minutes (a provider asked us to wait): nothing is due meanwhile.
    with rt.session() as session:
        session.execute(update(Delivery).where(Delivery.message_id == message_id)
                        .values(next_attempt_at=clock.now() + timedelta(minutes=10)))
    for _ in range(9):
        clock.advance(MINUTE)
        worker(rt)
        assert observe(rt).ok
    clock.advance(MINUTE)  # now they are due, and nobody takes them
    worker(rt)
    assert observe(rt).ok  # due for a moment only
    clock.advance(3 * MINUTE)
    worker(rt)
    health = observe(rt)
    assert health.state == STALLED and [s.message_id for s in health.stalled] == [message_id]


def test_a_slow_send_that_keeps_settling_rows_is_moving(
    engine_client: FlaskClient, engine_runtime: Runtime, clock: ManualClock
) -> None:
    rt = engine_runtime
    worker = Heartbeat("celery@node1", LANES)
    worker.start(rt)
    message_id = _planned_send(engine_client, rt)
    with rt.session() as session:
        rows = list(session.scalars(select(Delivery.id).where(Delivery.message_id == message_id,
                                                              Delivery.state == DeliveryState.PENDING)))
    assert len(rows) >= 4
    observe(rt)
    for row_id in rows[:4]:  # one recipient settled every two minutes: slow, but never stuck
        clock.advance(2 * MINUTE)
        worker(rt)
        with rt.session() as session:
            session.execute(update(Delivery).where(Delivery.id == row_id).values(state=DeliveryState.SENT))
        assert observe(rt).ok
    clock.advance(3 * MINUTE)
    worker(rt)
    assert observe(rt).state == STALLED
