"""When a message needs a second person, decided by the department's policy and nothing else.

The category is not part of the decision any more: a sender who leaves the category out must not
be able to skip the check. What counts is whether the message is live (``mode actual``), whom it
can reach, and the policy of the department it is sent for (:class:`hub.models.ApprovalPolicy`):

* ``residents`` (the default): a live message whose audience can select residents, or that goes
  to a public channel (X, feeds: those reach the public whatever the audience), needs approval;
* ``all_live``: every live message, staff-only ones too.

Exercises and tests never need one. Trigger messages follow their rule (``approval: auto |
required``, applied in :mod:`triggers.actions`); the hub's own notices to operators need none; a
cancellation with its prepared text needs none (retracting must never wait), but any new words in
a follow-up are judged as the original would be.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from hub.compose.audience import Audience, contact_ids_query
from hub.compose.public import public_channels
from hub.models import ApprovalPolicy, Contact, ContactKind, Department, Message, Mode, MsgType, follows_up
from hub.runtime import Runtime

if TYPE_CHECKING:
    from hub.compose.messages import Composition

# Audience kinds whose query can select resident contacts now or later (a category or area gains
# subscribers between composing and sending); ``staff`` and ``department:`` only select staff.
# A CSV send's rows (``personal``) are residents' own addresses.
RESIDENT_KINDS = frozenset({"all", "residents", "area", "category", "personal"})
# Fixed sets of contacts: they reach residents exactly when a resident is among them.
FIXED_KINDS = frozenset({"list", "message"})

SYSTEM_SOURCE = "system"  # the hub's own notices to operators (approval requests, override notices)
TRIGGER_PREFIX = "trigger:"


def reaches_residents(session: Session, runtime: Runtime, audience: str, channels: list[str]) -> bool:
    if public_channels(channels):
        return True
    parsed = Audience.parse(audience)
    if parsed.kind in RESIDENT_KINDS:
        return True
    if parsed.kind in FIXED_KINDS:
        ids = contact_ids_query(parsed).subquery()
        return bool(session.scalar(select(exists().where(
            Contact.id.in_(select(ids.c.id)), Contact.kind == ContactKind.RESIDENT))))
    return False


def department_policy(session: Session, department_id: int | None) -> ApprovalPolicy:
    dept = session.get(Department, department_id) if department_id is not None else None
    return ApprovalPolicy(dept.approval) if dept is not None and dept.approval else ApprovalPolicy.RESIDENTS


def policy_requires(session: Session, runtime: Runtime, *, mode: str, department_id: int | None,
                    audience: str, channels: list[str]) -> bool:
    """Whether the department's policy wants a second person for a message like this."""
    if mode != Mode.ACTUAL:
        return False
    if department_policy(session, department_id) is ApprovalPolicy.ALL_LIVE:
        return True
    return reaches_residents(session, runtime, audience, channels)


def is_automatic(c: Composition) -> bool:
    """Trigger messages (their rule decides) and the hub's own notices (never held)."""
    return c.source == SYSTEM_SOURCE or c.source.startswith(TRIGGER_PREFIX)


def needs_approval(session: Session, runtime: Runtime, c: Composition) -> bool:
    """The one answer every front door gets: held for a second person, or not."""
    if is_automatic(c) or c.mode != Mode.ACTUAL:
        return False
    if c.references_id is not None and follows_up(c.msg_type):
        if c.msg_type == MsgType.CANCEL and c.prepared:
            return False  # the prepared retraction goes out at once
        original = session.get(Message, c.references_id)
        if original is not None:
            # New words in a follow-up: judged as the original would be, by its department's policy.
            return policy_requires(session, runtime, mode=original.mode, department_id=original.department_id,
                                   audience=original.audience, channels=list(original.channels))
    return policy_requires(session, runtime, mode=c.mode, department_id=c.department_id, audience=c.audience,
                           channels=c.channels)
