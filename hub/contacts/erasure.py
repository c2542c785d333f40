"""Erasing a person's details: a resident's own 「登録を削除する」, or an operator acting on a
deletion request (削除請求) in the console or with ``hub contacts erase``.

What goes: the name, phone, e-mail, LINE user id, external id and position; the chosen categories,
areas and list memberships; every live consent and choice (revoked, dated, audited, as any stop
is). Rows of sends still waiting for this person are skipped. What stays, because the city must
be able to show what it sent: the contact row itself (inactive, ``erased_at``, no name or
address), its consent and choice records (dates and sources), survey answers (a choice, no
address), and its delivery rows (and a staff member's call-out steps) with the address
masked (``+81 90-****-1234（消去済み #7）``).

A row a worker holds at that moment (sending, or being checked with its provider) keeps its
address until it settles, because asking the provider needs it; :func:`mask_settled_follow_ups`
(the sweeper, every tick) masks it then. A row a send's planning wrote from a read made just before
the erasure committed is caught by the batch's last check (``hub.dispatch.batches.held_back``).

Keyed hashes of the identifiers are kept (:class:`~hub.models.ErasedIdentity`) so that a CSV
import of the city's own list does not bring the person back without a consent dated after the
erasure (hub/contacts/importer.py); their key outlives HUB_SECRET_KEY (hub/contacts/fingerprints.py).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from channels.base import skip_message
from hub.config import Keys, as_keys
from hub.contacts.fingerprints import fingerprint_key
from hub.contacts.masking import mask_address
from hub.db import rowcount
from hub.models import (
    TERMINAL_STATES,
    Consent,
    Contact,
    Delivery,
    DeliveryState,
    ErasedIdentity,
    ErasureFollowUp,
    Subscription,
    audit,
    utcnow,
)
from hub.models.base import table_of
from hub.models.contacts import recipient_list_members
from hub.models.relay import AttemptState, CalloutTarget, ContactAttempt

ERASED_REASON = "erased"
REASON_MAX = 80  # an operator's reason; with "operator:" it fits a consent's revoked_source (100)
ERASED_MARK = "（消去済み #"
EXPIRED_MARK = "（保存期間経過 #"
IN_HAND = (DeliveryState.SENDING, DeliveryState.CHECKING)
_DELIVERIES = table_of(Delivery)
_ATTEMPTS = table_of(ContactAttempt)
# RETRY too: the relay engine never contacts an inactive contact again, so the step is not resent.
SETTLED_ATTEMPTS = (AttemptState.SENT, AttemptState.FAILED, AttemptState.SKIPPED, AttemptState.UNKNOWN,
                    AttemptState.NO_ANSWER, AttemptState.RETRY)


@dataclass(frozen=True)
class Erasure:
    contact_id: int
    already: bool = False  # erased before: nothing changed
    skipped: int = 0  # rows of sends still waiting, now skipped
    masked: int = 0  # settled delivery rows whose address is now masked
    in_hand: int = 0  # rows a worker holds: masked by the sweeper once settled

    def as_dict(self) -> dict[str, int | bool]:
        return {"contact_id": self.contact_id, "already": self.already, "skipped": self.skipped,
                "masked": self.masked, "in_hand": self.in_hand}


def erased_address(address: str, delivery_id: int, mark: str = ERASED_MARK) -> str:
    """Enough to show which kind of address a copy went to, nothing to reach anyone with; the row's
    id keeps (message, channel, address) unique."""
    return f"{mask_address(address) or ''}{mark}{delivery_id}）"[:254]


def is_masked(address: str) -> bool:
    return ERASED_MARK in address or EXPIRED_MARK in address


def identity_digests(secret_key: str, contact: Contact) -> list[str]:
    """The keyed hashes of a contact's identifiers, as :func:`identity_digest` makes them."""
    pairs = (("external_id", contact.external_id), ("phone", contact.phone),
             ("email", contact.email and contact.email.lower()), ("line", contact.line_user_id))
    return [identity_digest(secret_key, kind, value) for kind, value in pairs if value]


