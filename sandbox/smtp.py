"""The sandbox mail server: aiosmtpd on 127.0.0.1, one inbox copy per accepted recipient.

Refusals happen at ``RCPT`` as real servers do, so ``smtplib`` raises
``SMTPRecipientsRefused`` only when every recipient is refused and otherwise reports the
refused ones — the hub must handle both.  Any local part starting with ``bounce`` is unknown.
AUTH is offered and accepts any credentials, so a configuration with a username still works.
SMTPUTF8 (non-ASCII addresses) is offered unless turned off, and STARTTLS when the sandbox is
given a server certificate (``tls_context``; with ``implicit_tls`` it speaks SMTPS instead):
tests prove the hub verifies it.
"""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import uuid
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from sandbox.callbacks import JobStep
from sandbox.context import SandboxContext
from sandbox.dkim_check import dkim_verdict
from sandbox.dsn import BOUNCES, delivery_report, send_report
from sandbox.inbox import InboxItem

RCPT_KINDS = ("mailbox_550", "429", "500")


def free_port(host: str) -> int:
    # aiosmtpd's Controller cannot start on port 0 (it connects to itself to check readiness).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _accept_any(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    return AuthResult(success=True)


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    # SMTP carries CRLF line ends; the inbox shows text as a mail client would.
    return content.replace("\r\n", "\n") if isinstance(content, str) else None


class SandboxSMTPHandler:
    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        self.ctx.stats.incr("smtp.rcpt")
        if address.split("@", 1)[0].lower().startswith("bounce"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        fault = self.ctx.faults.take("email", (address,), kinds=RCPT_KINDS)
        if fault is not None:
            if fault.kind == "mailbox_550":
                return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
            if fault.kind == "429":
                return "451 4.7.1 Too many messages, slow down and try again later"
            return "451 4.3.0 Temporary local problem, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.ctx.stats.incr("smtp.data")
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        message = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(message, EmailMessage)
        queue_id = uuid.uuid4().hex[:12].upper()
        provider_id = str(message.get("Message-ID") or f"<{queue_id}@sandbox>")
        text = _body(message, "plain") or ""
        html = _body(message, "html")
        attachments = [part.get_filename() or "" for part in message.iter_attachments()]
        mail_from = envelope.mail_from or ""
        base_meta = {
            "message_id": provider_id,
            "queue_id": queue_id,
            "mail_from": mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "header_from": str(message.get("From", "")),
            "headers": [[name, str(value)] for name, value in message.items()],
            "attachments": attachments,
            "dkim": dkim_verdict(raw, self.ctx.txt_records),
        }
        subject = str(message.get("Subject", ""))
        returned = self._bounces(raw, mail_from, envelope.rcpt_tos)
        items = [
            InboxItem(
                "email", rcpt, mail_from, text, provider_id, subject=subject, html=html, meta=dict(base_meta)
            )
            for rcpt in envelope.rcpt_tos if rcpt not in returned
        ]
        self.ctx.inbox.add_many(items)
        fault = self.ctx.faults.take("email", envelope.rcpt_tos, kinds=("timeout",))
        if fault is not None:
            # Accepted but answered late: the client times out not knowing the mail went out.
            await asyncio.sleep(fault.timeout_delay)
        return f"250 2.0.0 Ok: queued as {queue_id}"


    def _bounces(self, raw: bytes, mail_from: str, recipients: list[str]) -> set[str]:
        """Recipients whose remote server will refuse the message after our 250 (``bounce`` faults):
        each gets a delivery report to the return path later; a refused copy never reaches the inbox."""
        refused: set[str] = set()
        for rcpt in recipients:
            fault = self.ctx.faults.take("email", (rcpt,), kinds=tuple(BOUNCES))
            if fault is None:
                continue
            if fault.kind != "bounce_delayed":
                refused.add(rcpt)
            report = delivery_report(raw, rcpt, fault.kind)

            def deliver(report: bytes = report) -> None:
                send_report(self.ctx, mail_from, report)

            delay = self.ctx.callback_delay if fault.delay is None else fault.delay
            self.ctx.jobs.schedule([JobStep(run=deliver, gap=delay)])
        return refused


class SandboxSMTP:
    def __init__(self, ctx: SandboxContext, host: str, port: int, *, tls_context: ssl.SSLContext | None = None,
                 implicit_tls: bool = False, smtputf8: bool = True) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._controller = Controller(
            SandboxSMTPHandler(ctx),
            hostname=host,
            port=self.port,
            ssl_context=tls_context if implicit_tls else None,
            server_hostname="sandbox.invalid",
            authenticator=_accept_any,
            auth_required=False,
            auth_require_tls=False,
            data_size_limit=25 * 1024 * 1024,
            tls_context=None if implicit_tls else tls_context,
            enable_SMTPUTF8=smtputf8,
        )

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
