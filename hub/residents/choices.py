"""A resident's own choices — categories, areas, language, consent per channel — changed in one place.

Every front door (LINE postbacks, the registration page, the preferences page) goes through here,
so each change is applied to the live state the audience query reads (``contact_categories``,
``contact_areas``, ``contacts.language``, ``consents``), recorded as dated
:class:`~hub.models.residents.Subscription` rows with its source, and audited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Area, Category, Consent, Contact, audit, utcnow
from hub.models.residents import AREA, CATEGORY, LANGUAGE, Subscription
from hub.residents.languages import JAPANESE, LANGUAGES, is_known

# Where a choice came from (Subscription.source, Consent.source).
LINE_POSTBACK = "line:postback"
WEB_REGISTER = "web:register"
WEB_PREFERENCES = "web:preferences"


@dataclass(frozen=True)
class Choices:
    categories: frozenset[str]  # Category.code
    areas: frozenset[str]  # Area.code
    language: str


def actor_of(contact: Contact) -> str:
    """The audit actor for what a resident did themselves (they have no account)."""
    return f"resident:{contact.id}"


def offered_categories(session: Session) -> list[Category]:
    """What a resident may choose: enabled rows only (a disabled one stays for history)."""
    return list(session.scalars(select(Category).where(Category.disabled_at.is_(None)).order_by(Category.id)))


def offered_areas(session: Session) -> list[Area]:
    return list(session.scalars(select(Area).where(Area.disabled_at.is_(None)).order_by(Area.id)))


def current(contact: Contact) -> Choices:
    return Choices(frozenset(c.code for c in contact.categories), frozenset(a.code for a in contact.areas),
                   contact.language or JAPANESE)


def choose(session: Session, contact: Contact, *, categories: Iterable[str] | None = None,
           areas: Iterable[str] | None = None, language: str | None = None, source: str) -> dict[str, object]:
    """Make the given parts of the contact's choices exactly these (None: leave that part alone).

    Unknown or disabled codes are ignored, so a forged form or postback cannot name one. Returns
    what changed (also what is audited); nothing is recorded when nothing changed.
    """
    changes: dict[str, object] = {}
    if categories is not None:
        offered = {c.code: c for c in offered_categories(session)}
        wanted = {offered[code] for code in categories if code in offered}
        # A disabled category the resident still holds is kept: it is not offered, so not unchosen.
        kept = {c for c in contact.categories if c.disabled_at is not None}
        added, removed = _replace(session, contact, CATEGORY, contact.categories, wanted | kept, source)
        if added or removed:
            changes["categories"] = {"added": added, "removed": removed}
    if areas is not None:
        offered_a = {a.code: a for a in offered_areas(session)}
        wanted_a = {offered_a[code] for code in areas if code in offered_a}
        kept_a = {a for a in contact.areas if a.disabled_at is not None}
        added, removed = _replace(session, contact, AREA, contact.areas, wanted_a | kept_a, source)
        if added or removed:
            changes["areas"] = {"added": added, "removed": removed}
    if language is not None and is_known(language) and language != (contact.language or JAPANESE):
        changes["language"] = {"from": contact.language or JAPANESE, "to": language}
        _revoke(session, contact, LANGUAGE, None)
        session.add(Subscription(contact_id=contact.id, kind=LANGUAGE, code=language, source=source))
        contact.language = language
    if changes:
        audit(session, actor_of(contact), "preferences.changed", contact, source=source, **changes)
    return changes


def _replace(session: Session, contact: Contact, kind: str, live: list[Any], wanted: set[Any],
             source: str) -> tuple[list[str], list[str]]:
    """Make ``live`` (the contact's categories or areas) hold exactly ``wanted``; (added, removed) codes."""
    have = set(live)
    added = sorted(wanted - have, key=lambda row: row.id)
    removed = sorted(have - wanted, key=lambda row: row.id)
    for row in removed:
        live.remove(row)
        _revoke(session, contact, kind, row.code)
    for row in added:
        live.append(row)
        session.add(Subscription(contact_id=contact.id, kind=kind, code=row.code, source=source))
    return [r.code for r in added], [r.code for r in removed]


def _revoke(session: Session, contact: Contact, kind: str, code: str | None) -> None:
    query = select(Subscription).where(Subscription.contact_id == contact.id, Subscription.kind == kind,
                                       Subscription.revoked_at.is_(None))
    if code is not None:
        query = query.where(Subscription.code == code)
    now = utcnow()
    for record in session.scalars(query):
        record.revoked_at = now


def choice_history(session: Session, contact_id: int) -> list[dict[str, Any]]:
    """Every choice the resident made, newest first, with what it names (the contact page shows it)."""
    names = {(CATEGORY, c.code): c.name for c in session.scalars(select(Category))}
    names |= {(AREA, a.code): a.name for a in session.scalars(select(Area))}
    names |= {(LANGUAGE, code): name for code, name in LANGUAGES.items()}
    return [{"kind": r.kind, "code": r.code, "name": names.get((r.kind, r.code), r.code), "given_at": r.given_at,
             "revoked_at": r.revoked_at, "source": r.source}
            for r in session.scalars(select(Subscription).where(Subscription.contact_id == contact_id)
                                     .order_by(Subscription.given_at.desc(), Subscription.id.desc()))]


def has_consent(contact: Contact, channel: str) -> bool:
    return any(c.channel == channel and c.revoked_at is None for c in contact.consents)


def give_consent(session: Session, contact: Contact, channel: str, source: str) -> bool:
    """A new dated consent for ``channel``, unless one is live already; True when one was added."""
    if has_consent(contact, channel):
        return False
    contact.consents.append(Consent(channel=channel, source=source))
    contact.active = True
    audit(session, actor_of(contact), "consent.given", contact, channel=channel, source=source)
    return True


def stop_everything(session: Session, contact: Contact, source: str) -> list[str]:
    """Revoke every live consent (every channel) the way every opt-out does (``optout.revoke``:
    dated, with ``source``, audited per channel): nothing more reaches this resident until they
    give consent again. Returns the channels stopped."""
    from hub.residents.optout import revoke

    stopped = sorted({c.channel for c in contact.consents if c.revoked_at is None})
    for channel in stopped:
        revoke(session, Contact.id == contact.id, channel, source, actor=actor_of(contact))
    return stopped
