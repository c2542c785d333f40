"""Residents' answers to the question a message asked (hub/residents/questions.py).

One current answer per resident and message: a later answer replaces the earlier one (people
answer 「いいえ」 and then leave for the shelter), and every answer, with the one it replaced, is
in the audit log (``survey.answer``), which is the history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.models.base import Base, UtcDateTime, utcnow


class ResidentAnswer(Base):
    __tablename__ = "resident_answers"
    __table_args__ = (
        UniqueConstraint("message_id", "contact_id"),
        Index("ix_resident_answers_message", "message_id", "choice_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    choice_key: Mapped[str] = mapped_column(String(1))
    channel: Mapped[str] = mapped_column(String(16))  # sms | line | web (the signed answer page)
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)  # the current answer's
    first_answered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    changes: Mapped[int] = mapped_column(Integer, default=0)  # how often the resident changed it
