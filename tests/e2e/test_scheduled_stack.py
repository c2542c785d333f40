"""Scheduled sends through the production path (a real Celery worker, Redis, PostgreSQL, the
sandbox): a due scheduled notice is sent by a worker started after it was scheduled, with an empty
broker (a scheduled send is a row, not a queued task, so a restart loses nothing), and one withdrawn
before its time sends nothing when that time passes."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest
import redis

from hub.api.scheduled import withdraw_scheduled
from hub.config import Settings
from hub.models import Delivery, Message, MessageState, MsgType, utcnow
from hub.policy import SYSTEM
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.e2e.guarantees import add_residents, assert_each_reached_exactly_once, phone, wait_finished
from tests.support.hubtools import rows, send
from tests.support.services import REDIS_URL
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow

RESIDENTS = 5
LEAD = timedelta(seconds=8)  # time enough to withdraw one and start a worker before they are due


@pytest.fixture
def stack_settings(stack_settings: Settings) -> Settings:
    return replace(stack_settings, sweep_interval_seconds=1.0)


def test_a_due_scheduled_send_goes_through_a_real_worker_and_a_withdrawn_one_never_does(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess]
) -> None:
    add_residents(stack_runtime, RESIDENTS)
    due = utcnow() + LEAD
    kept = send(stack_runtime, channels=["sms"], audience="residents", msg_type=MsgType.NOTICE,
                title="健診のお知らせ", body="明日は特定健診の日です。", scheduled_at=due)
    dropped = send(stack_runtime, channels=["sms"], audience="residents", msg_type=MsgType.NOTICE,
                   title="中止になった案内", body="送られてはならない文面です。", scheduled_at=due)
    with stack_runtime.session() as session:
        assert {m.state for m in session.query(Message).filter(Message.id.in_([kept, dropped]))} == {
            MessageState.SCHEDULED}
        withdraw_scheduled(session, dropped, SYSTEM, reason="日程変更のため")
    # Nothing about either waits in the broker: only the rows carry them.
    redis.Redis.from_url(REDIS_URL).flushdb()

    worker_factory(concurrency=2).start()
    wait_finished(stack_runtime, kept, timeout=60)
    final = assert_each_reached_exactly_once(stack_runtime, sandbox_client, kept, "sms")
    assert {r.address for r in final} == {phone(i) for i in range(RESIDENTS)}
    first_sent = min(r.sent_at for r in final if r.sent_at is not None)
    assert first_sent >= due, "sent before its time"

    time.sleep(3)  # several sweeps after the withdrawn one's time
    assert rows(stack_runtime, dropped) == []
    with stack_runtime.session() as session:
        withdrawn = session.get(Message, dropped)
        assert withdrawn is not None and withdrawn.state == MessageState.WITHDRAWN
        assert session.query(Delivery).filter(Delivery.message_id == dropped).count() == 0
    assert all("送られてはならない" not in i["text"] for i in sandbox_client.inbox("sms"))
