"""Alerts first: a 取消 overtakes a long rate-limited everyday send, and within one message the fast
channels never wait behind a slow one. One worker with one slot, so nothing but the lanes and the
requeued rate waits can explain the order (real Celery worker, PostgreSQL, Redis, the sandbox)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis
from sqlalchemy import update

from channels.sms import SmsChannel
from hub.compose.corrections import follow_up
from hub.config import Settings
from hub.dispatch.lanes import ALERTS, LANES, NOTICES
from hub.dispatch.tasks import plan_message, release
from hub.models import Delivery, DeliveryState, MsgType
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.e2e.guarantees import (
    add_residents,
    assert_each_reached_exactly_once,
    busy_rows,
    line_user,
    phone,
    wait_finished,
)
from tests.support.hubtools import rows, send, wait_for
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow

EMAILS_PER_SECOND = 2.0
RESIDENTS = 40  # 20 s of e-mail at that rate: long enough to see who overtakes whom


@pytest.fixture
def stack_settings(stack_settings: Settings) -> Settings:
    return replace(stack_settings, rate_email=EMAILS_PER_SECOND, rate_wait_max_seconds=1.0)


def test_a_cancellation_overtakes_a_rate_limited_everyday_send(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess]
) -> None:
    add_residents(stack_runtime, RESIDENTS)
    worker_factory(concurrency=1).start()
    alert = send(stack_runtime, channels=["sms"], audience="residents")
    wait_finished(stack_runtime, alert, timeout=60)

    notice = send(stack_runtime, channels=["email"], audience="residents", msg_type=MsgType.NOTICE,
                  title="健診のお知らせ", body="来週から特定健診が始まります。")
    wait_for(lambda: len(sandbox_client.inbox("email")) > 0, timeout=30)
    with stack_runtime.session() as session:
        cancel = follow_up(session, stack_runtime, alert, kind="cancel", actor="test")
        cancel_id, state = cancel.id, cancel.state
    release(cancel_id, state)

    def cancel_sent() -> bool:
        return bool(rows(stack_runtime, cancel_id)) and busy_rows(stack_runtime, cancel_id) == 0
    wait_for(cancel_sent, timeout=60)
    assert busy_rows(stack_runtime, notice) > 0, "the 取消 waited for the everyday send to finish"
    cancel_sms = [i for i in sandbox_client.inbox("sms") if i["text"].startswith("【取消】")]
    assert {i["to"] for i in cancel_sms} == {phone(n) for n in range(RESIDENTS)}

    # The everyday send is only delayed, never lost or doubled.
    wait_finished(stack_runtime, notice, timeout=120)
    final = assert_each_reached_exactly_once(stack_runtime, sandbox_client, notice, "email")
    assert {r.state for r in final} <= {DeliveryState.SENT, DeliveryState.DELIVERED}
    assert len(final) == RESIDENTS


def test_within_one_message_sms_and_line_do_not_wait_behind_rate_limited_email(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess]
) -> None:
    add_residents(stack_runtime, RESIDENTS)
    worker_factory(concurrency=1).start()
    message_id = send(stack_runtime, channels=["email", "line", "sms"], audience="residents")

    def fast_channels_done() -> bool:
        return (len(sandbox_client.inbox("sms")) == RESIDENTS
                and {i["to"] for i in sandbox_client.inbox("line")} == {line_user(n) for n in range(RESIDENTS)})
    wait_for(fast_channels_done, timeout=60)
    assert len(sandbox_client.inbox("email")) < RESIDENTS, "SMS and LINE waited for every e-mail"

    wait_finished(stack_runtime, message_id, timeout=120)
    for channel in ("email", "line", "sms"):
        assert len(assert_each_reached_exactly_once(stack_runtime, sandbox_client, message_id, channel)) == RESIDENTS


def test_everyday_notices_and_their_batches_go_to_the_notices_lane_and_a_cancellation_to_alerts(
    stack_runtime: Runtime,
) -> None:
    broker = redis.Redis.from_url(stack_runtime.settings.broker_url)
    add_residents(stack_runtime, SmsChannel.batch_size + 50)  # two batches

    def queued() -> dict[str, int]:
        return {lane: int(broker.llen(lane)) for lane in LANES}

    notice = send(stack_runtime, channels=["sms"], audience="residents", msg_type=MsgType.NOTICE)
    assert queued() == {ALERTS: 0, NOTICES: 1}, "planning the notice waits in its own lane"
    broker.delete(NOTICES)
    plan_message.run(notice)
    assert queued() == {ALERTS: 0, NOTICES: 2}, "both batches are everyday work"

    broker.delete(NOTICES)
    with stack_runtime.session() as session:  # as if the workers had sent it
        session.execute(update(Delivery).where(Delivery.message_id == notice).values(state=DeliveryState.SENT))
    with stack_runtime.session() as session:
        cancel = follow_up(session, stack_runtime, notice, kind="cancel", actor="test")
        cancel_id, state = cancel.id, cancel.state
    release(cancel_id, state)
    assert queued() == {ALERTS: 1, NOTICES: 0}, "a 取消 of an everyday notice is still urgent"
