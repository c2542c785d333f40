"""Status callbacks are queued by the endpoint and applied in bulk, on both databases: the bulk
result is the one applying each callback on its own would give, a burst costs a bounded number of
statements, and an applier that dies before committing loses nothing."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, bindparam, event, select, update
from twilio.request_validator import RequestValidator

from channels.base import Outcome
from channels.inbound import StatusEvent
from hub import statuses
from hub.db import get_engine
from hub.models import Delivery, DeliveryState, Message, QueuedStatus, utcnow
from hub.models.base import table_of
from hub.runtime import Runtime
from sandbox import SANDBOX_TWILIO_AUTH_TOKEN

# What applying one callback meant before the queue (hub/callbacks.py until this change): the
# reference the bulk path must agree with.
_T = table_of(Delivery)
_OURS = (_T.c.id == bindparam("b_id")) & (_T.c.provider_id.is_(None) | (_T.c.provider_id == bindparam("b_sid")))
_COMMON: dict[str, Any] = {"provider_id": bindparam("b_sid"), "provider_status": bindparam("b_status"),
                           "updated_at": bindparam("b_now")}
_SETTLEABLE = ["sending", "checking", "sent", "unknown"]
_REFERENCE = {
    None: update(_T).where(_OURS, _T.c.state.in_(["sending", "checking", "sent"])).values(
        state="sent", sent_at=bindparam("b_now"), **_COMMON),
    "delivered": update(_T).where(_OURS, _T.c.state.in_(_SETTLEABLE)).values(
        state="delivered", delivered_at=bindparam("b_now"), **_COMMON),
    "failed": update(_T).where(_OURS, _T.c.state.in_(_SETTLEABLE)).values(
        state="failed", error_code=bindparam("b_code"), error=bindparam("b_error"), **_COMMON),
}
WORDS = [("queued", None), ("sent", None), ("delivered", "delivered"), ("undelivered", "failed"),
         ("failed", "failed")]
START = ["sending", "checking", "sent", "unknown", "pending", "delivered", "failed"]


@pytest.fixture
def queued(runtime: Runtime) -> Runtime:
    """The runtime as in production: callbacks wait in the queue until an applier runs."""
    runtime.settings = replace(runtime.settings, tasks_eager=False)
    return runtime


def _rows(rt: Runtime, states: list[tuple[str, str | None]]) -> list[int]:
    with rt.session() as session:
        message = Message(title="t", body="b", audience="all", state="done")
        session.add(message)
        session.flush()
        rows = [Delivery(message_id=message.id, channel="sms", address=f"+8190{i:08d}", state=state,
                         provider_id=sid) for i, (state, sid) in enumerate(states)]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def _snapshot(rt: Runtime, ids: list[int]) -> list[tuple[Any, ...]]:
    with rt.session() as session:
        found = {d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
    return [(found[i].state, found[i].provider_id, found[i].provider_status, found[i].error_code, found[i].error,
             found[i].sent_at is None, found[i].delivered_at is None) for i in ids]


def _event(word: tuple[str, str | None], sid: str, code: str | None = None) -> StatusEvent:
    return StatusEvent(provider_id=sid, status=word[0], outcome=Outcome(word[1]) if word[1] else None,
                       error_code=code)


def _apply_one_by_one(rt: Runtime, delivery_id: int, e: StatusEvent) -> None:
    params = {"b_id": delivery_id, "b_sid": e.provider_id, "b_status": e.status, "b_now": utcnow(),
              "b_code": e.error_code,
              "b_error": f"通信事業者が配信できませんでした（{e.status}, code {e.error_code or '-'}）"}
    with get_engine(rt.settings.database_url).begin() as conn:
        conn.execute(_REFERENCE[e.outcome.value if e.outcome else None], params)


def test_callbacks_in_any_order_end_as_if_applied_one_by_one(queued: Runtime) -> None:
    """Shuffled callbacks of one or two requests per row, from every starting state, plus strays."""
    rng = random.Random(20261130)
    starts: list[tuple[str, str | None]] = []
    scripts: list[list[StatusEvent]] = []
    for n in range(120):
        state = START[n % len(START)]
        sid = rng.choice([None, f"SM{n}a"])
        events = [_event(w, f"SM{n}a", "30003" if w[1] == "failed" else None)
                  for w in rng.sample(WORDS, rng.randint(1, 4))]
        if n % 5 == 0:  # a second request for the row (resent after its answer was lost)
            events += [_event(w, f"SM{n}b") for w in rng.sample(WORDS, 2)]
        rng.shuffle(events)
        starts.append((state, sid))
        scripts.append(events)
    reference, bulk = _rows(queued, starts), _rows(queued, starts)
    arrivals = [(i, e) for i, events in enumerate(scripts) for e in events]
    rng.shuffle(arrivals)  # rows interleave as callbacks do
    for i, e in arrivals:
        _apply_one_by_one(queued, reference[i], e)
        statuses.enqueue(queued, "sms", bulk[i], e)
    statuses.enqueue(queued, "sms", max(bulk) + 1000, _event(WORDS[2], "SMnobody"))  # no such delivery
    assert statuses.apply_queued(queued) == len(arrivals) + 1
    assert _snapshot(queued, bulk) == _snapshot(queued, reference)
    states = {s[0] for s in _snapshot(queued, bulk)}
    assert {"delivered", "failed", "sent", "pending"} <= states, "the scenarios reach every kind of ending"


def test_a_final_state_is_never_overwritten_by_a_late_accepted_word(queued: Runtime) -> None:
    (row,) = _rows(queued, [("sending", None)])
    for word in (WORDS[2], WORDS[1], WORDS[3], WORDS[0]):  # delivered, sent, undelivered, queued
        statuses.enqueue(queued, "sms", row, _event(word, "SM1"))
    statuses.apply_queued(queued)
    assert _snapshot(queued, [row])[0][:3] == ("delivered", "SM1", "delivered")


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []
    here = threading.get_ident()

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # This thread's statements only: another test's leftover thread may share the process.
        if threading.get_ident() == here:
            seen.append(statement.split(None, 1)[0].upper())
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_burst_of_callbacks_is_applied_with_a_bounded_number_of_statements(queued: Runtime) -> None:
    n = 600
    rows = _rows(queued, [("sending", None)] * n)
    for i, row in enumerate(rows):
        statuses.enqueue(queued, "sms", row, _event(WORDS[1], f"SM{i}"))
    for i, row in enumerate(rows):
        statuses.enqueue(queued, "sms", row, _event(WORDS[2] if i % 10 else WORDS[3], f"SM{i}", "30003"))
    engine = get_engine(queued.settings.database_url)
    with _statements(engine) as seen:
        assert statuses.apply_queued(queued, limit=statuses.APPLY_BATCH) == 2 * n
    # Two transactions of up to 1,000 events: per transaction at most the lock, one read, one
    # UPDATE (every row once) and one DELETE — however many callbacks there were.
    assert seen.count("UPDATE") == 2 and len(seen) <= 2 * 4 + 1, seen
    ends = [s[0] for s in _snapshot(queued, rows)]
    assert ends.count("failed") == n // 10 and ends.count("delivered") == n - n // 10
    assert all(s[5] is False for s in _snapshot(queued, rows)), "the acceptance before the verdict set sent_at"
    with queued.session() as session:
        assert session.query(QueuedStatus).count() == 0


def test_an_applier_that_dies_before_committing_loses_nothing(queued: Runtime) -> None:
    rows = _rows(queued, [("sent", f"SM{i}") for i in range(20)])
    for i, row in enumerate(rows):
        statuses.enqueue(queued, "sms", row, _event(WORDS[2], f"SM{i}"))
    engine = get_engine(queued.settings.database_url)

    class Died(Exception):
        pass

    def die(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):  # taken and applied, not yet committed
            raise Died
    event.listen(engine, "before_cursor_execute", die)
    try:
        with pytest.raises(Died):
            statuses.apply_queued(queued)
    finally:
        event.remove(engine, "before_cursor_execute", die)
    assert {s[0] for s in _snapshot(queued, rows)} == {"sent"}, "nothing half-applied"
    with queued.session() as session:
        assert session.query(QueuedStatus).count() == 20
    assert statuses.apply_queued(queued) == 20
    assert {s[0] for s in _snapshot(queued, rows)} == {"delivered"}


def test_two_appliers_at_once_never_drop_a_callback_that_came_in_between(queued: Runtime) -> None:
    """The web server applies callbacks in concurrent requests: while one applier has read the
    queue but not yet applied it, another applies the same events and the next callback arrives.
    (On SQLite that callback used to get the id of the event just deleted, and the first applier's
    DELETE by id removed it unapplied: the row stayed "sent" with an empty queue.)"""
    (row,) = _rows(queued, [("sending", None)])
    statuses.enqueue(queued, "sms", row, _event(WORDS[1], "SM1"))  # sent
    engine = get_engine(queued.settings.database_url)
    first = threading.get_ident()
    errors: list[BaseException] = []

    def meanwhile() -> None:
        try:
            statuses.apply_queued(queued)  # a second request's applier takes the same event
            statuses.enqueue(queued, "sms", row, _event(WORDS[2], "SM1"))  # then "delivered" arrives
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    other = threading.Thread(target=meanwhile)

    def interleave(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == first and statement.lstrip().upper().startswith("UPDATE") \
                and other.ident is None:
            other.start()
            other.join(timeout=2)  # it finishes unless it has to wait for this applier's lock
    event.listen(engine, "before_cursor_execute", interleave)
    try:
        statuses.apply_queued(queued)
    finally:
        event.remove(engine, "before_cursor_execute", interleave)
    other.join(timeout=30)
    assert not other.is_alive() and not errors, errors
    statuses.apply_queued(queued)
    assert _snapshot(queued, [row])[0][:3] == ("delivered", "SM1", "delivered")
    with queued.session() as session:
        assert session.query(QueuedStatus).count() == 0


def test_the_endpoint_only_verifies_queues_and_answers(app: Flask, queued: Runtime) -> None:
    (row,) = _rows(queued, [("sent", "SM1")])
    path = f"/callbacks/twilio/status?d={row}"
    form = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    signature = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).compute_signature(
        queued.settings.public_url + path, form)
    app.extensions["hub"].settings = queued.settings
    with _statements(get_engine(queued.settings.database_url)) as seen:
        response = app.test_client().post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 204
    assert seen == ["INSERT"], "one statement per callback, none on deliveries"
    assert _snapshot(queued, [row])[0][0] == "sent"
    with queued.session() as session:
        queued_event = session.scalars(select(QueuedStatus)).one()
        assert (queued_event.delivery_id, queued_event.outcome) == (row, "delivered")
    statuses.apply_queued(queued)
    assert _snapshot(queued, [row])[0][0] == DeliveryState.DELIVERED
