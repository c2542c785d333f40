"""Celery tasks of the relay. They carry ids only; the database says what is due and whose it is.

``hub.relay.tick`` runs from celery beat every ``relay_tick_seconds``: waits between steps live
in ``callout_targets.next_step_at``, never in broker countdowns (a long ETA on Redis can be
redelivered or lost).
"""

from __future__ import annotations

from collections.abc import Iterable

from celery import shared_task
from flask import current_app

from hub.relay import answers, engine
from hub.relay.engine import Dispatch
from hub.runtime import Runtime


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def enqueue(dispatches: Iterable[Dispatch]) -> int:
    """Call only after the transaction that stamped the task ids committed."""
    count = 0
    for d in dispatches:
        step.delay(d.target_id, d.task_id)
        count += 1
    return count


@shared_task(name="hub.relay.step")
def step(target_id: int, task_id: str) -> int:
    return enqueue(engine.run_step(_runtime(), target_id, task_id))


@shared_task(name="hub.relay.tick")
def tick() -> int:
    rt = _runtime()
    with rt.session() as session:
        dispatches = engine.tick(session, rt)
    return enqueue(dispatches)


@shared_task(name="hub.relay.line_followup")
def line_followup(target_id: int) -> None:
    answers.line_followup(_runtime(), target_id)


def release_callout(callout_id: int) -> int:
    """Send the first steps of a call-out now; call after the transaction that created it committed."""
    rt = _runtime()
    with rt.session() as session:
        dispatches = engine.dispatch_due(session, rt, callout_id=callout_id)
    return enqueue(dispatches)
