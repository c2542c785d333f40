"""Reading delivery reports (RFC 3464) and the signed return paths they come back to.

The reports below are written in the shapes Postfix, Microsoft Exchange Online and Gmail send
(multipart/report; report-type=delivery-status), with made-up addresses.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.bounces.addresses import delivery_of, return_path
from hub.bounces.dsn import read_dsn
from sandbox.dsn import delivery_report

SECRET = "a-secret-key-of-this-hub-that-is-long-enough-0123456789"


def _report(status_block: str, human: str = "Delivery has failed.", extra: str = "") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "Subject: Undeliverable: 避難指示\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{human}\r\n"
        f"{extra}"
        f"--b1\r\nContent-Type: message/delivery-status\r\n\r\n{status_block}\r\n"
        "--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: bousai@city.example.jp\r\nSubject: x\r\n\r\n"
        "--b1--\r\n"
    ).encode()


EXCHANGE = _report(
    "Reporting-MTA: dns;TY2PR01MB1234.jpnprd01.prod.outlook.com\r\n"
    "Received-From-MTA: dns;relay.city.example.jp\r\n"
    "Arrival-Date: Tue, 1 Dec 2026 09:00:00 +0000\r\n\r\n"
    "Final-Recipient: rfc822;nobody@contoso.example\r\n"
    "Action: failed\r\n"
    "Status: 5.1.10\r\n"
    "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient nobody@contoso.example not found "
    "by SMTP address lookup\r\n",
    extra="--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Your message couldn't be delivered.</p>\r\n",
)
GMAIL = _report(
    "Reporting-MTA: dns; googlemail.com\r\n"
    "Arrival-Date: Tue, 01 Dec 2026 01:02:03 -0800 (PST)\r\n\r\n"
    "Final-Recipient: rfc822; taro.nobody@gmail.example\r\n"
    "Action: failed\r\n"
    "Status: 5.1.1\r\n"
    "Remote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.0.27, the server for the domain gmail.example.)\r\n"
    "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.\r\n"
    "Last-Attempt-Date: Tue, 01 Dec 2026 01:02:04 -0800 (PST)\r\n",
)


def test_postfix_exchange_and_gmail_reports_are_read() -> None:
    postfix = read_dsn(delivery_report(b"Subject: x\r\n\r\nbody\r\n", "gone@mail.example.jp", "bounce"))
    assert postfix is not None and (postfix.action, postfix.status) == ("failed", "5.1.1")
    assert postfix.recipient == "gone@mail.example.jp" and "User unknown" in postfix.diagnostic
    assert postfix.address_unknown

    exchange = read_dsn(EXCHANGE)
    assert exchange is not None and (exchange.action, exchange.status) == ("failed", "5.1.10")
    assert exchange.recipient == "nobody@contoso.example" and exchange.address_unknown
    assert exchange.diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")

    gmail = read_dsn(GMAIL)
    assert gmail is not None and (gmail.status, gmail.recipient) == ("5.1.1", "taro.nobody@gmail.example")
    assert "does not exist" in gmail.diagnostic


def test_only_a_missing_address_marks_the_address() -> None:
    full = read_dsn(delivery_report(b"Subject: x\r\n\r\n", "full@mail.example.jp", "bounce_full"))
    assert full is not None and full.failed and full.status == "5.2.2" and not full.address_unknown
    policy = read_dsn(_report("Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; a@example.net\r\n"
                              "Action: failed\r\nStatus: 5.7.1\r\nDiagnostic-Code: smtp; 550 5.7.1 Message rejected "
                              "as spam\r\n"))
    assert policy is not None and policy.failed and not policy.address_unknown
    delayed = read_dsn(delivery_report(b"Subject: x\r\n\r\n", "late@mail.example.jp", "bounce_delayed"))
    assert delayed is not None and delayed.action == "delayed" and not delayed.failed


def test_of_several_recipients_the_failed_one_is_reported_and_a_bad_status_is_still_a_failure() -> None:
    dsn = read_dsn(_report("Reporting-MTA: dns; mx.example.net\r\n\r\n"
                           "Final-Recipient: rfc822; slow@example.net\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n"
                           "Final-Recipient: rfc822; gone@example.net\r\nAction: FAILED\r\nStatus: 5.x.y (garbled)\r\n"))
    assert dsn is not None and (dsn.action, dsn.recipient, dsn.status) == ("failed", "gone@example.net", "5.0.0")


@pytest.mark.parametrize("raw", [
    b"From: someone@example.jp\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n\r\nI am away.\r\n",
    b"",
    b"\x00\xff\xfe garbage \r\n\r\n\r\n--",
    # A read receipt is a report too, but of another type: not a delivery report.
    b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary="x"'
    b"\r\n\r\n--x\r\nContent-Type: message/disposition-notification\r\n\r\nDisposition: manual-action/"
    b"MDN-sent-manually; displayed\r\n--x--\r\n",
])
def test_anything_else_is_not_a_report(raw: bytes) -> None:
    assert read_dsn(raw) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_no_input_makes_the_reader_fail(raw: bytes) -> None:
    read_dsn(raw)  # the receiver faces the internet: None or a report, never an exception
    read_dsn(b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n--b\r\n' + raw)


def test_a_return_path_names_its_row_and_only_this_hub_can_make_one() -> None:
    address = return_path(SECRET, "bounce.city.example.jp", 1234567)
    assert address.startswith("bounce-1234567-") and address.endswith("@bounce.city.example.jp")
    assert len(address.partition("@")[0]) <= 64  # an SMTP local part
    assert delivery_of(SECRET, address) == 1234567
    assert delivery_of(SECRET, f"<{address.upper()}>") == 1234567, "relays may change the case"
    assert delivery_of("another-hub's-secret-key-0123456789-0123456789", address) is None
    assert delivery_of(SECRET, address.replace("1234567", "1234568", 1)) is None
    assert delivery_of(SECRET, "postmaster@bounce.city.example.jp") is None
    assert delivery_of(SECRET, f"bounce-{2**63}-aaaaaaaaaaaaa@x.example") is None
