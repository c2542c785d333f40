"""Provider trouble: retried when it can help, recorded when it cannot, never sent twice."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from hub.dispatch.sweeper import sweep
from hub.models import Contact, Delivery
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import counts, rows, send, wait_for

PHONES = [f"+8190{10000000 + i}" for i in range(8)]


@pytest.fixture
def staff(runtime: Runtime) -> None:
    with runtime.session() as session:
        session.add_all(Contact(kind="staff", name=f"職員{i}", phone=p, email=f"s{i}@city.example.jp")
                        for i, p in enumerate(PHONES))


def _retry_until_done(runtime: Runtime, message_id: int, timeout: float = 30.0) -> None:
    """What the periodic sweeper does in production: pick up rows whose backoff has passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(c["pending"] == 0 for c in counts(runtime, message_id).values()):
            return
        time.sleep(0.5)
        sweep()
    raise AssertionError(f"still pending: {counts(runtime, message_id)}")


@pytest.mark.parametrize(("kind", "requests_counted"), [("429", 1), ("500", 2)])
def test_transient_error_is_retried_after_backoff_and_delivered_once(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient, kind: str, requests_counted: int
) -> None:
    sandbox_client.inject_fault("sms", kind, count=1, match=PHONES[0])
    message_id = send(runtime, channels=["sms"])

    first = {r.address: r for r in rows(runtime, message_id, "sms")}[PHONES[0]]
    assert first.state == "pending" and first.next_attempt_at is not None, "the failed row waits for backoff"
    assert first.error, "the provider's complaint is kept for the operator"

    _retry_until_done(runtime, message_id)
    final = {r.address: r for r in rows(runtime, message_id, "sms")}
    assert final[PHONES[0]].state in ("sent", "delivered")
    # A 500 was a request that counts; a 429 only held the send back and uses no attempt.
    assert final[PHONES[0]].attempts == requests_counted
    copies = Counter(item["to"] for item in sandbox_client.inbox("sms"))
    assert copies == Counter(PHONES), "every phone exactly once"


def test_invalid_number_fails_with_reason_while_the_others_go_out(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient
) -> None:
    sandbox_client.inject_fault("sms", "invalid_number", count=1, match=PHONES[3])
    message_id = send(runtime, channels=["sms"])
    by_address = {r.address: r for r in rows(runtime, message_id, "sms")}
    assert by_address[PHONES[3]].state == "failed"
    assert by_address[PHONES[3]].attempts == 1, "a permanent error is never retried"
    assert by_address[PHONES[3]].error
    assert {item["to"] for item in sandbox_client.inbox("sms")} == set(PHONES) - {PHONES[3]}


def test_timeout_is_checked_with_the_provider_and_not_resent(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient
) -> None:
    sandbox_client.inject_fault("sms", "timeout", count=1, match=PHONES[5], delay=4.0)
    message_id = send(runtime, channels=["sms"])
    row = {r.address: r for r in rows(runtime, message_id, "sms")}[PHONES[5]]
    # The sandbox accepted the message before stalling, so its signed status callback may already
    # have settled the row while our request timed out; otherwise the hub will ask Twilio.
    assert (row.state, row.attempts) in {("checking", 1), ("delivered", 1)}
    time.sleep(1.0)
    _retry_until_done(runtime, message_id)
    later = {r.address: r for r in rows(runtime, message_id, "sms")}[PHONES[5]]
    assert later.state in ("sent", "delivered") and later.attempts == 1
    time.sleep(3.5)  # the slow request completes on the provider's side after our timeout
    assert Counter(i["to"] for i in sandbox_client.inbox("sms"))[PHONES[5]] == 1


def test_mailbox_550_fails_that_recipient_only(runtime: Runtime, staff: None, sandbox_client: SandboxClient) -> None:
    sandbox_client.inject_fault("email", "mailbox_550", count=1, match="s2@")
    message_id = send(runtime, channels=["email"])
    by_address = {r.address: r for r in rows(runtime, message_id, "email")}
    assert by_address["s2@city.example.jp"].state == "failed"
    assert sum(r.state == "sent" for r in by_address.values()) == len(PHONES) - 1


def test_rows_are_never_lost_even_when_nothing_can_be_sent(
    runtime: Runtime, staff: None, sandbox_client: SandboxClient
) -> None:
    sandbox_client.inject_fault("sms", "500", count=100)
    message_id = send(runtime, channels=["sms"])
    with runtime.session() as session:
        session.query(Delivery).filter(Delivery.message_id == message_id).update({"attempts": 4})
    wait_for(lambda: True)
    _retry_until_done(runtime, message_id, timeout=60)
    final = rows(runtime, message_id, "sms")
    assert len(final) == len(PHONES)
    assert all(r.state == "failed" and r.attempts == 5 for r in final)
    assert all(r.error and r.error.endswith("5回送信しても届けられなかったため、この宛先への送信を終了しました")
               for r in final), "a final failure says so, and promises no retry"
    assert not any("再送します" in (r.error or "") for r in final)
