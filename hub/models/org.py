"""Departments, their sender identities, operator accounts, categories and areas."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Base, UtcDateTime, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"  # everything, every department
    APPROVER = "approver"  # may approve live free-text alerts of their department
    SENDER = "sender"  # composes and sends for their department
    VIEWER = "viewer"  # reads history and tallies


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Residents verify who is writing by the sender: each department sends under its own identity.
    sms_sender: Mapped[str | None] = mapped_column(String(32))
    voice_sender: Mapped[str | None] = mapped_column(String(32))
    email_sender: Mapped[str | None] = mapped_column(String(254))
    email_sender_name: Mapped[str | None] = mapped_column(String(100))

    operators: Mapped[list[Operator]] = relationship(back_populates="department")


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), default=Role.SENDER)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    department: Mapped[Department | None] = relationship(back_populates="operators")


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Area(Base):
    """A place residents subscribe to; ``code`` is a JMA area code (7-digit 市町村等 or other list)."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Warning and earthquake area lists differ (JMA's 個別コード表): keep which list a code belongs to.
    family: Mapped[str] = mapped_column(String(16), default="municipality")