def identity_digest(secret_key: str, kind: str, value: str) -> str:
    return hmac.new(secret_key.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def lookup_keys(session: Session, secret_key: Keys) -> list[str]:
    """The keys an erased person's fingerprints may be made with: the fingerprint key, and each
    HUB_SECRET_KEY for fingerprints made before it existed. Opened once by a caller that looks up
    many people (a CSV import), not once per person."""
    keys = list(as_keys(secret_key))
    own = fingerprint_key(session, keys, create=False)
    return ([own] if own else []) + keys


def erased_on(session: Session, keys: Sequence[str], identifiers: dict[str, str | None]) -> datetime | None:
    """When a person with any of these identifiers (kind → normalised value) was last erased, by
    their fingerprints under ``keys`` (:func:`lookup_keys`)."""
    digests = [identity_digest(key, kind, value.lower() if kind == "email" else value)
               for key in keys for kind, value in identifiers.items() if value]
    if not digests:
        return None
    found: datetime | None = session.scalar(
        select(func.max(ErasedIdentity.erased_at)).where(ErasedIdentity.digest.in_(digests)))
    return found


def erase_contact(session: Session, contact: Contact, secret_key: Keys, source: str, actor: str) -> Erasure:
    """Erase ``contact`` in the caller's transaction; audited as ``contact.erased`` (no address in it)."""
    if contact.erased_at is not None:
        return Erasure(contact.id, already=True)
    now = utcnow()
    revoked = session.execute(
        update(Consent).where(Consent.contact_id == contact.id, Consent.revoked_at.is_(None))
        .values(revoked_at=now, revoked_source=source[:100]).returning(Consent.channel)
        .execution_options(synchronize_session="fetch")).scalars().all()
    session.execute(update(Subscription).where(Subscription.contact_id == contact.id,
                                               Subscription.revoked_at.is_(None)).values(revoked_at=now))
    contact.categories.clear()
    contact.areas.clear()
    session.execute(delete(recipient_list_members).where(recipient_list_members.c.contact_id == contact.id))
    skipped = rowcount(session.execute(
        update(Delivery).where(Delivery.contact_id == contact.id, Delivery.state == DeliveryState.PENDING)
        .values(state=DeliveryState.SKIPPED, reason=ERASED_REASON, next_attempt_at=None, updated_at=now,
                error=skip_message(ERASED_REASON))
        .execution_options(synchronize_session=False)))
    masked = mask_rows(session, session.execute(select(Delivery.id, Delivery.address).where(
        Delivery.contact_id == contact.id, Delivery.state.in_(TERMINAL_STATES))).all())
    in_hand = list(session.scalars(select(Delivery.id).where(Delivery.contact_id == contact.id,
                                                            Delivery.state.in_(IN_HAND))))
    if in_hand:
        mask_when_settled(session, in_hand)
    _mask_call_out_attempts(session, contact.id)
    key = fingerprint_key(session, secret_key, create=True) or as_keys(secret_key)[0]
    for digest in identity_digests(key, contact):
        if session.get(ErasedIdentity, digest) is None:
            session.add(ErasedIdentity(digest=digest, erased_at=now))
        else:
            session.execute(update(ErasedIdentity).where(ErasedIdentity.digest == digest).values(erased_at=now))
    contact.name, contact.position = "", None
    contact.phone = contact.email = contact.line_user_id = contact.external_id = None
    contact.active, contact.erased_at = False, now
    result = Erasure(contact.id, skipped=skipped, masked=masked, in_hand=len(in_hand))
    audit(session, actor, "contact.erased", contact, source=source[:100], channels=sorted(set(revoked)),
          skipped=skipped, masked=masked, in_hand=len(in_hand))
    return result


def _mask_call_out_attempts(session: Session, contact_id: int) -> None:
    """A staff member's call-out steps that are over (a step a worker is sending right now keeps
    its address: the worker may have to ask the provider about it)."""
    attempts = session.execute(
        select(ContactAttempt.id, ContactAttempt.address)
        .join(CalloutTarget, CalloutTarget.id == ContactAttempt.target_id)
        .where(CalloutTarget.contact_id == contact_id, ContactAttempt.address.is_not(None),
               ContactAttempt.state.in_(SETTLED_ATTEMPTS))).all()
    mask_rows(session, attempts, table=_ATTEMPTS)


def mask_when_settled(session: Session, delivery_ids: Sequence[int]) -> None:
    """Have the sweeper mask these rows' addresses once they settle."""
    known = set(session.scalars(select(ErasureFollowUp.delivery_id)
                                .where(ErasureFollowUp.delivery_id.in_(delivery_ids))))
    fresh = [{"delivery_id": i} for i in delivery_ids if i not in known]
    if fresh:
        session.execute(insert(ErasureFollowUp), fresh)


def mask_settled_follow_ups(session: Session) -> int:
    """Mask the addresses of erased people's rows that have settled since; returns how many."""
    settled = select(Delivery.id, Delivery.address).join(
        ErasureFollowUp, ErasureFollowUp.delivery_id == Delivery.id).where(Delivery.state.in_(TERMINAL_STATES))
    rows = session.execute(settled).all()
    masked = mask_rows(session, rows)
    if rows:
        session.execute(delete(ErasureFollowUp).where(ErasureFollowUp.delivery_id.in_([r.id for r in rows])))
    # A row whose delivery is gone (its message deleted) has nothing left to mask.
    session.execute(delete(ErasureFollowUp).where(
        ~select(Delivery.id).where(Delivery.id == ErasureFollowUp.delivery_id).exists()))
    return masked


def mask_rows(session: Session, rows: Sequence[Row[int, str | None]], mark: str = ERASED_MARK,
              table: Table = _DELIVERIES) -> int:
    """Mask each row's (id, address) not masked yet, in ``table``; returns how many changed."""
    changes = [{"row_id": r.id, "masked": erased_address(r.address, r.id, mark)} for r in rows
               if r.address and not is_masked(r.address)]
    if changes:
        session.execute(update(table).where(table.c.id == bindparam("row_id"))
                        .values(address=bindparam("masked")), changes,
                        execution_options={"synchronize_session": False})
    return len(changes)
