"""Opt-out that always works: a resident's STOP by SMS, an e-mail's one-click unsubscribe, a LINE block.

Every way out ends in :func:`revoke`: the channel's live consents are marked revoked with the
date and where the stop came from (``revoked_source``), and each is audited. Planning only
reaches a resident with a live consent, so nothing more goes to them on that channel until they
give a new consent themselves (registration page, LINE follow, or a CSV row carrying a consent
dated after the stop: hub/contacts/importer.py).

Inbound SMS keywords are compared after NFKC, case folding and removing spaces and trailing
punctuation, so ``ＳＴＯＰ``, ``stop。`` and ``配信 停止`` all count.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from hub.models import Consent, Contact, audit, utcnow
from hub.residents.inbound import InboundSms
from hub.runtime import Runtime

log = logging.getLogger(__name__)

# STOP and the words Twilio and the carriers' industry list treat as STOP, plus the Japanese ones.
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit",
                        "停止", "配信停止", "ストップ", "すとっぷ", "ていし"})
REGISTER_WORDS = frozenset({"登録", "とうろく", "トウロク", "register", "start"})
REGISTER_PATH = "/register"  # the public registration page

_TRAILING = re.compile(r"[\s.!?。、！？．]+$")

STOP_REPLY = {
    "ja": "配信停止を受け付けました。この番号へのSMSでのお知らせを停止します。再開するには「登録」と返信してください。",
    "en": "You are unsubscribed: no more text messages will be sent to this number. Reply REGISTER to sign up again.",
}
REGISTER_REPLY = {
    "ja": "お知らせの配信登録はこちらから（分類・地域・言語を選べます）: {url}",
    "en": "Sign up for notices here (choose topics, area and language): {url}",
}


def keyword(body: str) -> str:
    """The message as a keyword: NFKC, case folded, without spaces or trailing punctuation."""
    text = unicodedata.normalize("NFKC", body).casefold()
    return _TRAILING.sub("", "".join(text.split()))


def _language(word: str) -> str:
    # Answer in the language the keyword was written in: an English STOP gets English.
    return "en" if word.isascii() else "ja"


def revoke(session: Session, contacts: ColumnElement[bool], channel: str, source: str, actor: str) -> list[int]:
    """Revoke ``channel``'s live consents of the contacts ``contacts`` selects; audit each.

    Returns the contacts whose consent this call revoked (empty when they had none left): one
    UPDATE … RETURNING, so of two concurrent stops only the first sees the rows and confirms.
    """
    source = source[:100]
    revoked = session.execute(
        update(Consent)
        .where(Consent.channel == channel, Consent.revoked_at.is_(None),
               Consent.contact_id.in_(select(Contact.id).where(contacts)))
        .values(revoked_at=utcnow(), revoked_source=source)
        .returning(Consent.contact_id)
        .execution_options(synchronize_session="fetch")
    ).scalars().all()
    contact_ids = sorted(set(revoked))
    for contact_id in contact_ids:
        audit(session, actor, "consent.revoked", ("contacts", contact_id), channel=channel, source=source)
    return contact_ids


def stop_reply(session: Session, runtime: Runtime, sms: InboundSms) -> str | None:
    """STOP / 停止 / 配信停止: revoke the SMS consent of every contact with that number.

    Confirmed once: only when this message revoked something. A second STOP, or the same
    webhook retried, finds nothing live and gets no answer (a resident is never texted twice for
    one stop). A number we hold no consent for gets no answer either: nothing is sent to it.
    """
    word = keyword(sms.body)
    if word not in STOP_WORDS:
        return None
    revoked = revoke(session, Contact.phone == sms.from_number, "sms", f"sms:{sms.body.strip()[:20]}",
                     actor=f"sms:{sms.provider_id}")
    log.info("SMS stop %s: %d consent(s) revoked", sms.provider_id, len(revoked))
    return STOP_REPLY[_language(word)] if revoked else None


def register_reply(session: Session, runtime: Runtime, sms: InboundSms) -> str | None:
    """登録 / とうろく / REGISTER: the public registration page's address."""
    word = keyword(sms.body)
    if word not in REGISTER_WORDS:
        return None
    url = runtime.settings.public_url.rstrip("/") + REGISTER_PATH
    return REGISTER_REPLY[_language(word)].format(url=url)
