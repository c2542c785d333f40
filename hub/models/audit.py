"""Append-only audit log: who did what to which object, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.models.base import Base, BigId, UtcDateTime, utcnow


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def audit(session: Session, actor: str, action: str, subject: object, **detail: Any) -> AuditLog:
    """Record an action on a model instance, or on ``(type, id)`` for things that are not rows."""
    if isinstance(subject, tuple):
        subject_type, subject_id = str(subject[0]), str(subject[1])
    else:
        subject_type = str(getattr(type(subject), "__tablename__", type(subject).__name__))
        subject_id = str(getattr(subject, "id", ""))
    entry = AuditLog(actor=actor, action=action, subject_type=subject_type, subject_id=subject_id,
                     detail=detail)
    session.add(entry)
    return entry
