"""At-least-once Celery: the same step task twice, a redelivered stale task, two workers racing —
never a second contact for one step."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from hub.models.relay import ContactAttempt
from hub.relay import engine, tasks
from hub.relay.callouts import start_callout
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.relay.support import attempts, seed_staff, start, tick


def _created(runtime: Runtime) -> int:
    with runtime.session() as s:
        callout = start_callout(s, runtime, "anpi", "all", mode="exercise", interval="5m", cycles=1,
                                source="test")
        s.flush()
        return callout.id


def _dispatch(runtime: Runtime, callout_id: int) -> list[engine.Dispatch]:
    with runtime.session() as s:
        return engine.dispatch_due(s, runtime, callout_id=callout_id)


def test_the_same_step_task_run_twice_contacts_once(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    callout_id = _created(runtime)
    (first,) = _dispatch(runtime, callout_id)
    tasks.step(first.target_id, first.task_id)
    tasks.step(first.target_id, first.task_id)
    assert len(sandbox_client.inbox("line", to=person.line)) == 1
    assert [(a.channel, a.state) for a in attempts(runtime, callout_id)] == [("line", "sent")]


def test_a_redelivered_stale_task_finds_nothing_to_do(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    callout_id = _created(runtime)
    (lost,) = _dispatch(runtime, callout_id)  # enqueued, but the broker lost it
    clock.advance(runtime.settings.stale_after_seconds + 1)
    assert tick(runtime) == 1  # the tick re-dispatches under a new task id, which sends
    assert len(sandbox_client.inbox("line", to=person.line)) == 1
    tasks.step(lost.target_id, lost.task_id)  # the lost message turns up after all
    assert len(sandbox_client.inbox("line", to=person.line)) == 1
    assert len(attempts(runtime, callout_id)) == 1


def test_every_step_delivered_twice_by_the_broker_still_contacts_once_per_step(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = seed_staff(runtime, 3)
    once = tasks.step.delay

    def twice(*args: Any, **kwargs: Any) -> Any:
        once(*args, **kwargs)
        return once(*args, **kwargs)

    monkeypatch.setattr(tasks.step, "delay", twice)
    callout_id = start(runtime, interval="5m", cycles=2)
    for _ in range(40):
        clock.advance(60)
        tick(runtime)
    for channel in ("line", "voice", "email"):
        copies = Counter(item["to"] for item in sandbox_client.inbox(channel))
        assert sorted(copies.values()) == [2, 2, 2], channel  # two cycles, one copy each
    steps = Counter((a.target_id, a.cycle, a.step_index) for a in attempts(runtime, callout_id))
    assert len(steps) == len(people) * 6 and set(steps.values()) == {1}


def test_two_workers_racing_for_one_step_contact_once(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    callout_id = _created(runtime)
    (dispatch,) = _dispatch(runtime, callout_id)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            engine.run_step(runtime, dispatch.target_id, dispatch.task_id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert len(sandbox_client.inbox("line", to=person.line)) == 1
    assert len(attempts(runtime, callout_id)) == 1


def test_the_database_refuses_a_second_attempt_row_for_one_step(runtime: Runtime, clock: ManualClock) -> None:
    seed_staff(runtime, 1)
    callout_id = start(runtime, interval="5m", cycles=1)
    (first,) = attempts(runtime, callout_id)
    with pytest.raises(IntegrityError), runtime.session() as s:
        s.add(ContactAttempt(callout_id=callout_id, target_id=first.target_id, cycle=1, step_index=0,
                             channel="line", state="sending"))
        s.flush()
