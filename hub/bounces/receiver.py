"""``hub bounces serve``: the SMTP server that receives bounces for ``HUB_BOUNCE_DOMAIN``.

It faces the internet (the bounce domain's MX points at it), so it accepts only what it can use:
RCPT to a return path this hub signed (else 550), no relaying, no AUTH, 1 MB per message. A
report is recorded before the 250: if the database is away, or the report overtook the worker's
own record of the send, it answers 451 and the reporting server tries again later, so no bounce
is lost to a blip or a race.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from channels.base import Outcome
from channels.inbound import StatusEvent
from hub.bounces.addresses import delivery_of
from hub.bounces.dsn import Dsn, read_dsn
from hub.db import rowcount
from hub.models import Contact, Delivery, DeliveryState, audit, utcnow
from hub.runtime import Runtime
from hub.statuses import enqueue

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1024 * 1024
BOUNCE_MAX = 240  # Contact.email_bounce


# A row still on its way out has no provider id yet: a report about it waits for its record.
NOT_YET_RECORDED = (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.CHECKING)


class NotYetRecorded(Exception):
    """The report overtook the worker's own record of the send: asked again later (SMTP 451)."""


def record_bounce(rt: Runtime, delivery_id: int, dsn: Dsn) -> None:
    """Apply one report to its delivery row (through the status queue, like a provider's callback,
    so a report that overtakes the worker's own record is ordered the same way) and, when the
    address does not exist (5.1.x), mark the contact's e-mail so no later message is sent to it."""
    with rt.session() as session:
        found = session.execute(select(Delivery.state, Delivery.provider_id, Delivery.contact_id, Delivery.address)
                                .where(Delivery.id == delivery_id, Delivery.channel == "email")).first()
        if found is None:
            return  # not an e-mail row of ours (the signature was good: a row deleted since)
        state, provider_id, contact_id, address = found
        if state in NOT_YET_RECORDED:
            raise NotYetRecorded(delivery_id)
        if not dsn.failed:
            log.info("e-mail delivery %d: %s %s (no change)", delivery_id, dsn.action, dsn.status)
            return
        if dsn.address_unknown and contact_id is not None:
            marked = bool(rowcount(session.execute(
                update(Contact)
                .where(Contact.id == contact_id, Contact.email == address, Contact.erased_at.is_(None),
                       Contact.email_bounced_at.is_(None))
                .values(email_bounced_at=utcnow(), email_bounce=f"{dsn.status} {dsn.diagnostic}"[:BOUNCE_MAX])
            )))
            if marked:
                audit(session, "system:bounces", "contact.email_bounced", ("contacts", contact_id),
                      delivery_id=delivery_id, status=dsn.status)
    enqueue(rt, "email", delivery_id, StatusEvent(
        provider_id=provider_id or "", status=f"bounced {dsn.status}", outcome=Outcome.FAILED,
        error_code=dsn.status))


RECORDED, IGNORED, KEPT = "recorded", "ignored", "kept"


def apply_report(rt: Runtime, raw: bytes, addresses: Iterable[str]) -> str:
    """One message that came back to ``addresses``, whether by SMTP (``hub bounces serve``) or from
    the bounce mailbox: RECORDED; IGNORED when it is not a delivery report on one of our e-mails
    (an auto-reply, a made-up return path); KEPT when it cannot be recorded now (the database, or
    a report ahead of the worker's own record), for the reporter or the next round to try again."""
    dsn = read_dsn(raw)
    ids = list(dict.fromkeys(i for i in (delivery_of(rt.settings.secret_keys, a) for a in addresses)
                             if i is not None))
    if dsn is None or not ids:
        log.warning("a message to the bounce domain that is not a report on one of our e-mails: ignored")
        return IGNORED
    try:
        for delivery_id in ids:
            record_bounce(rt, delivery_id, dsn)
    except (SQLAlchemyError, NotYetRecorded) as exc:
        log.warning("bounce report not recorded now, to be tried again: %r", exc)
        return KEPT
    return RECORDED


class BounceHandler:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if delivery_of(self.rt.settings.secret_keys, address) is None:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "replace")
        loop = asyncio.get_running_loop()
        verdict = await loop.run_in_executor(None, apply_report, self.rt, raw, envelope.rcpt_tos)
        if verdict == KEPT:
            return "451 4.3.0 Temporary local problem, try again later"  # the reporter retries
        if verdict == IGNORED:
            return "250 2.0.0 Ok: not a delivery report, ignored"
        return "250 2.0.0 Ok: recorded"


def bounce_server(rt: Runtime, host: str, port: int, tls_cert: str | None = None,
                  tls_key: str | None = None) -> Controller:
    """The server, not yet started (``.start()`` / ``.stop()``). With a certificate it offers
    STARTTLS: a report carries the original's headers (the resident's address, the subject), and
    reporting servers use TLS whenever it is offered."""
    tls = None
    if tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(tls_cert, tls_key or None)
    return Controller(BounceHandler(rt), hostname=host, port=port, server_hostname=rt.settings.bounce_domain or None,
                      data_size_limit=MAX_MESSAGE_BYTES, auth_require_tls=False, enable_SMTPUTF8=True,
                      ident="bousai-hub bounces", tls_context=tls)
