"""The acceptance test of the engine watchdog: a real worker is killed, and within three minutes of
the (hand-moved) clock the duty department has the alarm by e-mail and LINE — delivered by the
watcher itself, since no worker is left to take it — then a recovery notice once a worker is back.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.demo.seed import seed_demo
from hub.health.engine import NO_WORKER, observe
from hub.health.watchdog import check
from hub.models import Message, MessageState, utcnow
from hub.models.health import WorkerHeartbeat
from hub.relay.clock import ManualClock, using
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.health.support import duty_addresses, engine_alarms, received
from tests.support.hubtools import send, wait_for
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow
ROUND = 15  # seconds of clock between two rounds of `hub watchdog` (HUB_WATCHDOG_SECONDS)


def _beats(rt: Runtime) -> int:
    with rt.session() as session:
        return sum(session.scalars(select(WorkerHeartbeat.beats)))


def _next_beat(rt: Runtime) -> None:
    """Real time passes until the worker beats once more (it beats every sweep interval)."""
    before = _beats(rt)
    wait_for(lambda: _beats(rt) > before, timeout=20, interval=0.1)


def test_killed_worker_raises_the_engine_alarm_within_three_minutes(
    any_stack_runtime: Runtime, any_worker_factory: type[WorkerProcess], sandbox_client: SandboxClient
) -> None:
    rt = any_stack_runtime
    with rt.session() as session:
        seed_demo(session, residents=20, staff=40)  # ten of the 防災 department on duty
    worker = any_worker_factory(concurrency=1).start()
    with using(ManualClock(utcnow())) as clock:
        assert isinstance(clock, ManualClock)
        wait_for(lambda: len(observe(rt).live_workers) == 1, timeout=20)
        assert observe(rt).live_workers[0].lanes  # the queues it consumes, as Celery names them
        assert check(rt) is None
        # However far the clock jumps, a worker that keeps beating is alive.
        clock.advance(minutes=10)
        _next_beat(rt)
        assert check(rt) is None and observe(rt).ok

        worker.kill()
        killed_at = clock.now()
        message_id = send(rt, title="避難指示", channels=["sms", "email"], audience="residents", mode="exercise")
        alarm = None
        while alarm is None:
            clock.advance(seconds=ROUND)
            assert clock.now() - killed_at <= timedelta(minutes=3), "no alarm within three minutes"
            alarm = check(rt)
        assert alarm == "alarm"

        health = observe(rt)
        assert health.state == NO_WORKER and not health.live_workers
        # The send sits queued: its planning task waits in the broker, counted on its lane.
        assert sum(lane.queued or 0 for lane in health.lanes) >= 1
        assert health.oldest_pending_seconds is not None and health.oldest_pending_seconds >= 60
        [raised] = engine_alarms(rt)
        assert "稼働中の配信ワーカーがありません" in raised.title
        for channel in ("email", "line"):
            assert duty_addresses(rt, channel)
            assert received(rt, sandbox_client, raised, channel) == duty_addresses(rt, channel)
        clock.advance(seconds=ROUND)
        assert check(rt) is None  # one alarm per outage

        any_worker_factory(concurrency=1).start()  # the operator restarts it: the send goes on
        wait_for(lambda: _state(rt, message_id) == MessageState.DONE, timeout=90, interval=0.5)
        _next_beat(rt)
        assert check(rt) == "recovered"
        back = engine_alarms(rt)[-1]
        assert back.title.startswith("【復旧】")
        assert received(rt, sandbox_client, back, "email") == duty_addresses(rt, "email")


def _state(rt: Runtime, message_id: int) -> str | None:
    with rt.session() as session:
        message = session.get(Message, message_id)
        return message.state if message else None
