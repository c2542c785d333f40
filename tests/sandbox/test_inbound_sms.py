"""A resident texts one of our numbers: the sandbox posts Twilio's signed incoming-message webhook
and, as Twilio does, sends each <Message> of the TwiML answer back to the resident."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
import requests
from click.testing import CliRunner
from twilio.request_validator import RequestValidator

from sandbox import SANDBOX_TWILIO_ACCOUNT_SID, SANDBOX_TWILIO_AUTH_TOKEN, Sandbox, SandboxClient, SandboxError
from sandbox.cli import sandbox_cli
from tests.sandbox.conftest import Receiver

RESIDENT, OURS = "+819012345678", "+815012345678"


def test_the_webhook_is_signed_as_the_sdk_validates_and_carries_twilios_fields(
    sb: Sandbox, client: SandboxClient, receiver: Receiver
) -> None:
    client.set_sms_url(f"{receiver.url}/callbacks/twilio/sms")
    receiver.reply = ('<?xml version="1.0" encoding="UTF-8"?>'
                      "<Response><Message>配信停止を受け付けました</Message></Response>").encode()
    result = client.send_sms(RESIDENT, OURS, "停止")
    [post] = receiver.requests
    form = dict(parse_qsl(post.body.decode(), keep_blank_values=True))
    assert RequestValidator(SANDBOX_TWILIO_AUTH_TOKEN).validate(
        f"{receiver.url}/callbacks/twilio/sms", form, post.headers["X-Twilio-Signature"])
    assert (form["From"], form["To"], form["Body"], form["AccountSid"]) == (RESIDENT, OURS, "停止", SANDBOX_TWILIO_ACCOUNT_SID)
    assert form["MessageSid"] == form["SmsSid"] == result["sid"] and result["sid"].startswith("SM")
    assert (form["NumSegments"], form["SmsStatus"], form["FromCountry"]) == ("1", "received", "JP")
    [reply] = result["replies"]
    assert (reply["to"], reply["from"], reply["text"]) == (RESIDENT, OURS, "配信停止を受け付けました")
    assert client.inbox("sms", to=RESIDENT) == [reply]


def test_a_repeated_sid_replays_the_same_webhook(sb: Sandbox, receiver: Receiver) -> None:
    sb.set_sms_url(receiver.url)
    first = sb.send_sms(RESIDENT, OURS, "1")
    again = sb.send_sms(RESIDENT, OURS, "1", sid=first["sid"])
    assert again["sid"] == first["sid"]
    assert [dict(parse_qsl(r.body.decode()))["MessageSid"] for r in receiver.requests] == [first["sid"]] * 2


@pytest.mark.parametrize("answer, code, replies", [
    (b"<Response/>", None, 0), (b"", None, 0), (b"<Response><Message><Body>a</Body></Message><Message>b</Message></Response>", None, 2),
    (b"not xml", 12100, 0), (b"<Other/>", 12100, 0),
])
def test_twiml_answers(sb: Sandbox, receiver: Receiver, answer: bytes, code: int | None, replies: int) -> None:
    sb.set_sms_url(receiver.url)
    receiver.reply = answer
    result = sb.send_sms(RESIDENT, OURS, "x")
    assert (result["error_code"], len(result["replies"])) == (code, replies)


def test_without_an_sms_url_or_with_bad_numbers_nothing_is_posted(sb: Sandbox, client: SandboxClient) -> None:
    with pytest.raises(SandboxError, match="no SMS URL"):
        client.send_sms(RESIDENT, OURS, "停止")
    client.set_sms_url("http://127.0.0.1:9/sms")
    with pytest.raises(SandboxError, match=r"E\.164"):
        client.send_sms("09012345678", OURS, "停止")


def test_the_page_form_and_the_cli(sb: Sandbox, receiver: Receiver) -> None:
    sb.set_sms_url(receiver.url)
    receiver.reply = b"<Response><Message>https://city.example.jp/register</Message></Response>"
    page = requests.get(f"{sb.http_url}/sandbox/sms", timeout=5)
    assert page.status_code == 200 and 'action="/sandbox/sms/inbound"' in page.text and receiver.url in page.text
    posted = requests.post(f"{sb.http_url}/sandbox/sms/inbound", timeout=5, allow_redirects=False,
                           data={"from": RESIDENT, "to": OURS, "body": "登録", "redirect": "1"})
    assert posted.status_code == 303 and posted.headers["Location"] == "/sandbox/?channel=sms"
    result = CliRunner().invoke(sandbox_cli, ["sms", RESIDENT, OURS, "登録", "--url", sb.http_url])
    assert result.exit_code == 0, result.output
    assert "https://city.example.jp/register" in result.output
    assert len(sb.inbox("sms", to=RESIDENT)) == 2
