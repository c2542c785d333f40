"""What each outcome means, on both databases: attempts, clean retries, checking, doubt, and how it is reported.

The sandbox's status callbacks go nowhere here (the hub's public URL is a closed port), so what the
hub knows comes from its own requests and from asking the provider, as after a lost callback.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import update

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.config import Settings
from hub.dispatch.claim import claim_batch
from hub.dispatch.sweeper import sweep
from hub.models import Contact, Delivery, DeliveryState, utcnow
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import TOKENS, login, seed
from tests.support.hubtools import rows, send

PHONES = [f"+8190{20000000 + i}" for i in range(6)]
MAILS = [f"staff{i}@city.example.jp" for i in range(6)]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, public_url="http://127.0.0.1:9")


@pytest.fixture
def staff(runtime: Runtime) -> None:
    with runtime.session() as session:
        session.add_all(Contact(kind="staff", name=f"職員{i}", phone=p, email=m)
                        for i, (p, m) in enumerate(zip(PHONES, MAILS, strict=True)))


def _sweep_until(runtime: Runtime, message_id: int, done: set[str], timeout: float = 20.0) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = rows(runtime, message_id)
        if all(r.state in done for r in current):
            return current
        time.sleep(0.3)
        sweep()
    raise AssertionError(Counter(r.state for r in rows(runtime, message_id)))


def test_a_lost_answer_is_checked_with_the_provider_and_never_sent_twice(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient
) -> None:
    sandbox_client.inject_fault("sms", "timeout", count=1, match=PHONES[2], delay=4.0)
    message_id = send(runtime, channels=["sms"])
    row = {r.address: r for r in rows(runtime, message_id)}[PHONES[2]]
    assert (row.state, row.attempts) == ("checking", 1)
    assert row.error and "送信済みかを事業者に確認し" in row.error

    final = {r.address: r for r in _sweep_until(runtime, message_id, {"sent"})}
    assert final[PHONES[2]].attempts == 1 and final[PHONES[2]].provider_id
    time.sleep(3.5)  # the provider finishes the stalled request
    assert Counter(i["to"] for i in sandbox_client.inbox("sms")) == Counter(PHONES)


def test_rate_limit_uses_no_attempt_and_spares_the_rest_of_the_batch(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient
) -> None:
    sandbox_client.inject_fault("sms", "429", count=3, match=PHONES[1])
    message_id = send(runtime, channels=["sms"])
    first = {r.address: r for r in rows(runtime, message_id)}
    assert first[PHONES[0]].state == "sent" and first[PHONES[0]].attempts == 1
    assert (first[PHONES[1]].state, first[PHONES[1]].attempts) == ("pending", 0), "a 429 uses no attempt"
    assert "に再送します" in (first[PHONES[1]].error or "")
    # Requests already in flight when the 429 came are answered and recorded; none starts after it.
    accepted = {i["to"] for i in sandbox_client.inbox("sms")}
    for phone in PHONES[2:]:
        expected = ("sent", 1) if phone in accepted else ("pending", 0)
        assert (first[phone].state, first[phone].attempts) == expected, "never requested: no attempt used"


def test_shared_rate_limiter_unavailable_is_a_clean_retry(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient
) -> None:
    class Away:
        def acquire(self, channel: str, sender: str | None, n: int, rate: float) -> float:
            raise ConnectionError("Redis is not running")

    runtime._limiter = Away()
    runtime._channels.clear()
    message_id = send(runtime, channels=["sms", "email"])
    held = rows(runtime, message_id)
    assert {r.state for r in held} == {"pending"} and {r.attempts for r in held} == {0}
    assert all("未送信" in (r.error or "") for r in held)
    assert sandbox_client.inbox() == []

    runtime._limiter = None  # Redis is back
    runtime._channels.clear()
    with runtime.session() as session:
        session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    final = _sweep_until(runtime, message_id, {"sent"})
    assert len(final) == 12 and {r.attempts for r in final} == {1}


def test_rows_that_never_got_a_request_give_up_only_at_the_deadline(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient, app: Flask
) -> None:
    sandbox_client.inject_fault("sms", "429", count=0)  # the provider never stops refusing
    message_id = send(runtime, channels=["sms"])
    assert {r.state for r in rows(runtime, message_id)} == {"pending"}
    runtime.settings = replace(runtime.settings, retry_deadline_seconds=0)
    with runtime.session() as session:
        session.execute(update(Delivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    final = _sweep_until(runtime, message_id, {"failed"})
    assert {r.attempts for r in final} == {0}
    assert all(r.error and r.error.endswith("までに送信できなかったため、この宛先への送信を終了しました")
               for r in final)


def test_after_a_crash_mail_that_never_left_is_sent_and_mail_in_flight_is_reported_unknown(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient
) -> None:
    """What a worker killed mid-batch leaves: the write-ahead mark says which rows may have left."""
    with runtime.session() as session:
        session.add(Contact(kind="staff", name="職員x", email="late@city.example.jp"))
    sandbox_client.inject_fault("email", "500", count=0)  # keep the first try from finishing anything
    message_id = send(runtime, channels=["email"])
    sandbox_client.clear_faults()
    ids = [r.id for r in rows(runtime, message_id)]
    in_flight = ids[3]
    with runtime.session() as session:  # as if the worker died while the SMTP server had row 4
        session.execute(update(Delivery).values(state=DeliveryState.SENDING, claimed_by="gone:1:dead",
                                                claimed_at=utcnow(), requested_at=None, next_attempt_at=None))
        session.execute(update(Delivery).where(Delivery.id == in_flight).values(requested_at=utcnow()))
    sweep()
    final = {r.id: r for r in _sweep_until(runtime, message_id, {"sent", "unknown"})}
    assert final[in_flight].state == "unknown"
    assert "確かめる手段がない" in (final[in_flight].error or "")
    assert {i for i, r in final.items() if r.state == "sent"} == set(ids) - {in_flight}
    received = Counter(i["to"] for i in sandbox_client.inbox("email"))
    assert final[in_flight].address not in received and max(received.values()) == 1


def test_unknown_is_reported_loudly_never_as_done(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient, app: Flask
) -> None:
    sandbox_client.inject_fault("x", "timeout", count=1, delay=4.0)
    message_id = send(runtime, channels=["x", "sms"])
    [post] = rows(runtime, message_id, "x")
    assert post.state == "unknown" and post.attempts == 1, "X cannot be asked: reported, not resent"

    seed(app)
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, ["status", str(message_id)], obj=hub, env={TOKEN_ENV: TOKENS["admin"]})
    assert result.exit_code == 0
    assert "要確認" in result.output and "x 1件" in result.output

    client = app.test_client()
    login(client, "admin")
    page = client.get(f"/messages/{message_id}").get_data(as_text=True)
    assert "要確認：結果不明 1件" in page and "送信結果が不明な宛先が 1件あります" in page
    assert ">完了<" not in page
    time.sleep(3.5)
    assert len(sandbox_client.inbox("x")) == 1


def test_a_row_waiting_for_a_later_time_is_not_requeued_early_but_a_forgotten_one_is(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient
) -> None:
    # A provider's Retry-After (or the morning) longer than HUB_STALE_AFTER_SECONDS is kept: the
    # sweeper queues a waiting row once its time has passed, not because it has waited a while.
    sandbox_client.inject_fault("sms", "429", count=len(PHONES))
    message_id = send(runtime, channels=["sms"])
    long_ago = utcnow() - timedelta(seconds=runtime.settings.stale_after_seconds + 60)
    with runtime.session() as session:
        session.execute(update(Delivery).where(Delivery.message_id == message_id).values(
            state=DeliveryState.PENDING, next_attempt_at=utcnow() + timedelta(minutes=10), updated_at=long_ago))
    sandbox_client.clear()
    sweep()
    assert not sandbox_client.inbox("sms"), "sent ten minutes before the provider said it may be"
    assert all(r.state == DeliveryState.PENDING and r.next_attempt_at for r in rows(runtime, message_id))

    with runtime.session() as session:  # a row whose queued task was lost (broker restart)
        session.execute(update(Delivery).where(Delivery.message_id == message_id).values(next_attempt_at=None))
    sweep()
    assert Counter(i["to"] for i in sandbox_client.inbox("sms")) == Counter(PHONES)


def test_a_batch_is_claimed_in_the_order_it_was_planned(runtime: Runtime, staff: None) -> None:
    """Whatever order the database keeps the rows in, a batch's requests go in planning order:
    a retried batch then sends the way it did the first time, on SQLite and PostgreSQL alike."""
    message_id = send(runtime, channels=["sms"])
    planned = rows(runtime, message_id, "sms")
    assert len({r.batch_no for r in planned}) == 1
    with runtime.session() as session:
        # Each update writes its row anew at the table's end: PostgreSQL then scans them newest first.
        for row in reversed(planned):
            session.execute(update(Delivery).where(Delivery.id == row.id).values(
                state=DeliveryState.PENDING, claimed_by=None, next_attempt_at=None))
        session.flush()
        claimed = claim_batch(session, message_id, "sms", planned[0].batch_no, "test:1:claimer")
    assert [r.id for r in claimed] == [r.id for r in planned]
