"""Departments, their sender identities, operator accounts and their roles, categories and areas."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import Base, UtcDateTime, utcnow


class Role(enum.StrEnum):
    """What an operator may do in one department; ``ADMIN`` is global (``Operator.is_admin``)."""

    ADMIN = "admin"  # everything, every department, and administration
    APPROVER = "approver"  # sends, and approves live messages of the department (not their own)
    SENDER = "sender"  # composes and sends for the department, manages its contacts, starts call-outs
    VIEWER = "viewer"  # reads the department's history and tallies, without recipients' addresses


class ApprovalPolicy(enum.StrEnum):
    """When a department's live message needs a second person before it goes out."""

    RESIDENTS = "residents"  # every live message that reaches residents (the default)
    ALL_LIVE = "all_live"  # every live message, staff-only ones too


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
    # Which SMS gateway carries the department's SMS (NULL: HUB_SMS_GATEWAY) and which takes over
    # when its circuit is open (NULL: HUB_SMS_FAILOVER_GATEWAY; "none": no failover).
    sms_gateway: Mapped[str | None] = mapped_column(String(16))
    sms_failover_gateway: Mapped[str | None] = mapped_column(String(16))
    # The department's Karaden サービス設定ID: its sender identity on that gateway.
    karaden_service_id: Mapped[int | None] = mapped_column(Integer)
    # The department's quiet hours for everyday notices, "21:00-08:00" (Japan time); NULL: the hub's
    # HUB_QUIET_HOURS; "none": no window (hub/compose/quiet.py).
    quiet_hours: Mapped[str | None] = mapped_column(String(16))
    approval: Mapped[str] = mapped_column(String(16), default=ApprovalPolicy.RESIDENTS,
                                          server_default=ApprovalPolicy.RESIDENTS)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    memberships: Mapped[list[Membership]] = relationship(back_populates="department")


class Operator(Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The single-officer emergency override: held by few, audited loudly, announced to approvers.
    can_override: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The department a message is sent for when the operator does not name one (CLI, API).
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # The operator's own staff contact: where approval requests and override notices reach them.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Sealed with a key derived from HUB_SECRET_KEY (hub.accounts.sealing): a database copy makes no codes.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    # The time-step of the last accepted code: a code (or an older one) is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Shown once at enrolment; becomes ``totp_secret`` only when a code made from it is confirmed.
    totp_pending_secret: Mapped[str | None] = mapped_column(String(255))
    # Bumped on logout, password, token or role change: every session signed with an older one ends.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    department: Mapped[Department | None] = relationship()
    memberships: Mapped[list[Membership]] = relationship(back_populates="operator", cascade="all, delete-orphan")
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="operator", cascade="all, delete-orphan")


class Membership(Base):
    """An operator's role in one department."""

    __tablename__ = "memberships"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))

    operator: Mapped[Operator] = relationship(back_populates="memberships")
    department: Mapped[Department] = relationship(back_populates="memberships")


class ApiToken(Base):
    """A named, expiring API token; only its SHA-256 is stored (the token is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    operator: Mapped[Operator] = relationship(back_populates="tokens")


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # Residents read it in their language (code → name); the Japanese ``name`` stands in for a missing one.
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Area(Base):
    """A place residents subscribe to; ``code`` is a JMA area code (7-digit 市町村等 or other list)."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")  # as Category.names
    # Warning and earthquake area lists differ (JMA's 個別コード表): keep which list a code belongs to.
    family: Mapped[str] = mapped_column(String(16), default="municipality")
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
