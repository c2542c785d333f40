"""A call-out through real Celery workers, Redis and PostgreSQL; the worker is SIGKILLed in the
middle (some calls still with the provider) and restarted: nobody is skipped, nobody is
contacted twice for one step."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from hub.models import AuditLog
from hub.models.relay import OPEN_TARGET_STATES, Callout, CalloutTarget
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.relay.support import attempts, seed_staff, start, tick
from tests.support.hubtools import wait_for
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow
STAFF = 60
FULL_CHAIN = [(cycle, step) for cycle in (1, 2) for step in range(3)]


def _open_targets(runtime: Runtime, callout_id: int) -> int:
    with runtime.session() as s:
        return int(s.scalar(select(func.count()).select_from(CalloutTarget).where(
            CalloutTarget.callout_id == callout_id, CalloutTarget.state.in_(OPEN_TARGET_STATES))) or 0)


def test_worker_killed_mid_callout_nobody_skipped_nobody_contacted_twice(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: Callable[..., WorkerProcess]
) -> None:
    people = seed_staff(stack_runtime, STAFF)
    # Some calls hang at the provider for a while: the kill finds steps in the middle of a call.
    for person in people[:STAFF:6]:
        sandbox_client.inject_fault("voice", "timeout", count=1, match=person.phone, delay=3.0)
    first = worker_factory(concurrency=2).start()
    callout_id = start(stack_runtime, departments="all", mode="exercise", interval="2s", cycles=2)

    def calls_under_way() -> bool:
        tick(stack_runtime)  # celery beat's job in production
        return len(sandbox_client.inbox("voice")) >= 6

    wait_for(calls_under_way, timeout=60, interval=0.1)
    first.kill()
    assert _open_targets(stack_runtime, callout_id) > 0, "the kill came too late to test anything"

    worker_factory(concurrency=2).start()

    def state() -> str | None:
        with stack_runtime.session() as s:
            return s.scalar(select(Callout.state).where(Callout.id == callout_id))

    # The call-out is marked done by the tick after its last person is settled.
    deadline = time.monotonic() + 180
    while (_open_targets(stack_runtime, callout_id) or state() != "done") and time.monotonic() < deadline:
        tick(stack_runtime)
        time.sleep(0.5)
    assert _open_targets(stack_runtime, callout_id) == 0
    assert state() == "done"
    with stack_runtime.session() as s:
        recovered = s.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "relay.step.recover")) or 0

    tried = attempts(stack_runtime, callout_id)
    per_target: dict[int, list[tuple[int, int]]] = {}
    for a in tried:
        per_target.setdefault(a.target_id, []).append((a.cycle, a.step_index))
    assert len(per_target) == STAFF
    skipped = {t: steps for t, steps in per_target.items() if sorted(steps) != FULL_CHAIN}
    assert not skipped, f"somebody missed a step: {list(skipped.items())[:3]}"
    assert not [a for a in tried if a.state == "sending"]

    for channel in ("line", "voice", "email"):
        copies = Counter(str(item["to"]) for item in sandbox_client.inbox(channel))
        planned = Counter(str(a.address) for a in tried if a.channel == channel)
        confirmed = Counter(str(a.address) for a in tried if a.channel == channel and a.state == "sent")
        twice = {address for address, n in copies.items() if n > planned[address]}
        assert not twice, f"{channel}: contacted twice for one step: {sorted(twice)[:3]}"
        missing = {address for address, n in confirmed.items() if copies[address] < n}
        assert not missing, f"{channel}: recorded as sent but never arrived: {sorted(missing)[:3]}"
        if channel != "email":  # LINE (retry key) and calls (asked back) are settled exactly
            assert copies == planned, channel
    print(f"steps reconciled after the kill: {recovered}")
