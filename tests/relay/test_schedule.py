"""The chain on a hand-moved clock: LINE → phone → e-mail → LINE …, exactly on schedule, until
the cycle limit; skipped steps, provider failures and unanswered calls move straight on."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.models.relay import Callout, CalloutTarget
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.relay.conftest import T0
from tests.relay.support import attempts, seed_staff, start, tick
from tests.support.hubtools import wait_for

MIN = timedelta(minutes=1)


def test_never_answering_person_is_contacted_on_schedule_until_the_cycle_limit(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    callout_id = start(runtime, interval="5m", cycles=2)
    seen: dict[str, list[timedelta]] = {"line": [], "voice": [], "email": []}
    for _ in range(2 * 40):  # 40 minutes in 30-second ticks
        for channel, address in (("line", person.line), ("voice", person.phone), ("email", person.email)):
            count = len(sandbox_client.inbox(channel, to=address))
            seen[channel] += [clock.now() - T0] * (count - len(seen[channel]))
        clock.advance(30)
        tick(runtime)

    assert seen == {"line": [0 * MIN, 15 * MIN], "voice": [5 * MIN, 20 * MIN], "email": [10 * MIN, 25 * MIN]}
    log = [(a.channel, a.cycle, a.step_index, a.state, a.at - T0) for a in attempts(runtime, callout_id)]
    assert log == [
        ("line", 1, 0, "sent", 0 * MIN), ("voice", 1, 1, "sent", 5 * MIN), ("email", 1, 2, "sent", 10 * MIN),
        ("line", 2, 0, "sent", 15 * MIN), ("voice", 2, 1, "sent", 20 * MIN), ("email", 2, 2, "sent", 25 * MIN),
    ]
    with runtime.session() as s:
        assert s.get(Callout, callout_id).state == "done"  # type: ignore[union-attr]
        assert s.query(CalloutTarget).one().state == "exhausted"


def test_every_text_of_an_exercise_starts_with_the_exercise_mark(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    start(runtime, interval="1m", cycles=1)
    for _ in range(3):
        clock.advance(60)
        tick(runtime)
    line = sandbox_client.inbox("line", to=person.line)[0]
    assert line["text"].startswith("【訓練】")
    assert all(m.get("text", m.get("altText", "")).startswith("【訓練】") for m in line["meta"]["messages"])
    assert sandbox_client.inbox("voice", to=person.phone)[0]["text"].startswith("これは訓練です。")
    assert sandbox_client.inbox("email", to=person.email)[0]["subject"].startswith("【訓練】")
    gather = sandbox_client.inbox("voice", to=person.phone)[0]["meta"]["gather"]
    assert gather["num_digits"] == "1" and "/relay/voice/gather/" in gather["action"]


def test_missing_address_is_skipped_and_logged_and_the_next_step_goes_at_once(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1, without=("line",))[0]
    callout_id = start(runtime, interval="5m", cycles=1)
    log = [(a.channel, a.state, a.reason, a.at - T0) for a in attempts(runtime, callout_id)]
    assert log == [("line", "skipped", "no_address", 0 * MIN), ("voice", "sent", None, 0 * MIN)]
    assert len(sandbox_client.inbox("voice", to=person.phone)) == 1


def test_an_email_address_reported_unknown_is_skipped_without_its_wait(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    # At 3 a.m. five minutes on a dead mailbox are five minutes lost: the step goes like a missing one.
    from hub.models import Contact, utcnow

    person = seed_staff(runtime, 1)[0]
    with runtime.session() as s:
        contact = s.query(Contact).filter(Contact.email == person.email).one()
        contact.email_bounced_at, contact.email_bounce = utcnow(), "5.1.1 User unknown"
    callout_id = start(runtime, interval="5m", cycles=2, steps=["email", "line"])
    log = [(a.channel, a.state, a.reason, a.at - T0) for a in attempts(runtime, callout_id)]
    assert log == [("email", "skipped", "address_bounced", 0 * MIN), ("line", "sent", None, 0 * MIN)]
    assert "宛先不明" in (attempts(runtime, callout_id)[0].error or "")
    assert sandbox_client.inbox("email", to=person.email) == []


def test_nobody_reachable_at_all_ends_after_one_logged_round(runtime: Runtime, clock: ManualClock) -> None:
    seed_staff(runtime, 1, without=("line", "voice", "email"))
    callout_id = start(runtime, interval="5m", cycles=3)
    assert [(a.channel, a.state) for a in attempts(runtime, callout_id)] == [
        ("line", "skipped"), ("voice", "skipped"), ("email", "skipped")]
    with runtime.session() as s:
        assert s.query(CalloutTarget).one().state == "exhausted"


@pytest.mark.parametrize(("kind", "tries"), [("500", 2), ("429", 1)])
def test_a_refused_step_is_sent_again_after_backoff_as_in_a_broadcast(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient, kind: str, tries: int
) -> None:
    person = seed_staff(runtime, 1)[0]
    sandbox_client.inject_fault("line", kind, count=1, match=person.line)
    callout_id = start(runtime, interval="5m", cycles=1)
    [first] = attempts(runtime, callout_id)
    assert (first.channel, first.state) == ("line", "retry")
    assert "もう一度送ります" in (first.error or "")

    clock.advance(seconds=11)  # past the backoff (LINE's 429 asks for 10 s)
    tick(runtime)
    [again] = attempts(runtime, callout_id)
    assert (again.channel, again.state, again.tries) == ("line", "sent", tries), "a 429 uses no try"
    assert len(sandbox_client.inbox("line", to=person.line)) == 1, "delivered once, same step, no skip"


def test_a_step_the_provider_keeps_refusing_moves_on_after_five_requests(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    sandbox_client.inject_fault("line", "500", count=0, match=person.line)
    callout_id = start(runtime, interval="5m", cycles=1)
    for _ in range(6):
        clock.advance(seconds=40)
        tick(runtime)
    log = [(a.channel, a.state, a.tries) for a in attempts(runtime, callout_id)]
    assert log == [("line", "failed", 5), ("voice", "sent", 1)]
    assert "5回送信しても届けられなかった" in (attempts(runtime, callout_id)[0].error or "")


def test_unanswered_call_moves_to_the_next_step_at_once(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    sandbox_client.inject_fault("voice", "no_answer", count=1, match=person.phone)
    callout_id = start(runtime, interval="5m", cycles=1)
    clock.advance(minutes=5)
    tick(runtime)  # the call; Twilio then reports "no-answer" through the signed status callback
    wait_for(lambda: [a.state != "sending" for a in attempts(runtime, callout_id)] == [True] * 3, timeout=10)
    log = [(a.channel, a.state, a.at - T0) for a in attempts(runtime, callout_id)]
    assert log == [("line", "sent", 0 * MIN), ("voice", "no_answer", 5 * MIN), ("email", "sent", 5 * MIN)]
    assert len(sandbox_client.inbox("email", to=person.email)) == 1
