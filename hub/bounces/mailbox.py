"""Bounce reports fetched from a mailbox: for a city whose bounce domain's MX is its own mail server.

Many municipal networks cannot take mail from the internet on the hub's host (``hub bounces serve``).
Their mail server files everything for ``HUB_BOUNCE_DOMAIN`` into one mailbox instead, and the hub
reads it over POP3 (``HUB_BOUNCE_MAILBOX_URL``, ``pop3s://user@host:995``): every minute on the
scheduler, or ``hub bounces fetch``. Each report is applied exactly as the SMTP receiver applies it
(``record_bounce``), and deleted from the mailbox only once it is recorded or known to be of no use:
a report the database cannot take now (or that overtook the worker's own record of the send) stays
for the next round. Deletions happen at the session's QUIT, so a dropped connection loses nothing;
a report fetched twice changes nothing the second time.
"""

from __future__ import annotations

import logging
import poplib
import ssl
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.utils import getaddresses
from urllib.parse import unquote, urlsplit

from hub.bounces.receiver import KEPT, MAX_MESSAGE_BYTES, RECORDED, apply_report
from hub.runtime import Runtime

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0
MESSAGES_PER_ROUND = 500  # one session stays short; the rest waits for the next round
# Where a mail server says which address it delivered a message to (a catch-all mailbox keeps the
# recipient's own address only here); the report's To: is the last resort.
DELIVERED_TO = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")
SCHEMES = {"pop3s": 995, "pop3": 110}


class MailboxError(Exception):
    """The mailbox could not be read (refused login, unreachable, not POP3): said, nothing lost."""


@dataclass
class FetchReport:
    recorded: int = 0  # reports applied to their rows, then deleted
    ignored: int = 0  # not a report about one of our e-mails (an auto-reply, a forged address): deleted
    kept: int = 0  # not recorded now (the database, or the send not yet recorded): fetched again later

    def as_dict(self) -> dict[str, int]:
        return {"recorded": self.recorded, "ignored": self.ignored, "kept": self.kept}


def check_mailbox_url(url: str, production: bool) -> str | None:
    """What is wrong with ``HUB_BOUNCE_MAILBOX_URL``, or None."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname or not parts.username:
        return "pop3s://ユーザー名@ホスト名:995 の形で指定してください"
    if production and parts.scheme != "pop3s":
        # The password and the reports (which carry residents' addresses) would cross the network in clear.
        return "本番環境では pop3s://（TLS）だけが使えます"
    return None


def fetch_bounces(rt: Runtime, limit: int = MESSAGES_PER_ROUND) -> FetchReport:
    """One round; what it did is also counted for /metrics (``hub_bounce_reports``, and
    ``hub_bounce_mailbox_errors``: a mailbox nobody can read must not go unnoticed)."""
    try:
        report = _fetch(rt, limit)
    except MailboxError:
        rt.provider_stats.count("email", "bounce_mailbox", "error")
        rt.provider_stats.flush()
        raise
    for outcome, n in report.as_dict().items():
        rt.provider_stats.count("email", "bounce_reports", outcome, n)
    rt.provider_stats.flush()
    return report


def _fetch(rt: Runtime, limit: int) -> FetchReport:
    settings = rt.settings
    parts = urlsplit(settings.bounce_mailbox_url)
    host, port = parts.hostname or "", parts.port or SCHEMES.get(parts.scheme, 995)
    client: poplib.POP3 | None = None
    try:
        if parts.scheme == "pop3s":
            context = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
            client = poplib.POP3_SSL(host, port, context=context, timeout=TIMEOUT_SECONDS)
        else:
            client = poplib.POP3(host, port, timeout=TIMEOUT_SECONDS)
        client.user(unquote(parts.username or ""))
        client.pass_(settings.bounce_mailbox_password)
    except (OSError, poplib.error_proto) as exc:  # ssl errors are OSErrors
        if client is not None:
            client.close()
        raise MailboxError(f"バウンス用メールボックス {host}:{port} を読めません: {exc}") from exc
    report = FetchReport()
    try:
        count, _ = client.stat()
        sizes = dict(_sizes(client))
        for number in range(1, min(count, limit) + 1):
            if sizes.get(number, 0) > MAX_MESSAGE_BYTES:
                log.warning("bounce mailbox: message %d is %d bytes, not a delivery report: deleted",
                            number, sizes[number])
                client.dele(number)
                report.ignored += 1
                continue
            raw = b"\r\n".join(client.retr(number)[1]) + b"\r\n"
            # Only signed return paths count: a catch-all's Delivered-To may name the mailbox itself.
            verdict = apply_report(rt, raw, _delivered_to(raw))
            if verdict == KEPT:
                report.kept += 1
                continue
            client.dele(number)
            if verdict == RECORDED:
                report.recorded += 1
            else:
                report.ignored += 1
        client.quit()  # the deletions happen here, after every report they remove was recorded
    except Exception as exc:
        client.close()  # without QUIT: nothing of this session is deleted
        if not isinstance(exc, (OSError, poplib.error_proto)):
            raise
        raise MailboxError("バウンス用メールボックスの読み取りが途中で切れました"
                           f"（次の回に読み直します）: {exc}") from exc
    return report


def _sizes(client: poplib.POP3) -> list[tuple[int, int]]:
    found = []
    for line in client.list()[1]:
        number, _, size = line.decode("ascii", "replace").partition(" ")
        if number.isdigit() and size.strip().isdigit():
            found.append((int(number), int(size)))
    return found


def _delivered_to(raw: bytes) -> list[str]:
    headers = message_from_bytes(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", policy=policy.compat32)
    return [address for name in DELIVERED_TO for _, address in getaddresses(headers.get_all(name, []))]
