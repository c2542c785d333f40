"""SMS and voice against the sandbox's Twilio, through the official SDK."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest
import requests
import urllib3.exceptions
from twilio.base.exceptions import TwilioRestException

from channels.base import Batch, DeliveryResult, Draft, Outcome, Recipient, Rendered
from channels.errors import PermanentError, RateLimited
from channels.net import may_have_reached_provider
from channels.sms import SmsChannel, SmsConfig
from channels.twilio import twilio_failure
from hub.config import Settings
from sandbox import Sandbox

from .helpers import build, by_id, make_batch, recipients

MOBILES = ["+819012340001", "+819012340002", "+818012340003"]
DRAFT = Draft(title="【訓練】避難指示", body="○○地区に避難指示を発令しました。", mode="exercise")


def sms_batch(ch: SmsChannel | object, **kw: object) -> Batch:
    return make_batch(ch, DRAFT, recipients(MOBILES), **kw)  # type: ignore[arg-type]


def test_sms_one_copy_each_with_the_right_text(sb: Sandbox, settings: Settings) -> None:
    throttled: list[str] = []
    ch = build("sms", settings, throttle_log=throttled)
    batch = sms_batch(ch, sender="+815011112222")
    results = by_id(ch.deliver(batch))
    assert all(r.outcome is Outcome.SENT and (r.provider_id or "").startswith("SM") for r in results.values())
    text = batch.contents["ja"].text
    assert text.startswith("【訓練】避難指示\n")
    for number in MOBILES:
        inbox = sb.inbox("sms", number)
        assert [m["text"] for m in inbox] == [text]
        assert inbox[0]["from"] == "+815011112222"
        assert "/callbacks/twilio/status?d=" in inbox[0]["meta"]["status_callback"]
    assert throttled == ["+815011112222:1"] * 3


def test_sms_landline_is_skipped_before_sending(sb: Sandbox, settings: Settings) -> None:
    ch = build("sms", settings)
    batch = make_batch(ch, DRAFT, recipients(["+81312345678", MOBILES[0], "nonsense"]))
    results = by_id(ch.deliver(batch))
    assert results[1].outcome is Outcome.SKIPPED and results[1].reason == "not_mobile"
    assert results[2].outcome is Outcome.SENT
    assert results[3].reason == "invalid_address"
    assert sb.ctx.stats.snapshot().get("twilio.messages.create") == 1


def test_sms_invalid_number_fails_that_one_and_sends_the_others(sb: Sandbox, settings: Settings) -> None:
    sb.inject_fault("sms", "invalid_number", match=MOBILES[1])
    ch = build("sms", settings)
    results = by_id(ch.deliver(sms_batch(ch)))
    assert results[2].outcome is Outcome.FAILED and results[2].reason == "invalid_address"
    assert results[2].error and "21211" in results[2].error
    assert results[1].outcome is Outcome.SENT and results[3].outcome is Outcome.SENT
    assert len(sb.inbox("sms")) == 2


def test_sms_429_retries_everyone_with_a_hint(sb: Sandbox, settings: Settings) -> None:
    sb.inject_fault("sms", "429")
    ch = build("sms", settings, in_flight=1)
    results = ch.deliver(sms_batch(ch))
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert all(r.retry_after for r in results)
    assert sb.inbox("sms") == []


def test_sms_queue_full_waits_longer(sb: Sandbox, settings: Settings) -> None:
    sb.inject_fault("sms", "queue_full")
    ch = build("sms", settings, in_flight=1)
    results = ch.deliver(sms_batch(ch))
    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert all((r.retry_after or 0) >= 60 for r in results)


def test_sms_500_retries_that_recipient_only(sb: Sandbox, settings: Settings) -> None:
    sb.inject_fault("sms", "500", match=MOBILES[0])
    ch = build("sms", settings)
    results = by_id(ch.deliver(sms_batch(ch)))
    assert results[1].outcome is Outcome.RETRY
    assert results[2].outcome is Outcome.SENT and results[3].outcome is Outcome.SENT


def test_sms_timeout_is_unknown_then_reconciled(sb: Sandbox, settings: Settings) -> None:
    sb.inject_fault("sms", "timeout", match=MOBILES[1], delay=1.5)
    ch = build("sms", settings, timeout=0.5, in_flight=1)
    batch = sms_batch(ch)
    results = by_id(ch.deliver(batch))
    assert results[1].outcome is Outcome.SENT
    assert results[2].outcome is Outcome.UNKNOWN  # the provider may have it
    assert results[3].outcome is Outcome.RETRY  # never tried: the provider was slow
    reconciled = by_id(ch.reconcile([batch.recipients[1], batch.recipients[2]], batch))
    assert reconciled[2].outcome is Outcome.SENT
    assert reconciled[2].provider_id == sb.inbox("sms", MOBILES[1])[0]["provider_id"]
    assert reconciled[3].outcome is Outcome.NOT_SENT


MANY = [f"+8190{i:08d}" for i in range(12340011, 12340017)]


def test_requests_in_flight_stop_at_a_timeout_and_the_in_flight_ones_still_report(
    sb: Sandbox, settings: Settings
) -> None:
    """Provider silent: the two requests in flight end in doubt (then checked), nobody else is tried."""
    sb.inject_fault("sms", "timeout", count=0, delay=1.0)
    throttled: list[str] = []
    ch = build("sms", settings, timeout=0.3, in_flight=2, throttle_log=throttled)
    batch = make_batch(ch, DRAFT, recipients(MANY))
    results = by_id(ch.deliver(batch))
    assert [results[i].outcome for i in (1, 2)] == [Outcome.UNKNOWN, Outcome.UNKNOWN]
    assert results[1].attempted and results[2].attempted
    assert all(results[i].outcome is Outcome.RETRY and results[i].attempted is False for i in range(3, 7))
    assert len(throttled) == 2, "one token per request actually made"
    assert {m["to"] for m in sb.inbox("sms")} == set(MANY[:2])


def test_a_429_stops_new_requests_but_the_one_in_flight_is_recorded_as_sent(sb: Sandbox, settings: Settings) -> None:
    # The 429 answers late, so the second request is surely in flight before it comes back.
    sb.inject_fault("sms", "429", match=MANY[0], delay=0.5)
    sb.inject_fault("sms", "timeout", match=MANY[1], delay=1.0)  # slow, not lost: answered in time
    ch = build("sms", settings, timeout=3.0, in_flight=2)
    results = by_id(ch.deliver(make_batch(ch, DRAFT, recipients(MANY))))
    assert results[1].outcome is Outcome.RETRY and results[1].attempted is False and results[1].retry_after
    sent = sb.inbox("sms", MANY[1])
    assert results[2].outcome is Outcome.SENT and results[2].provider_id == sent[0]["provider_id"]
    assert all(results[i].outcome is Outcome.RETRY and results[i].attempted is False for i in range(3, 7))
    assert [m["to"] for m in sb.inbox("sms")] == [MANY[1]]


def test_requests_in_flight_each_get_their_own_answer(sb: Sandbox, settings: Settings) -> None:
    """Concurrent requests never swap answers: each row's provider id is the message to its number."""
    people = [f"+8190{i:08d}" for i in range(12341000, 12341060)]
    throttled: list[str] = []
    ch = build("sms", settings, in_flight=16, throttle_log=throttled)
    results = by_id(ch.deliver(make_batch(ch, DRAFT, recipients(people), sender="+815011112222")))
    by_sid = {m["provider_id"]: m["to"] for m in sb.inbox("sms")}
    assert len(by_sid) == len(people), "one copy each"
    assert {by_sid[results[i + 1].provider_id or ""] for i in range(len(people))} == set(people)
    assert all(by_sid[results[i + 1].provider_id or ""] == people[i] for i in range(len(people)))
    assert throttled == ["+815011112222:1"] * len(people)


