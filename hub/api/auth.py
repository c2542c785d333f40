"""Who is calling: a Bearer token (scripts, other systems) or the operator's web session (the composer).

Tokens are looked up by their SHA-256 (:mod:`hub.accounts`). The browser UI reuses the API with its
session cookie, so unsafe methods then also need the session's CSRF token in ``X-CSRF-Token`` — a
cookie alone must never be enough to send an alert. What the caller may do is decided by
:mod:`hub.policy`, the same policy the CLI and the web pages use.
"""

from __future__ import annotations

import hmac
import secrets

from flask import abort, g, request, session

from hub.accounts import load_operator, principal_of
from hub.accounts import principal_for_token as _principal_for_token
from hub.api import api_bp
from hub.api.common import ApiError, runtime
from hub.i18n import gettext as _
from hub.policy import Action, Forbidden, Principal, require

PUBLIC_ENDPOINTS = frozenset({"api.openapi_document"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def principal_for_token(token: str, username: str | None = None) -> Principal | None:
    with runtime().session() as s:
        principal = _principal_for_token(s, token, production=runtime().settings.is_production)
    if principal is not None and username is not None and principal.username != username:
        return None
    return principal


def principal_by_id(operator_id: int, session_version: int | None = None) -> Principal | None:
    """The operator of a session; ``None`` once the account is disabled or the session was ended."""
    with runtime().session() as s:
        operator = load_operator(s, operator_id)
        if operator is None:
            return None
        if session_version is not None and operator.session_version != session_version:
            return None
        return principal_of(operator)


def session_principal() -> Principal | None:
    # A session that still owes a new password or a TOTP enrolment may do nothing else (hub.web.login).
    if session.get("pending"):
        return None
    operator_id = session.get("operator_id")
    version = session.get("session_version")
    if not isinstance(operator_id, int) or not isinstance(version, int):
        return None
    return principal_by_id(operator_id, version)


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def csrf_ok(sent: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and sent and hmac.compare_digest(str(expected), sent))


def refuse_form_without_csrf() -> None:
    """``before_request`` of every blueprint of HTML forms: a POST without the page's token is a 400."""
    if request.method == "POST" and not csrf_ok(request.form.get("csrf_token")):
        abort(400, description=_("画面の有効期限が切れました。もう一度操作してください"))


def _from_session() -> Principal | None:
    if request.method not in SAFE_METHODS and not csrf_ok(request.headers.get("X-CSRF-Token")):
        return None
    return session_principal()


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


def authorize(action: Action, department_id: int | None = None) -> Principal:
    """The caller, if the policy lets them do ``action`` in the department; a 403 otherwise."""
    try:
        return require(current_principal(), action, department_id)
    except Forbidden as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc


def session_version_of(operator_id: int | None) -> int:
    """The version a new session is signed with; bumping it ends every older session."""
    with runtime().session() as s:
        operator = load_operator(s, operator_id) if operator_id is not None else None
        return operator.session_version if operator is not None else -1
