"""Hypothesis fuzzing of what providers post to the hub, as the adapters parse it.

Each parser gets arbitrary input and must either return its typed event or raise its documented
error (SignatureError when the post is not ours, MalformedPost when a signed post is not what the
provider sends), never anything else: any other exception is a 500 at the callback routes.
HUB_FUZZ_EXAMPLES raises the number of examples (see docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels import registry
from channels.base import ChannelContext, Outcome
from channels.inbound import KeypadAnswer, MalformedPost, SignatureError, StatusEvent, UserEvent
from channels.line import LineChannel
from channels.sms import SmsChannel
from channels.voice import VoiceChannel
from hub.config import Settings
from hub.relay.texts import parse_postback

SECRET = "fuzz-channel-secret"
TOKEN = "fuzz-auth-token"
FUZZ = settings(max_examples=int(os.environ.get("HUB_FUZZ_EXAMPLES", "100")), deadline=None,
                derandomize=not os.environ.get("HUB_FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.too_slow])

_settings = Settings(line_channel_secret=SECRET, line_channel_access_token="t", twilio_account_sid="AC1",
                     twilio_auth_token=TOKEN)
_context = ChannelContext(public_url="https://hub.example.jp")
LINE = registry.build("line", _settings, _context)
SMS = registry.build("sms", _settings, _context)
VOICE = registry.build("voice", _settings, _context)
assert isinstance(LINE, LineChannel) and isinstance(SMS, SmsChannel) and isinstance(VOICE, VoiceChannel)


def line_signature(body: str) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body.encode(), hashlib.sha256).digest()).decode()


def checked_events(body: str) -> list[UserEvent] | None:
    """parse_webhook's answer for a correctly signed ``body``; None when it refused it as malformed."""
    try:
        events = LINE.parse_webhook(body, line_signature(body))
    except MalformedPost:
        return None
    assert isinstance(events, list)
    for event in events:
        assert isinstance(event, UserEvent) and isinstance(event.kind, str)
        assert event.user_id is None or isinstance(event.user_id, str)
        assert event.data is None or isinstance(event.data, str)
        assert event.text is None or isinstance(event.text, str)
    return events


# JSON shaped like a LINE webhook, with every field free to be wrong.
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
event_types = st.sampled_from(["follow", "unfollow", "postback", "message", "join", "beacon", "", "x"])
sources = st.fixed_dictionaries({}, optional={"type": st.sampled_from(["user", "group", "room", 3]),
                                              "userId": st.text(max_size=40) | json_values})
events = st.fixed_dictionaries({}, optional={
    "type": event_types | json_values, "source": sources | json_values, "timestamp": st.integers() | json_values,
    "mode": st.sampled_from(["active", "standby"]) | json_values, "webhookEventId": st.text(max_size=30),
    "replyToken": st.text(max_size=30), "deliveryContext": st.fixed_dictionaries({"isRedelivery": st.booleans()}),
    "postback": st.fixed_dictionaries({}, optional={"data": st.text(max_size=300) | json_values}),
    "message": st.fixed_dictionaries({}, optional={"type": st.sampled_from(["text", "sticker"]) | json_values,
                                                   "id": st.text(max_size=10), "text": st.text(max_size=50)}),
})
webhooks = st.fixed_dictionaries({}, optional={"destination": st.text(max_size=40) | json_values,
                                               "events": st.lists(events | json_values, max_size=4) | json_values})


@FUZZ
@given(body=st.text(max_size=400))
def test_line_webhook_arbitrary_text_is_events_or_malformed(body: str) -> None:
    checked_events(body)


@FUZZ
@given(payload=webhooks)
def test_line_webhook_shaped_json_is_events_or_malformed(payload: dict[str, Any]) -> None:
    checked_events(json.dumps(payload))


@FUZZ
@given(body=st.text(max_size=200), signature=st.text(max_size=60))
def test_line_webhook_with_a_wrong_signature_is_always_refused(body: str, signature: str) -> None:
    if hmac.compare_digest(signature.encode(), line_signature(body).encode()):
        return
    try:
        LINE.parse_webhook(body, signature)
    except SignatureError:
        return
    raise AssertionError("an unsigned webhook was parsed")


def test_line_webhook_real_follow_event_still_parses() -> None:
    # The fuzz properties accept "malformed" for everything; this pins that a real post still parses.
    body = json.dumps({"destination": "U0", "events": [{
        "type": "follow", "mode": "active", "timestamp": 1, "webhookEventId": "01H", "replyToken": "r",
        "deliveryContext": {"isRedelivery": False}, "source": {"type": "user", "userId": "U" + "a" * 32},
        "follow": {"isUnblocked": False}}]})
    assert checked_events(body) == [UserEvent(kind="follow", user_id="U" + "a" * 32, event_id="01H",
                                                  reply_token="r")]
    assert checked_events("not json") is None and checked_events('{"events": 5}') is None


forms = st.dictionaries(st.sampled_from(["MessageStatus", "MessageSid", "CallStatus", "CallSid", "ErrorCode",
                                         "Digits", "To", "From", "AccountSid"]) | st.text(max_size=10),
                        st.text(max_size=40), max_size=8)


@FUZZ
@given(form=forms)
def test_twilio_status_events_never_raise(form: dict[str, str]) -> None:
    for channel in (SMS, VOICE):
        event = channel.status_event(form)
        assert isinstance(event, StatusEvent) and isinstance(event.provider_id, str)
        assert event.outcome in (None, Outcome.DELIVERED, Outcome.FAILED)
        # Only the provider's own final words settle a row: anything unknown is not a final outcome.
        assert (event.outcome is not None) == (event.status in channel.final_statuses)


@FUZZ
@given(form=forms, url=st.text(max_size=80), signature=st.text(max_size=60))
def test_twilio_signature_check_answers_false_never_raises(form: dict[str, str], url: str, signature: str) -> None:
    assert SMS.verify_request(url, form, signature) in (True, False)
    assert SMS.verify_request(f"https://hub.example.jp/callbacks/twilio/status?d=1{url}", form, signature) is False


@FUZZ
@given(form=forms)
def test_keypad_answers_never_raise(form: dict[str, str]) -> None:
    answer = VOICE.keypad_answer(form)
    assert isinstance(answer, KeypadAnswer)
    assert answer.digits == form.get("Digits", "") and answer.called == form.get("To", "")


@FUZZ
@given(data=st.text(max_size=80) | st.builds(lambda a, b, c: f"relay|{a}|{b}|{c}", st.text(max_size=25),
                                              st.text(max_size=8), st.text(max_size=8)))
def test_relay_postback_data_is_parsed_or_ignored(data: str) -> None:
    parsed = parse_postback(data)
    if parsed is not None:
        callout_id, key, value = parsed
        # An id the database can hold: a bigger one reached the query as an OverflowError.
        assert 0 <= callout_id <= 2**31 - 1 and isinstance(key, str) and isinstance(value, str)


def test_relay_postback_unicode_digits_are_not_ids() -> None:
    assert parse_postback("relay|²|attend|yes") is None  # str.isdigit() says yes; int() said ValueError
    assert parse_postback("relay|" + "9" * 30 + "|attend|yes") is None
    assert parse_postback(f"relay|{2**31}|attend|yes") is None  # call-outs.id is INTEGER on PostgreSQL
    assert parse_postback("relay|12|attend|yes") == (12, "attend", "yes")