class Timings:
    """Our own Observer: what the metrics would be told."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def request(self, channel: str, seconds: float) -> None:
        self.seconds.append(seconds)

    def results(self, channel: str, results: Sequence[DeliveryResult]) -> None:
        pass


def test_each_request_in_flight_is_timed_from_its_own_start_to_its_own_answer(
    sb: Sandbox, settings: Settings
) -> None:
    """Four requests in flight, each answered 0.4 s late: four latencies of at least 0.4 s, not one
    long one and three that end when the next request starts."""
    for number in MANY[:4]:
        sb.inject_fault("sms", "timeout", match=number, delay=0.4)  # slow, answered in time
    timings = Timings()
    ch = build("sms", settings, timeout=3.0, in_flight=4, observer=timings)
    results = by_id(ch.deliver(make_batch(ch, DRAFT, recipients(MANY[:4]))))
    assert all(r.outcome is Outcome.SENT for r in results.values())
    assert len(timings.seconds) == 4 and min(timings.seconds) >= 0.4, timings.seconds


def test_sms_reconcile_needs_the_same_body(sb: Sandbox, settings: Settings) -> None:
    ch = build("sms", settings)
    batch = sms_batch(ch)
    ch.deliver(batch)
    other = make_batch(ch, Draft(title="別の", body="お知らせ"), recipients(MOBILES))
    assert {r.outcome for r in ch.reconcile(other.recipients, other)} == {Outcome.NOT_SENT}
    assert {r.outcome for r in ch.reconcile(batch.recipients, batch)} == {Outcome.SENT}


def test_sms_connection_refused_is_a_safe_retry(settings: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    base = SmsConfig.from_settings(settings)
    ch = SmsChannel(SmsConfig(**{**base.__dict__, "base_url": f"http://127.0.0.1:{closed_port}"}))
    results = ch.deliver(sms_batch(ch))
    assert {r.outcome for r in results} == {Outcome.RETRY}


def test_voice_calls_landlines_too_and_reads_the_message(sb: Sandbox, settings: Settings) -> None:
    ch = build("voice", settings)
    numbers = ["+81312345678", MOBILES[0]]
    batch = make_batch(ch, DRAFT, recipients(numbers))
    results = by_id(ch.deliver(batch))
    assert all(r.outcome is Outcome.SENT and (r.provider_id or "").startswith("CA") for r in results.values())
    for number in numbers:
        calls = sb.inbox("voice", number)
        assert len(calls) == 1
        assert calls[0]["text"].startswith("これは訓練です。")
        assert 'language="ja-JP"' in calls[0]["meta"]["twiml"]
    assert by_id(ch.reconcile(batch.recipients, batch))[1].outcome is Outcome.SENT


def test_voice_invalid_number_and_500(sb: Sandbox, settings: Settings) -> None:
    sb.inject_fault("voice", "invalid_number", match=MOBILES[0])
    sb.inject_fault("voice", "500", match=MOBILES[1])
    ch = build("voice", settings)
    results = by_id(ch.deliver(make_batch(ch, DRAFT, recipients(MOBILES))))
    assert results[1].outcome is Outcome.FAILED and results[1].reason == "invalid_address"
    assert results[2].outcome is Outcome.RETRY
    assert results[3].outcome is Outcome.SENT
    other = make_batch(ch, DRAFT, recipients(["+81355550000"]))
    assert ch.reconcile(other.recipients, other)[0].outcome is Outcome.NOT_SENT


def test_twilio_error_translation() -> None:
    r = Recipient(1, MOBILES[0])
    uri = "/2010-04-01/Accounts/AC/Messages.json"
    not_mobile = twilio_failure(r, TwilioRestException(400, uri, "not mobile", code=21614), "not_mobile")
    assert not_mobile.outcome is Outcome.FAILED and not_mobile.reason == "not_mobile"
    other = twilio_failure(r, TwilioRestException(400, uri, "blocked", code=21610), "not_mobile")
    assert other.outcome is Outcome.FAILED and other.error_code == "21610"
    with pytest.raises(PermanentError):
        twilio_failure(r, TwilioRestException(401, uri, "auth", code=20003), "not_mobile")
    with pytest.raises(RateLimited) as limited:
        twilio_failure(r, TwilioRestException(429, uri, "slow down", code=20429), "not_mobile")
    assert limited.value.retry_after


def test_network_errors_tell_never_sent_from_maybe_sent() -> None:
    cause = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    refused = requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", cause))  # type: ignore[arg-type]
    assert not may_have_reached_provider(refused)
    assert not may_have_reached_provider(ConnectionRefusedError())
    assert may_have_reached_provider(requests.ReadTimeout())
    assert may_have_reached_provider(requests.ConnectionError(ConnectionResetError()))


def test_voice_from_a_stored_text_still_opens_with_the_exercise(sb: Sandbox, settings: Settings) -> None:
    """Dispatch rebuilds contents from the database (text only, no TwiML in meta)."""
    ch = build("voice", settings)
    stored = Rendered(subject=None, text=ch.render(DRAFT).text)
    batch = make_batch(ch, DRAFT, recipients([MOBILES[0]]), contents={"ja": stored})
    assert ch.deliver(batch)[0].outcome is Outcome.SENT
    [call] = sb.inbox("voice", MOBILES[0])
    assert call["text"].startswith("これは訓練です。避難指示。")
    assert call["meta"]["twiml"] == ch.render(DRAFT).meta["twiml"]
