"""What residents chose for themselves, dated: categories, areas and language, and where each came from.

``contact_categories``, ``contact_areas`` and ``contacts.language`` stay the live state the
audience query reads; a :class:`Subscription` row is the record behind each choice (given when,
through what, withdrawn when), like :class:`hub.models.contacts.Consent` is for channels.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UtcDateTime, utcnow

CATEGORY = "category"
AREA = "area"
LANGUAGE = "language"
KINDS = (CATEGORY, AREA, LANGUAGE)


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_contact_kind", "contact_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # category | area | language
    code: Mapped[str] = mapped_column(String(32))  # Category.code, Area.code or a language code
    given_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # e.g. "line:postback", "web:register", "web:preferences"
    source: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
