"""The sms channel through its Karaden gateway, driven by the official SDK against the sandbox."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import Batch, ChannelContext, Draft, Outcome
from channels.inbound import MalformedPost
from channels.karaden import KaradenGateway
from channels.sms import SmsChannel
from hub.config import Settings
from sandbox import Sandbox

from .helpers import CALLBACK_URL, build, by_id, make_batch, recipients

FUZZ = settings(max_examples=int(os.environ.get("HUB_FUZZ_EXAMPLES", "100")), deadline=None,
                derandomize=not os.environ.get("HUB_FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PHONES = ["+819012340001", "+819012340002", "+819012340003"]
DRAFT = Draft(title="【訓練】避難指示", body="○○地区に避難指示を発令しました。", mode="exercise")


def _channel(settings: Settings, health: list[tuple[str, bool]] | None = None, timeout: float = 5.0) -> SmsChannel:
    if health is None:
        channel = build("sms", settings, timeout=timeout)
    else:
        from channels import registry

        context = ChannelContext(public_url=CALLBACK_URL, timeout=timeout,
                                 gateway_health=lambda g, ok: health.append((g, ok)))
        channel = registry.build("sms", settings, context)
    assert isinstance(channel, SmsChannel)
    return channel


def _batch(channel: SmsChannel, phones: list[str] = PHONES, sender: str | None = "7") -> Batch:
    return replace(make_batch(channel, DRAFT, recipients(phones), sender=sender), gateway="karaden")


def test_karaden_send_reaches_each_phone_once_tagged_with_its_row(sb: Sandbox, settings: Settings) -> None:
    health: list[tuple[str, bool]] = []
    channel = _channel(settings, health)
    results = by_id(channel.deliver(_batch(channel)))
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert all(r.attempted for r in results.values())
    inbox = sb.inbox("sms")
    assert Counter(i["to"] for i in inbox) == Counter(PHONES)
    assert {i["meta"]["tags"][0] for i in inbox} == {"hub-d1", "hub-d2", "hub-d3"}
    assert {i["from"] for i in inbox} == {"karaden:service:7"}, "the batch's sender is the service id"
    assert all(i["text"].startswith("【訓練】") for i in inbox)
    assert {i["provider_id"] for i in inbox} == {r.provider_id for r in results.values()}
    assert health == [("karaden", True)], "answers are told to the breaker once a second, not per SMS"


def test_karaden_errors_become_the_hubs_outcomes(sb: Sandbox, settings: Settings) -> None:
    health: list[tuple[str, bool]] = []
    channel = _channel(settings, health)
    sb.inject_fault("karaden", "500", match="12340001")
    sb.inject_fault("karaden", "invalid_number", match="12340002")
    results = by_id(channel.deliver(_batch(channel, [*PHONES, "+14155550100"])))
    assert (results[1].outcome, results[1].attempted) == (Outcome.RETRY, True)
    assert (results[2].outcome, results[2].reason) == (Outcome.FAILED, "invalid_address")
    assert results[3].outcome == Outcome.SENT
    assert (results[4].outcome, results[4].reason, results[4].attempted) == (Outcome.FAILED, "not_mobile", False), \
        "a number Karaden cannot serve is refused without a request"
    assert health == [("karaden", False), ("karaden", True)], "a failure, then the answers after it (once)"

    sb.clear()
    sb.inject_fault("karaden", "429")
    held = by_id(channel.deliver(_batch(channel)))
    assert {(r.outcome, r.attempted) for r in held.values()} == {(Outcome.RETRY, False)}, \
        "a rate limit holds the batch back and uses no attempt"
    assert all(r.retry_after for r in held.values())
    assert sb.inbox("sms") == []


def test_refused_credentials_fail_the_batch_and_count_against_the_gateway(sb: Sandbox, settings: Settings) -> None:
    health: list[tuple[str, bool]] = []
    channel = _channel(replace(settings, karaden_api_token="wrong"), health)
    results = by_id(channel.deliver(_batch(channel)))
    assert {r.outcome for r in results.values()} == {Outcome.FAILED}
    assert "認証" in (results[1].error or "")
    assert health == [("karaden", False)]


def test_a_lost_answer_is_unknown_then_found_at_karaden_by_its_tag(sb: Sandbox, settings: Settings) -> None:
    channel = _channel(settings, timeout=1.0)
    sb.inject_fault("karaden", "timeout", match="12340002", delay=2.0)
    batch = _batch(channel)
    results = by_id(channel.deliver(batch))
    assert results[1].outcome == Outcome.SENT
    assert (results[2].outcome, results[2].error_code) == (Outcome.UNKNOWN, "timeout")
    assert (results[3].outcome, results[3].attempted) == (Outcome.RETRY, False), "not requested after a timeout"

    found = by_id(channel.reconcile(batch.recipients, batch))
    assert found[2].outcome == Outcome.SENT and found[2].provider_id, "Karaden accepted it before stalling"
    assert found[3].outcome == Outcome.NOT_SENT, "never requested: safe to send"
    assert Counter(i["to"] for i in sb.inbox("sms")) == Counter(PHONES[:2])


def test_a_cancel_withdraws_a_message_not_yet_sent(settings: Settings) -> None:
    with Sandbox(callback_delay=5.0) as slow:
        channel = _channel(replace(settings, karaden_base_url=f"{slow.http_url}/api"))
        sent = channel.deliver(_batch(channel, PHONES[:1]))[0]
        gateway = channel.karaden()
        assert sent.provider_id and gateway.cancel(sent.provider_id)
        assert not gateway.cancel(sent.provider_id), "only a waiting message can be withdrawn"


def _callback(tags: list[str], status: str = "done", sent_result: str = "received") -> bytes:
    return json.dumps({"id": "82bdf9de-a532-4bf5-86bc-c9a1366e5f4a", "object": "message", "project_id": 1,
                       "tags": tags, "status": status, "result": "done", "sent_result": sent_result}).encode()


@pytest.mark.parametrize(("status", "sent_result", "outcome"), [
    ("done", "received", Outcome.DELIVERED),
    ("done", "unconnected", Outcome.FAILED),
    ("error", "none", Outcome.FAILED),
    ("done", "unknown", None),  # sent; the carrier never said more
])
def test_delivery_results_are_read_from_status_and_sent_result(status: str, sent_result: str,
                                                               outcome: Outcome | None) -> None:
    row, event = KaradenGateway.status_event(_callback(["campaign", "hub-d41"], status, sent_result))
    assert row == 41 and event.outcome == outcome
    assert event.provider_id == "82bdf9de-a532-4bf5-86bc-c9a1366e5f4a"


@pytest.mark.parametrize("raw", [b"not json", b"[]", _callback([]), _callback(["hub-d1", "hub-d2"]),
                                 b'{"id": "x", "object": "message", "tags": 5}',
                                 b'{"id": "x", "object": "message", "tags": "hub-d1"}'])
def test_callbacks_that_name_no_single_row_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedPost):
        KaradenGateway.status_event(raw)


def test_callback_secret_is_required_and_published_ones_are_never_trusted(settings: Settings) -> None:
    channel = _channel(settings)
    body = _callback(["hub-d5"])
    assert channel.karaden_status(body, settings.karaden_callback_secret) is not None
    assert channel.karaden_status(body, "guess") is None
    assert _channel(replace(settings, karaden_callback_secret="")).karaden_status(body, "") is None
    live = replace(settings, karaden_base_url="")  # live Karaden with the sandbox's published secret
    assert _channel(live).karaden_status(body, settings.karaden_callback_secret) is None


def test_a_department_on_karaden_without_karaden_credentials_fails_loudly_without_a_request(
    sb: Sandbox, settings: Settings
) -> None:
    health: list[tuple[str, bool]] = []
    channel = _channel(replace(settings, karaden_api_token="", karaden_tenant_id=""), health)
    results = by_id(channel.deliver(_batch(channel)))
    assert {(r.outcome, r.attempted) for r in results.values()} == {(Outcome.FAILED, False)}
    assert "HUB_KARADEN_API_TOKEN" in (results[1].error or "")
    assert health == [], "a configuration gap is not the gateway failing"
    assert sb.inbox("sms") == []


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=6), max_leaves=20)
FIELDS = st.fixed_dictionaries({}, optional={
    "id": JSON, "object": st.sampled_from(["message", "error"]) | JSON, "status": JSON, "sent_result": JSON,
    "tags": st.lists(st.sampled_from(["hub-d1", "hub-d99", "hub-dx", "other"]) | JSON, max_size=3) | JSON})


@FUZZ
@given(st.binary(max_size=200) | FIELDS.map(lambda d: json.dumps(d).encode()))
def test_any_callback_body_is_an_event_or_malformed_never_a_crash(raw: bytes) -> None:
    try:
        row, event = KaradenGateway.status_event(raw)
    except MalformedPost:
        return
    assert isinstance(row, int) and row > 0
    assert isinstance(event.provider_id, str) and len(event.status) <= 32
