"""Delivery status notifications (RFC 3464) as a relay sends them when the remote server refuses a
message it had accepted: the sandbox's ``bounce`` faults report to the message's return path."""

from __future__ import annotations

import smtplib
import uuid
from email.utils import formatdate

from sandbox.context import SandboxContext

REPORTING_MTA = "relay.sandbox.invalid"
REPORT_TRIES = 5
REPORT_RETRY_SECONDS = 0.5
# fault kind → (Action, Status, the remote server's words)
BOUNCES = {
    "bounce": ("failed", "5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"),
    "bounce_full": ("failed", "5.2.2", "552 5.2.2 <{rcpt}>: Mailbox full"),
    "bounce_delayed": ("delayed", "4.4.1", "421 4.4.1 Connection timed out; will keep trying for 5 days"),
}


def delivery_report(original: bytes, recipient: str, kind: str) -> bytes:
    """The report a Postfix relay would write: human text, the machine part, the original's headers."""
    action, status, words = BOUNCES[kind]
    diagnostic = words.format(rcpt=recipient)
    boundary = f"sandbox-dsn-{uuid.uuid4().hex}"
    headers = original.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    human = ("This is the mail system at host relay.sandbox.invalid.\r\n\r\n"
             + ("I'm sorry to have to inform you that your message could not be delivered to one or more "
                "recipients." if action == "failed" else "Your message could not be delivered yet; "
                "the mail system will keep trying.") + f"\r\n\r\n<{recipient}>: {diagnostic}\r\n")
    return (
        f"From: MAILER-DAEMON@{REPORTING_MTA} (Mail Delivery System)\r\n"
        f"Subject: {'Undelivered Mail Returned to Sender' if action == 'failed' else 'Delayed Mail'}\r\n"
        f"Date: {formatdate()}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@{REPORTING_MTA}>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{human}\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {REPORTING_MTA}\r\n"
        f"Arrival-Date: {formatdate()}\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; mx.{recipient.rpartition('@')[2]}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def send_report(ctx: SandboxContext, return_path: str, report: bytes) -> None:
    """Deliver to the return path's MX: the bounce target set on the sandbox (the hub's receiver),
    or the bounce mailbox (the city's mail server, which the hub fetches from)."""
    if ctx.bounce_to_mailbox and return_path:
        ctx.bounce_mailbox.file(report, return_path)
        ctx.stats.incr("smtp.bounce.sent")
        return
    target = ctx.bounce_target
    if target is None or not return_path:
        ctx.stats.incr("smtp.bounce.nowhere")  # a real relay would try the domain's MX and give up
        return
    for attempt in range(REPORT_TRIES):
        try:
            with smtplib.SMTP(target[0], target[1], timeout=10) as smtp:
                smtp.sendmail("", [return_path], report)
            ctx.stats.incr("smtp.bounce.sent")
            return
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500:
                break  # e.g. 550 for a return path the receiver did not sign
        except smtplib.SMTPRecipientsRefused:
            break
        except (OSError, smtplib.SMTPException):
            pass
        # A relay's queue retries a temporary failure (451) later: here within seconds.
        if ctx.stopping.wait(REPORT_RETRY_SECONDS * (attempt + 1)):
            break
    ctx.stats.incr("smtp.bounce.refused")
