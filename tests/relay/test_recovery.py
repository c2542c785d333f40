"""A worker that dies holding a step: once its lease has lapsed the tick hands the step on, and
the provider is asked before anything is sent again (LINE retry key, Twilio lookup; e-mail cannot
be asked and stays unknown rather than arriving twice)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from hub.models import utcnow
from hub.models.relay import CalloutTarget
from hub.relay import engine
from hub.relay.callouts import close_callout, start_callout
from hub.relay.clock import ManualClock
from hub.relay.contacting import send_step
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.relay.support import attempts, seed_staff, tick

DEAD = "dead-host:4242:0000"  # a worker id with no lease: the process is gone


def _die_holding_the_step(runtime: Runtime, channel: str, reached_provider: bool) -> int:
    with runtime.session() as s:
        callout_id = start_callout(s, runtime, "anpi", "all", mode="exercise", steps=[channel], cycles=1,
                                   source="test").id
    with runtime.session() as s:
        (dispatch,) = engine.dispatch_due(s, runtime, callout_id=callout_id)
    with runtime.session() as s:
        claimed = engine._claim(s, runtime, dispatch.target_id, dispatch.task_id, DEAD)
    assert claimed is not None
    if reached_provider:
        send_step(runtime, claimed.step)  # … and the process was killed before recording it
    with runtime.session() as s:  # long enough ago that the sweep may take it over
        s.execute(update(CalloutTarget).values(claimed_at=utcnow() - timedelta(hours=1)))
    return callout_id


@pytest.mark.parametrize(("channel", "reached", "copies", "state"), [
    ("line", True, 1, "sent"), ("line", False, 1, "sent"),
    ("voice", True, 1, "sent"), ("voice", False, 1, "sent"),
    ("sms", True, 1, "sent"), ("sms", False, 1, "sent"),
    ("email", True, 1, "unknown"), ("email", False, 0, "unknown"),
])
def test_a_dead_workers_step_is_reconciled_never_sent_twice(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient, channel: str, reached: bool,
    copies: int, state: str
) -> None:
    seed_staff(runtime, 1)
    callout_id = _die_holding_the_step(runtime, channel, reached)
    assert tick(runtime) == 1
    assert len(sandbox_client.inbox(channel)) == copies
    assert [(a.channel, a.state) for a in attempts(runtime, callout_id)] == [(channel, state)]
    with runtime.session() as s:
        assert s.query(CalloutTarget).one().state == "exhausted"
    assert tick(runtime) == 0


def test_a_living_worker_is_never_taken_over(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    seed_staff(runtime, 1)
    callout_id = _die_holding_the_step(runtime, "line", reached_provider=False)
    with runtime.session() as s:  # the holder is this (living) process after all
        s.execute(update(CalloutTarget).values(claimed_by=runtime.lease.worker_id))
    assert tick(runtime) == 0
    assert [a.state for a in attempts(runtime, callout_id)] == ["sending"]


def test_closing_with_a_step_left_by_a_dead_worker_marks_it_unknown(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    seed_staff(runtime, 1)
    callout_id = _die_holding_the_step(runtime, "email", reached_provider=True)
    with runtime.session() as s:
        engine.recover_stale(s, runtime)
        close_callout(s, callout_id, actor="test")
    assert [a.state for a in attempts(runtime, callout_id)] == ["unknown"]
    assert tick(runtime) == 0
