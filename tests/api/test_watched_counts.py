"""A large message's counts are made once for everyone watching it, shown with when they were made.

Every open dashboard and status page asks for a sending message's counts every 3 s; at a million
rows one count costs the database about 0.3 s per channel (benchmarks/console.py). These tests
lower the size from which counts are shared to one row, so a demo city's message stands in for a
large one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, update

from hub.compose import tally
from hub.compose.tally import LocalTallies, RedisTallies, TallyStore, watched
from hub.models import Delivery, DeliveryState, Message, MessageState
from hub.runtime import Runtime
from tests.api.support import bearer, body, create_approved
from tests.support.services import REDIS_URL, redis_reachable, require

API = "/api/v1"


class Clock:
    """``time.time`` as the cache reads it: moved by the test, not by waiting."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counting(runtime: Runtime) -> Iterator[list[str]]:
    """Every GROUP BY over deliveries the database is asked for."""
    engine = runtime.sessions.kw["bind"]
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "GROUP BY" in statement and "FROM deliveries" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    yield seen
    event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(tally.time, "time", fake)
    return fake


def _sent(client: FlaskClient) -> int:
    message = create_approved(client, channels=["sms", "email"], audience="residents")
    status = body(client.get(f"{API}/messages/{message['message_id']}", headers=bearer()))
    assert status["state"] == "done" and status["channels"]["sms"]["sent"] + status["channels"]["sms"]["delivered"] > 0
    return int(message["message_id"])


def _fail_one_sms(runtime: Runtime, message_id: int) -> None:
    """A late status callback: one SMS turns out to have failed."""
    with runtime.session() as s:
        row_id = s.scalar(select(Delivery.id).where(Delivery.message_id == message_id, Delivery.channel == "sms",
                                                     Delivery.state != DeliveryState.FAILED).limit(1))
        assert row_id is not None
        s.execute(update(Delivery).where(Delivery.id == row_id).values(state=DeliveryState.FAILED))


def _get(client: FlaskClient, message_id: int) -> dict[str, Any]:
    return dict(body(client.get(f"{API}/messages/{message_id}", headers=bearer())))


def test_a_large_message_is_counted_once_for_every_viewer_while_the_count_is_fresh(
        client: FlaskClient, runtime: Runtime, counting: list[str], clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    message_id = _sent(client)
    monkeypatch.setattr(tally, "CACHE_FROM_ROWS", 1)
    counting.clear()

    first = _get(client, message_id)
    for _viewer in range(5):
        again = _get(client, message_id)
        assert again["channels"] == first["channels"] and again["counted_at"] == first["counted_at"]
    assert len(counting) == 1, "six viewers, one count"

    _fail_one_sms(runtime, message_id)
    assert _get(client, message_id)["channels"] == first["channels"], "still fresh: the same count"
    clock.now += tally.FRESH_MIN + 0.01  # a small count is fresh for the shortest time
    later = _get(client, message_id)
    assert later["channels"]["sms"]["failed"] == first["channels"]["sms"]["failed"] + 1
    assert datetime.fromisoformat(later["counted_at"]) >= datetime.fromisoformat(first["counted_at"])
    assert len(counting) == 2

    # The dashboard and the status page read the same shared count.
    from tests.api.support import login

    login(client, "admin")
    assert client.get("/").status_code == 200 and client.get(f"/messages/{message_id}").status_code == 200
    assert len(counting) == 2


def test_a_small_message_is_counted_exactly_on_every_request(client: FlaskClient, runtime: Runtime,
                                                              counting: list[str]) -> None:
    message_id = _sent(client)
    before = _get(client, message_id)
    _fail_one_sms(runtime, message_id)
    after = _get(client, message_id)
    assert after["channels"]["sms"]["failed"] == before["channels"]["sms"]["failed"] + 1
    assert len(counting) >= 3


def test_a_new_state_of_the_message_is_counted_at_once(client: FlaskClient, runtime: Runtime, clock: Clock,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tally, "CACHE_FROM_ROWS", 1)
    message_id = _sent(client)
    before = _get(client, message_id)
    _fail_one_sms(runtime, message_id)
    with runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None
        message.state = MessageState.WITHDRAWN  # as finishing or a cancellation changes it
    after = _get(client, message_id)
    assert after["channels"]["sms"]["failed"] == before["channels"]["sms"]["failed"] + 1


def _stores() -> list[Any]:
    return [pytest.param(lambda: LocalTallies(), id="local"),
            pytest.param(lambda: RedisTallies(REDIS_URL, prefix=f"test:tally:{uuid.uuid4().hex}:"), id="redis")]


@pytest.mark.parametrize("make", _stores())
def test_while_one_request_counts_again_the_others_show_the_previous_count(
        make: Any, client: FlaskClient, runtime: Runtime, counting: list[str], clock: Clock) -> None:
    if isinstance(make(), RedisTallies):
        require("Redis", redis_reachable())
    store: TallyStore = make()
    message_id = _sent(client)
    with runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None
        counting.clear()
        made = watched(s, message, store, cache_from_rows=1)
        clock.now = made.fresh_until + 1  # stale
        assert store.take_turn(f"{message.public_id}:{message.state}"), "another process starts counting"
        assert watched(s, message, store, cache_from_rows=1) == made, "shown the previous count meanwhile"
        assert len(counting) == 1


def test_web_processes_share_one_count_through_redis(client: FlaskClient, runtime: Runtime, counting: list[str],
                                                     clock: Clock) -> None:
    require("Redis", redis_reachable())
    prefix = f"test:tally:{uuid.uuid4().hex}:"
    one, other = RedisTallies(REDIS_URL, prefix=prefix), RedisTallies(REDIS_URL, prefix=prefix)
    message_id = _sent(client)
    with runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None
        counting.clear()
        made = watched(s, message, one, cache_from_rows=1)
        assert watched(s, message, other, cache_from_rows=1) == made
        assert len(counting) == 1


def test_without_redis_the_counts_are_still_made(client: FlaskClient, runtime: Runtime, counting: list[str],
                                                 app: Flask) -> None:
    message_id = _sent(client)
    runtime.tallies = RedisTallies("redis://127.0.0.1:1/0")  # nothing listens there
    counting.clear()
    status = _get(client, message_id)
    assert status["channels"]["sms"]["sent"] + status["channels"]["sms"]["delivered"] > 0
    assert len(counting) == 1


def test_a_scrape_uses_a_shared_count_up_to_a_minute_old_and_counts_the_rest_together(
        client: FlaskClient, runtime: Runtime, counting: list[str], clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from hub.health import metrics

    def sms_failed() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "hub_deliveries" and s.labels == {"channel": "sms", "state": "failed"})

    large, small = _sent(client), _sent(client)
    monkeypatch.setattr(tally, "CACHE_FROM_ROWS", 1)  # both count as large from here on
    counting.clear()
    before = sms_failed()
    assert len(counting) == 1, "every message of the last day in one statement"
    _fail_one_sms(runtime, large)
    clock.now += tally.FRESH_MAX + 1  # stale for a status page, still young enough for a scrape
    assert sms_failed() == before and len(counting) == 1
    clock.now += metrics.SHARED_COUNT_MAX_AGE
    assert sms_failed() == before + 1 and len(counting) == 2
    _fail_one_sms(runtime, small)
    with runtime.session() as s:
        message = s.get(Message, small)
        assert message is not None
        message.state = MessageState.WITHDRAWN
    assert sms_failed() == before + 2 and len(counting) == 3, "a new state is counted at once"
