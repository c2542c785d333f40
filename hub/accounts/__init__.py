"""Operator accounts: who a token or a session belongs to, as a :class:`hub.policy.Principal`."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.models import ApiToken, Operator, Role, audit, utcnow
from hub.policy import Principal

TOKEN_PREFIX = "hub_"


def token_hash(token: str) -> str:
    # A token carries 256 random bits, so a fast hash is enough (unlike a password).
    return hashlib.sha256(token.encode()).hexdigest()


def principal_of(operator: Operator) -> Principal:
    roles = MappingProxyType({m.department_id: Role(m.role) for m in operator.memberships})
    return Principal(
        id=operator.id, username=operator.username, display_name=operator.display_name,
        is_admin=operator.is_admin, roles=roles, department_id=operator.department_id,
        can_override=operator.can_override,
    )


def load_operator(session: Session, operator_id: int) -> Operator | None:
    operator = session.scalar(
        select(Operator).options(selectinload(Operator.memberships)).where(Operator.id == operator_id)
    )
    return operator if operator is not None and operator.disabled_at is None else None


def principal_for_token(session: Session, token: str, *, now: datetime | None = None,
                        production: bool = False) -> Principal | None:
    """The operator a live (unexpired, unrevoked) token belongs to; ``None`` for anything else.

    In production an approver or admin without TOTP is refused here too: until they enrol, a token
    (say, one an admin issued them) must not do what their login may not.
    """
    if not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    now = now or utcnow()
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    operator = load_operator(session, row.operator_id)
    if operator is None:
        return None
    if production and not operator.totp_secret:
        from hub.accounts.totp import required_for

        if required_for(operator, production):
            return None
    row.last_used_at = now
    return principal_of(operator)


def issue_token(session: Session, operator: Operator, name: str, *, expires_at: datetime | None,
                actor: str, token: str | None = None) -> str:
    """Store a new token's hash and return the token itself: the only time anyone sees it."""
    token = token or TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(operator=operator, name=name, token_hash=token_hash(token), expires_at=expires_at)
    session.add(row)
    session.flush()
    audit(session, actor, "token.issue", row, operator=operator.username, name=name,
          expires_at=expires_at.isoformat() if expires_at else None)
    return token
