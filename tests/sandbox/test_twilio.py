"""Twilio Messages and Calls through the official SDK, pointed at the sandbox."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client as TwilioClient

from channels.clients import make_twilio_client
from sandbox import SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, Sandbox, SandboxClient
from tests.sandbox.conftest import Receiver

MOBILE = "+819012345678"
SENDER = "+815012345678"


def test_sms_reaches_the_inbox_with_twilio_shaped_resource(
    twilio: TwilioClient, client: SandboxClient
) -> None:
    message = twilio.messages.create(to=MOBILE, from_=SENDER, body="【訓練】地震情報：震度５弱")
    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert message.num_segments == "1"
    assert message.account_sid == SANDBOX_TWILIO_ACCOUNT_SID
    assert message.date_created is not None
    [item] = client.inbox(channel="sms", to=MOBILE)
    assert item["text"] == "【訓練】地震情報：震度５弱"
    assert item["from"] == SENDER
    assert item["provider_id"] == message.sid
    assert item["subject"] is None and item["html"] is None
    assert item["meta"]["encoding"] == "UCS-2"


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("あ" * 70, "1"),
        ("あ" * 71, "2"),
        ("あ" * 134, "2"),
        ("あ" * 135, "3"),
        ("a" * 160, "1"),
        ("a" * 161, "2"),
    ],
)
def test_segments_follow_ucs2_and_gsm7_limits(twilio: TwilioClient, body: str, segments: str) -> None:
    assert twilio.messages.create(to=MOBILE, from_=SENDER, body=body).num_segments == segments


def test_fetch_and_list_return_what_was_accepted(sb: Sandbox, twilio: TwilioClient) -> None:
    sids = [twilio.messages.create(to=MOBILE, from_=SENDER, body=f"通知 {i}").sid for i in range(5)]
    twilio.messages.create(to="+818011112222", from_=SENDER, body="other")
    assert twilio.messages(sids[0]).fetch().status == "delivered"  # no callback URL: settled at once
    listed = twilio.messages.list(to=MOBILE, page_size=2)  # three pages, followed via next_page_uri
    assert [m.sid for m in listed] == list(reversed(sids))
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert len(twilio.messages.list(to=MOBILE, date_sent_after=since)) == 5
    assert twilio.messages.list(to=MOBILE, date_sent_before=since - timedelta(days=2)) == []
    assert len(twilio.messages.list(from_=SENDER)) == 6


def test_status_callbacks_arrive_signed_in_order(
    sb: Sandbox, twilio: TwilioClient, receiver: Receiver
) -> None:
    callback = f"{receiver.url}/twilio/status?tenant=naha"
    message = twilio.messages.create(to=MOBILE, from_=SENDER, body="確認", status_callback=callback)
    got = receiver.wait_for(2)
    validator = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN)
    statuses = []
    for request in got:
        form = dict(parse_qsl(request.body.decode()))
        assert validator.validate(callback, form, request.headers["X-Twilio-Signature"])
        assert not validator.validate(
            callback, {**form, "MessageStatus": "failed"}, request.headers["X-Twilio-Signature"]
        )
        assert form["MessageSid"] == form["SmsSid"] == message.sid
        assert form["AccountSid"] == SANDBOX_TWILIO_ACCOUNT_SID and form["To"] == MOBILE
        statuses.append(form["MessageStatus"])
    assert statuses == ["sent", "delivered"]
    assert sb.wait_idle()
    assert twilio.messages(message.sid).fetch().status == "delivered"


def test_callback_delay_holds_callbacks(sb: Sandbox, twilio: TwilioClient, receiver: Receiver) -> None:
    sb.ctx.callback_delay = 0.3
    started = time.monotonic()
    twilio.messages.create(to=MOBILE, from_=SENDER, body="遅延", status_callback=f"{receiver.url}/cb")
    assert receiver.wait_for(2)
    assert time.monotonic() - started >= 0.3


def test_undelivered_fault_reports_error_code(sb: Sandbox, twilio: TwilioClient, receiver: Receiver) -> None:
    sb.inject_fault("sms", "undelivered")
    twilio.messages.create(to=MOBILE, from_=SENDER, body="x", status_callback=f"{receiver.url}/cb")
    forms = [dict(parse_qsl(r.body.decode())) for r in receiver.wait_for(2)]
    assert [f["MessageStatus"] for f in forms] == ["sent", "undelivered"]
    assert forms[1]["ErrorCode"] == "30003"
    assert sb.inbox(channel="sms") == []  # never reached the handset


@pytest.mark.parametrize(
    ("to", "code"),
    [("+81312345678", 21614), ("+812012345678", 21614), ("+8190123", 21211), ("09012345678", 21211)],
)
def test_non_mobile_and_invalid_numbers_are_refused(twilio: TwilioClient, to: str, code: int) -> None:
    with pytest.raises(TwilioRestException) as caught:
        twilio.messages.create(to=to, from_=SENDER, body="x")
    assert (caught.value.status, caught.value.code) == (400, code)


def test_long_body_and_missing_fields_are_refused(twilio: TwilioClient) -> None:
    with pytest.raises(TwilioRestException) as caught:
        twilio.messages.create(to=MOBILE, from_=SENDER, body="a" * 1601)
    assert caught.value.code == 21617
    with pytest.raises(TwilioRestException) as caught:
        twilio.messages.create(to=MOBILE, body="x")
    assert caught.value.code == 21603


def test_wrong_credentials_get_401(sb: Sandbox) -> None:
    bad = make_twilio_client(SANDBOX_TWILIO_ACCOUNT_SID, "wrong", sb.http_url, timeout=5.0)
    with pytest.raises(TwilioRestException) as caught:
        bad.messages.create(to=MOBILE, from_=SENDER, body="x")
    assert (caught.value.status, caught.value.code) == (401, 20003)


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("429", 429, 20429), ("500", 500, 20500), ("queue_full", 400, 21611), ("invalid_number", 400, 21211)],
)
def test_sms_faults_surface_as_twilio_exceptions(
    client: SandboxClient, twilio: TwilioClient, kind: str, status: int, code: int
) -> None:
    client.inject_fault("sms", kind, count=1)
    with pytest.raises(TwilioRestException) as caught:
        twilio.messages.create(to=MOBILE, from_=SENDER, body="x")
    assert (caught.value.status, caught.value.code) == (status, code)
    twilio.messages.create(to=MOBILE, from_=SENDER, body="retry")  # the fault was used up
    assert [i["text"] for i in client.inbox(channel="sms")] == ["retry"]


def test_fault_match_only_hits_matching_recipient(client: SandboxClient, twilio: TwilioClient) -> None:
    client.inject_fault("sms", "429", count=0, match="+8180")
    twilio.messages.create(to=MOBILE, from_=SENDER, body="ok")
    for _ in range(2):
        with pytest.raises(TwilioRestException):
            twilio.messages.create(to="+818011112222", from_=SENDER, body="x")
    assert client.faults()[0]["used"] == 2


def test_timeout_fault_accepts_then_answers_late(sb: Sandbox, client: SandboxClient) -> None:
    impatient = make_twilio_client(
        SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, sb.http_url, timeout=0.3
    )
    client.inject_fault("sms", "timeout", delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.messages.create(to=MOBILE, from_=SENDER, body="曖昧")
    # The outcome was unknown to the caller, but the provider did accept it: reconciliation finds it.
    [found] = impatient.messages.list(to=MOBILE, date_sent_after=datetime.now(UTC) - timedelta(minutes=5))
    assert found.body == "曖昧"


def test_call_with_twiml_speaks_and_reports_progress(
    twilio: TwilioClient, client: SandboxClient, receiver: Receiver
) -> None:
    twiml = (
        '<Response><Say language="ja-JP">【訓練】避難指示です。</Say>'
        '<Gather numDigits="1" action="/ack">'
        '<Say language="ja-JP">確認したら1を押してください。</Say></Gather></Response>'
    )
    callback = f"{receiver.url}/voice/status"
    call = twilio.calls.create(
        to="+81312345678",  # landlines can be called
        from_=SENDER,
        twiml=twiml,
        status_callback=callback,
        status_callback_event=["ringing", "answered", "completed"],
    )
    assert call.sid.startswith("CA") and call.status == "queued"
    [item] = client.inbox(channel="voice")
    assert item["text"] == "【訓練】避難指示です。\n確認したら1を押してください。"
    assert item["meta"]["twiml"] == twiml and item["meta"]["gather"]["num_digits"] == "1"
    forms = [dict(parse_qsl(r.body.decode())) for r in receiver.wait_for(3)]
    assert [f["CallStatus"] for f in forms] == ["ringing", "in-progress", "completed"]
    assert int(forms[-1]["CallDuration"]) > 0
    validator = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN)
    assert all(
        validator.validate(callback, f, r.headers["X-Twilio-Signature"])
        for f, r in zip(forms, receiver.requests, strict=True)
    )
    assert twilio.calls(call.sid).fetch().status == "completed"
    assert [c.sid for c in twilio.calls.list(to="+81312345678")] == [call.sid]


def test_call_with_url_fetches_twiml_and_digits_reach_gather(
    sb: Sandbox, twilio: TwilioClient, client: SandboxClient, receiver: Receiver
) -> None:
    receiver.reply = (
        '<Response><Gather action="/ack"><Say>参集してください</Say></Gather></Response>'.encode()
    )
    call = twilio.calls.create(
        to=MOBILE,
        from_=SENDER,
        url=f"{receiver.url}/twiml/42",
        status_callback=f"{receiver.url}/status",
        status_callback_event=["answered", "completed"],
    )
    assert sb.wait_idle()
    fetch, answered, completed = receiver.requests
    assert (fetch.path, answered.path, completed.path) == ("/twiml/42", "/status", "/status")
    assert dict(parse_qsl(answered.body.decode()))["CallStatus"] == "in-progress"
    assert dict(parse_qsl(completed.body.decode()))["CallStatus"] == "completed"
    form = dict(parse_qsl(fetch.body.decode()))
    validator = RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN)
    assert validator.validate(f"{receiver.url}/twiml/42", form, fetch.headers["X-Twilio-Signature"])
    assert client.inbox(channel="voice")[0]["text"] == "参集してください"
    answer = client.press_digits(call.sid, "1")
    assert answer["status"] == 200
    gather = receiver.requests[-1]
    assert gather.path == "/ack" and dict(parse_qsl(gather.body.decode()))["Digits"] == "1"


@pytest.mark.parametrize(("kind", "final"), [("no_answer", "no-answer"), ("busy", "busy")])
def test_unanswered_calls_end_with_their_status(
    sb: Sandbox, twilio: TwilioClient, receiver: Receiver, kind: str, final: str
) -> None:
    sb.inject_fault("voice", kind)
    call = twilio.calls.create(
        to=MOBILE,
        from_=SENDER,
        twiml="<Response><Say>x</Say></Response>",
        status_callback=f"{receiver.url}/s",
    )
    [completed] = receiver.wait_for(1)
    assert dict(parse_qsl(completed.body.decode()))["CallStatus"] == final
    assert sb.wait_idle() and twilio.calls(call.sid).fetch().status == final
    assert sb.inbox(channel="voice") == []


def test_voice_faults(client: SandboxClient, twilio: TwilioClient) -> None:
    client.inject_fault("voice", "429")
    with pytest.raises(TwilioRestException) as caught:
        twilio.calls.create(to=MOBILE, from_=SENDER, twiml="<Response/>")
    assert (caught.value.status, caught.value.code) == (429, 20429)


def test_many_callbacks_use_a_bounded_pool(sb: Sandbox, twilio: TwilioClient, receiver: Receiver) -> None:
    threads_before = threading.active_count()
    for n in range(200):
        twilio.messages.create(
            to=f"+8190{10000000 + n:08d}", from_=SENDER, body="一斉", status_callback=f"{receiver.url}/cb"
        )
    assert len(receiver.wait_for(400, timeout=10)) == 400
    # New threads: this SDK connection's server thread and one receiver thread per callback
    # worker connection (4) — not one per message.
    assert threading.active_count() <= threads_before + 6
    assert sb.wait_idle()
    assert sb.ctx.stats.snapshot()["twilio.callbacks.sent"] == 400


def test_sdk_client_keeps_one_connection_alive() -> None:
    with Sandbox() as own:
        client = make_twilio_client(SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, own.http_url, 5.0)
        for _ in range(30):
            client.messages.create(to=MOBILE, from_=SENDER, body="keep-alive")
        assert own._http is not None and len(own._http._open) == 1
