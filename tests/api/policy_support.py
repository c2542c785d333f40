"""More operators for the authorization tests: a second department's sender and approver, an
override holder, and approvers with their own staff contacts (where notices reach them)."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from hub.accounts import issue_token
from hub.models import AuditLog, Contact, ContactKind, Delivery, Department, Membership, Message, Operator, Role
from hub.models.relay import Callout
from tests.api.support import bearer, create, create_approved

__all__ = ["bearer", "create", "create_approved"]

# username → (home department, role there, can_override)
EXTRA = {
    "kenko1": ("kenko", Role.SENDER, False),
    "kenko2": ("kenko", Role.APPROVER, False),
    "hero": ("bousai", Role.SENDER, True),
    "roamer": ("bousai", Role.SENDER, False),  # no home department (see seed_operators)
}
# Operators whose own staff contact receives approval requests and override notices.
REACHABLE = ("admin", "bousai2", "kenko2")


def line_id(username: str) -> str:
    return "U" + hashlib.md5(username.encode()).hexdigest()  # the shape of a LINE user id


def seed_operators(app: Flask) -> None:
    """After tests.api.support.seed: the extra operators (tokens ``<name>-token``) and contacts."""
    with app.extensions["hub"].session() as s:
        depts = {d.code: d for d in s.scalars(select(Department))}
        for name, (dept, role, can_override) in EXTRA.items():
            home = None if name == "roamer" else depts[dept]
            operator = Operator(username=name, display_name=name, department=home, can_override=can_override,
                                memberships=[Membership(department=depts[dept], role=role)])
            s.add(operator)
            s.flush()
            issue_token(s, operator, "test", expires_at=None, actor="test", token=f"{name}-token")
        for name in REACHABLE:
            operator = s.scalar(select(Operator).where(Operator.username == name))
            assert operator is not None
            contact = Contact(kind=ContactKind.STAFF, name=operator.display_name, department_id=operator.department_id,
                              email=f"{name}@city.example.jp", line_user_id=line_id(name), active=True)
            s.add(contact)
            s.flush()
            operator.contact_id = contact.id


def count(app: Flask, model: Any, *where: Any) -> int:
    with app.extensions["hub"].session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def snapshot(app: Flask) -> tuple[int, int, int, int]:
    """Rows that any send, follow-up, approval or call-out would add: compared before and after."""
    return (count(app, Message), count(app, Delivery), count(app, Callout),
            count(app, Message, Message.state == "awaiting_approval"))


def audit_actions(app: Flask, action: str) -> list[AuditLog]:
    with app.extensions["hub"].session() as s:
        rows = list(s.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))
        for row in rows:
            s.expunge(row)
        return rows
