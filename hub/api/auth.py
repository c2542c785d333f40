"""Who is calling: a Bearer token (scripts, other systems) or the operator's web session (the composer).

A token matches an operator when ``operators.api_token_hash == sha256(token)``; only the hash is
stored. The browser UI reuses the API with its session cookie, so unsafe methods then also need
the session's CSRF token in ``X-CSRF-Token`` — a cookie alone must never be enough to send an alert.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import g, request, session
from sqlalchemy import select

from hub.api import api_bp
from hub.api.common import ApiError, runtime
from hub.i18n import gettext as _
from hub.models import Operator, Role

PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SENDER_ROLES = frozenset({Role.ADMIN, Role.APPROVER, Role.SENDER})
APPROVER_ROLES = frozenset({Role.ADMIN, Role.APPROVER})


@dataclass(frozen=True)
class Principal:
    id: int
    username: str
    display_name: str
    role: str
    department_id: int | None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _principal(operator: Operator | None) -> Principal | None:
    if operator is None:
        return None
    return Principal(operator.id, operator.username, operator.display_name, operator.role,
                     operator.department_id)


def principal_for_token(token: str, username: str | None = None) -> Principal | None:
    if not token:
        return None
    with runtime().session() as s:
        operator = s.scalar(select(Operator).where(Operator.api_token_hash == token_hash(token)))
        if operator is not None and username is not None and operator.username != username:
            return None
        return _principal(operator)


def principal_by_id(operator_id: int) -> Principal | None:
    with runtime().session() as s:
        return _principal(s.get(Operator, operator_id))


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def csrf_ok(sent: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and sent and hmac.compare_digest(str(expected), sent))


def _from_session() -> Principal | None:
    operator_id = session.get("operator_id")
    if not isinstance(operator_id, int):
        return None
    if request.method not in SAFE_METHODS and not csrf_ok(request.headers.get("X-CSRF-Token")):
        return None
    return principal_by_id(operator_id)


@api_bp.before_request
def authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if header:
        principal = principal_for_token(token.strip()) if scheme.lower() == "bearer" else None
    else:
        principal = _from_session()
    if principal is None:
        raise ApiError(401, "unauthorized",
                       _("認証が必要です。Authorization: Bearer <APIトークン> を付けてください"))
    g.principal = principal


def current_principal() -> Principal:
    principal: Principal = g.principal
    return principal


def require_role(roles: frozenset[Role], what: str) -> Principal:
    principal = current_principal()
    if principal.role not in roles:
        raise ApiError(403, "forbidden", _("この操作（{what}）を行う権限がありません").format(what=_(what)))
    return principal
