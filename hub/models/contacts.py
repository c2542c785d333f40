"""Residents and staff, their per-channel addresses, subscriptions and consent records."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Table, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Base, BigId, UtcDateTime, utcnow
from hub.models.org import Area, Category, Department


class ContactKind(enum.StrEnum):
    RESIDENT = "resident"
    STAFF = "staff"


contact_categories = Table(
    "contact_categories",
    Base.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True),
)

contact_areas = Table(
    "contact_areas",
    Base.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("area_id", ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True),
)

recipient_list_members = Table(
    "recipient_list_members",
    Base.metadata,
    Column("list_id", ForeignKey("recipient_lists.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (Index("ix_contacts_kind_active", "kind", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The caller's own identifier (住民番号, 職員番号, CSV key): re-importing a CSV updates, never duplicates.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=ContactKind.RESIDENT)
    name: Mapped[str] = mapped_column(String(100), default="")
    language: Mapped[str] = mapped_column(String(8), default="ja")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    position: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    line_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Exercise (訓練) messages only ever reach contacts who signed up for drills.
    exercise_participant: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set when the person's details were erased (hub/contacts/erasure.py): the row stays, without a
    # name or address, so its consents, answers and delivery history keep pointing at someone.
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set when a remote server reported the e-mail address unknown (a 5.1.x bounce, hub/bounces):
    # no more e-mail goes to it until the address changes, which clears both.
    email_bounced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    email_bounce: Mapped[str | None] = mapped_column(String(240))  # "5.1.1 <the server's words>"

    def clear_email_bounce(self) -> None:
        self.email_bounced_at = self.email_bounce = None

    department: Mapped[Department | None] = relationship()
    categories: Mapped[list[Category]] = relationship(secondary=contact_categories)
    areas: Mapped[list[Area]] = relationship(secondary=contact_areas)
    consents: Mapped[list[Consent]] = relationship(back_populates="contact", cascade="all, delete-orphan")


class Consent(Base):
    """Proof that a resident agreed to be contacted on a channel; numbers get reassigned, so it is dated."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_contact_channel", "contact_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(100))  # e.g. "csv:health-2026.csv", "line:follow", "web form"
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Where the stop came from, as ``source`` says where the consent came from: "sms:停止",
    # "email:one-click", "email:page", "line:unfollow", "web:preferences", an operator's name.
    revoked_source: Mapped[str | None] = mapped_column(String(100))

    contact: Mapped[Contact] = relationship(back_populates="consents")


class RecipientList(Base):
    """A named set of contacts, e.g. the people of one CSV given to ``hub send --audience csv:FILE``."""

    __tablename__ = "recipient_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    members: Mapped[list[Contact]] = relationship(secondary=recipient_list_members)


class ErasedIdentity(Base):
    """A keyed hash (HMAC-SHA256 under the fingerprint key, hub/contacts/fingerprints.py) of one
    identifier of an erased person: ``external_id:…``, ``phone:…``, ``email:…`` or ``line:…``. It
    lets a later CSV import recognise the person without the hub keeping who they were."""

    __tablename__ = "erased_identities"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SealedKey(Base):
    """A random key the hub made for itself, stored sealed with HUB_SECRET_KEY (hub/accounts/sealing.py)
    so that a copy of the database alone cannot use it; ``hub db upgrade`` seals it again after a
    rotation. The one today: ``erasure_fingerprints`` (hub/contacts/fingerprints.py)."""

    __tablename__ = "sealed_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ErasureFollowUp(Base):
    """A delivery of an erased person that was in a worker's hands at the erasure (sending, being
    checked with its provider): its address is needed until it settles, then masked by the sweeper."""

    __tablename__ = "erasure_follow_ups"

    delivery_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)


@event.listens_for(Contact.email, "set")
def _new_address_has_no_bounce(contact: Contact, value: str | None, old: object, _initiator: object) -> None:
    # Whoever changes the address (the resident, a sender, an import) gets it tried again.
    if value != old:
        contact.clear_email_bounce()
