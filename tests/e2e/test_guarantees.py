"""Delivery guarantees under ordinary faults, with real worker processes, checked against the sandbox inbox.

Each test runs on production's PostgreSQL + Redis and on the embedded default (SQLite + file broker)
unless it is about a part only production has (Redis).
"""

from __future__ import annotations

import pytest

from hub.models import DeliveryState
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.e2e.guarantees import add_residents, assert_each_reached_exactly_once, line_user, wait_finished
from tests.support.hubtools import send
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow


def test_line_read_timeout_on_the_first_multicast_sends_nobody_a_second_copy(
    any_stack_runtime: Runtime, sandbox_client: SandboxClient, any_worker_factory: type[WorkerProcess]
) -> None:
    add_residents(any_stack_runtime, 1742)
    # LINE accepts the first multicast, then its answer is lost (longer than the hub's timeout).
    sandbox_client.inject_fault("line", "timeout", count=1, delay=2.5)
    any_worker_factory().start()
    message_id = send(any_stack_runtime, channels=["line"])

    wait_finished(any_stack_runtime, message_id, timeout=120)
    final = assert_each_reached_exactly_once(any_stack_runtime, sandbox_client, message_id, "line")
    assert len(final) == 1742
    assert {r.state for r in final} == {DeliveryState.SENT}
    assert set(i["to"] for i in sandbox_client.inbox("line")) == {line_user(n) for n in range(1742)}
    # The retry was the very same request: LINE recognised its retry key instead of sending again.
    conflicts = sandbox_client.stats().get("line.retry_key_conflicts", 0)
    assert conflicts >= 1
    # On a loaded machine another multicast may also outlive the 1 s timeout; whatever went over the
    # wire twice was a request LINE recognised by its retry key (at most 500 rows each).
    stalled = [r for r in final if r.attempts == 2]
    assert 0 < len(stalled) <= 500 * conflicts, "only rows of requests LINE saw as retries went twice"


@pytest.mark.long
def test_sms_fault_storm_delivers_nearly_everyone_once_and_says_why_for_the_rest(
    any_stack_runtime: Runtime, sandbox_client: SandboxClient, any_worker_factory: type[WorkerProcess]
) -> None:
    add_residents(any_stack_runtime, 1000)
    # Independent per request: 30 % server errors, 5 % rate limits, 5 % answers lost after acceptance.
    sandbox_client.inject_fault("sms", "500", probability=0.30)
    sandbox_client.inject_fault("sms", "429", probability=0.05)
    sandbox_client.inject_fault("sms", "timeout", probability=0.05, delay=1.5)
    any_worker_factory(concurrency=4).start()
    any_worker_factory(concurrency=4).start()
    message_id = send(any_stack_runtime, channels=["sms"])

    wait_finished(any_stack_runtime, message_id, timeout=240)  # under pytest-timeout (300 s), so a stall reports its rows
    final = assert_each_reached_exactly_once(any_stack_runtime, sandbox_client, message_id, "sms")
    by_state: dict[str, list] = {}
    for r in final:
        by_state.setdefault(r.state, []).append(r)
    failed = by_state.get(DeliveryState.FAILED, [])
    assert len(final) == 1000
    assert len(failed) <= 20, f"{len(failed)} permanent failures (≤ 2 % expected with p^attempts)"
    assert not by_state.get(DeliveryState.UNKNOWN), "every lost answer was checked with Twilio"
    assert all(r.error and "5回送信しても" in r.error and "再送します" not in r.error.split("→")[-1]
               for r in failed), [r.error for r in failed][:3]
    assert all(r.attempts == 5 for r in failed), "a failure only after five real requests"
    received = {i["to"] for i in sandbox_client.inbox("sms")}
    assert not {r.address for r in failed} & received
