"""Two SMS gateways: per-department choice, failover when one fails, and never two copies.

Against the sandbox's Twilio and Karaden emulators, on both databases. What a resident gets is read
from the sandbox inbox, where both gateways' copies of one phone are counted together.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import update

from hub.config import Settings
from hub.dispatch.sweeper import sweep
from hub.models import Contact, Delivery, DeliveryState, Department, utcnow
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import rows, send

PHONES = [f"+8190{30000000 + i}" for i in range(5)]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Status callbacks go nowhere: what the hub knows comes from its requests and from asking.
    # One request at a time: which rows a failure stops before they were requested is then the
    # order of the batch, not the timing of requests in flight together.
    return replace(settings, public_url="http://127.0.0.1:9", sms_failover_gateway="auto",
                   sms_breaker_failures=1, sms_breaker_cooldown_seconds=300.0, requests_in_flight=1)


@pytest.fixture
def quiet_karaden(sandbox_client: SandboxClient) -> Iterator[None]:
    sandbox_client.set_karaden_callback_url(None)
    yield


@pytest.fixture
def city(runtime: Runtime, quiet_karaden: None) -> dict[str, int]:
    with runtime.session() as session:
        session.add_all(Contact(kind="staff", name=f"職員{i}", phone=p) for i, p in enumerate(PHONES))
        kikaku = Department(code="kikaku", name="企画課", sms_sender="+815011112222")
        bousai = Department(code="bousai2", name="防災課", sms_gateway="karaden", karaden_service_id=42)
        session.add_all([kikaku, bousai])
        session.flush()
        return {"kikaku": kikaku.id, "bousai": bousai.id}


def _copies(sandbox_client: SandboxClient) -> Counter[str]:
    return Counter(item["to"] for item in sandbox_client.inbox("sms"))


def _gateways(sandbox_client: SandboxClient) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for item in sandbox_client.inbox("sms"):
        found.setdefault(item["to"], set()).add(item["meta"].get("gateway", "?"))
    return found


def _sweep_until_settled(runtime: Runtime, message_id: int, timeout: float = 30.0) -> list[Delivery]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = rows(runtime, message_id, "sms")
        if all(r.state in ("sent", "delivered", "failed") for r in current):
            return current
        time.sleep(0.4)
        sweep()
    raise AssertionError(Counter(r.state for r in rows(runtime, message_id, "sms")))


def test_each_department_sends_through_its_own_gateway(
    runtime: Runtime, city: dict[str, int], sandbox_client: SandboxClient
) -> None:
    via_twilio = send(runtime, channels=["sms"], department_id=city["kikaku"])
    assert {r.gateway for r in rows(runtime, via_twilio, "sms")} == {"twilio"}
    assert {item["from"] for item in sandbox_client.inbox("sms")} == {"+815011112222"}

    sandbox_client.clear()
    via_karaden = send(runtime, channels=["sms"], department_id=city["bousai"])
    final = rows(runtime, via_karaden, "sms")
    assert {(r.state, r.gateway) for r in final} == {("sent", "karaden")}
    assert all(r.provider_id and len(r.provider_id) == 36 for r in final), "Karaden's message id is kept"
    inbox = sandbox_client.inbox("sms")
    assert _copies(sandbox_client) == Counter(PHONES)
    assert {(i["meta"]["gateway"], i["from"]) for i in inbox} == {("karaden", "karaden:service:42")}, \
        "the department's own サービス設定ID is its sender on Karaden"


def test_primary_down_new_batches_go_to_the_secondary_one_copy_each(
    runtime: Runtime, city: dict[str, int], sandbox_client: SandboxClient
) -> None:
    sandbox_client.inject_fault("sms", "500", count=0)  # Twilio answers every request with a 500
    message_id = send(runtime, channels=["sms"], department_id=city["kikaku"])
    first = rows(runtime, message_id, "sms")
    assert {r.state for r in first} == {"pending"}, "a 500 was not accepted: a clean retry"
    assert runtime.breaker.is_open("twilio")

    final = _sweep_until_settled(runtime, message_id)
    assert {(r.state, r.gateway) for r in final} == {("sent", "karaden")}
    assert _copies(sandbox_client) == Counter(PHONES), "every phone exactly once"
    assert set().union(*_gateways(sandbox_client).values()) == {"karaden"}


def test_ambiguous_at_the_primary_is_asked_there_and_never_sent_again(
    runtime: Runtime, city: dict[str, int], sandbox_client: SandboxClient
) -> None:
    # Twilio accepts the first request but its answer comes too late; that also opens its circuit.
    sandbox_client.inject_fault("sms", "timeout", count=1, delay=4.0)
    message_id = send(runtime, channels=["sms"], department_id=city["kikaku"])
    in_doubt = [r for r in rows(runtime, message_id, "sms") if r.state == "checking"]
    assert len(in_doubt) == 1 and in_doubt[0].gateway == "twilio" and in_doubt[0].attempts == 1
    assert runtime.breaker.is_open("twilio")

    final = {r.address: r for r in _sweep_until_settled(runtime, message_id)}
    doubted = final[in_doubt[0].address]
    assert (doubted.state, doubted.gateway, doubted.attempts) == ("sent", "twilio", 1), \
        "settled by asking Twilio, where it was accepted"
    others = [r for a, r in final.items() if a != in_doubt[0].address]
    # Requests already in flight at Twilio when the timeout came were answered there; every row not
    # yet requested went to the secondary. Either way each was sent exactly where it is recorded.
    gateways = _gateways(sandbox_client)
    assert all(r.state == "sent" and gateways[r.address] == {r.gateway} for r in others)
    assert _copies(sandbox_client) == Counter(PHONES), "no phone got two copies"
    assert _gateways(sandbox_client)[in_doubt[0].address] == {"twilio"}


def test_a_row_in_doubt_waits_while_its_gateway_cannot_be_asked(
    runtime: Runtime, city: dict[str, int], sandbox_client: SandboxClient
) -> None:
    sandbox_client.inject_fault("karaden", "timeout", count=1, match=PHONES[0][-8:], delay=4.0)
    message_id = send(runtime, channels=["sms"], department_id=city["bousai"])
    row = {r.address: r for r in rows(runtime, message_id, "sms")}[PHONES[0]]
    assert (row.state, row.gateway) == ("checking", "karaden")
    sandbox_client.inject_fault("karaden", "500", count=0)  # Karaden is down: it cannot even be asked

    # At least 4 s of sweeps while Karaden is down; on a loaded machine longer, until the others
    # have failed over (each sweep re-enqueues what is due; a slow worker needs more of them).
    started = time.monotonic()
    while True:
        time.sleep(0.4)
        sweep()
        current = {r.address: r for r in rows(runtime, message_id, "sms")}
        waited = time.monotonic() - started
        if waited > 30 or (waited >= 4.0 and {current[p].gateway for p in PHONES[1:]} == {"twilio"}):
            break
    assert (current[PHONES[0]].state, current[PHONES[0]].gateway) == ("checking", "karaden"), \
        "in doubt at Karaden, so it is neither resent through Twilio nor given up"
    assert "確認できませんでした" in (current[PHONES[0]].error or "")
    assert {current[p].gateway for p in PHONES[1:]} == {"twilio"}, "the rest failed over"
    assert _gateways(sandbox_client)[PHONES[0]] == {"karaden"}

    sandbox_client.clear_faults()  # Karaden is back: the row is settled by asking it
    final = {r.address: r for r in _sweep_until_settled(runtime, message_id)}
    assert (final[PHONES[0]].state, final[PHONES[0]].attempts) == ("sent", 1)
    assert _copies(sandbox_client) == Counter(PHONES), "every phone exactly once"


def test_after_a_crash_rows_are_asked_of_the_gateway_written_on_them(
    runtime: Runtime, city: dict[str, int], sandbox_client: SandboxClient
) -> None:
    """A worker died mid-batch: Karaden had accepted four rows, the fifth was refused (a 500, which
    also opened Karaden's circuit). The sweeper asks Karaden about all five; only the refused one is
    sent again, and that one through the partner."""
    # Answered late, so it stays the last answer even with requests in flight together: a later
    # answer would close the circuit again (any answer is evidence the gateway works).
    sandbox_client.inject_fault("karaden", "500", count=1, match=PHONES[4][-8:], delay=0.5)
    message_id = send(runtime, channels=["sms"], department_id=city["bousai"])
    assert runtime.breaker.is_open("karaden")
    with runtime.session() as session:  # as if the worker died before recording anything
        session.execute(update(Delivery).where(Delivery.message_id == message_id).values(
            state=DeliveryState.SENDING, claimed_by="gone:1:dead", claimed_at=utcnow(), next_attempt_at=None))
    final = {r.address: r for r in _sweep_until_settled(runtime, message_id)}
    assert {final[p].gateway for p in PHONES[:4]} == {"karaden"}, "found where they were sent"
    assert final[PHONES[4]].gateway == "twilio", "never accepted by Karaden: sent once, through the partner"
    assert _copies(sandbox_client) == Counter(PHONES), "every phone exactly once"
