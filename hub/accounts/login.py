"""Logging in with a password (and a TOTP code), changing one's password, enrolling TOTP.

Used by the web login; every outcome is audited (never the password or the code). A session that
logged in but still owes something — a new password, or in production a TOTP enrolment for an
approver or admin — is *pending*: it may do that one thing and nothing else (:data:`PENDING_*`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.accounts import passwords, totp
from hub.accounts.throttle import LoginThrottle
from hub.config import Keys
from hub.i18n import gettext as _
from hub.models import Operator, audit

PENDING_PASSWORD = "password"
PENDING_TOTP = "totp"


@dataclass(frozen=True)
class LoginResult:
    operator_id: int | None = None
    session_version: int = 0
    pending: str | None = None
    error: str | None = None  # translated, for the form
    retry_after: int | None = None  # set when throttled

    @property
    def ok(self) -> bool:
        return self.operator_id is not None


def pending_step(operator: Operator, production: bool) -> str | None:
    if operator.must_change_password:
        return PENDING_PASSWORD
    if not operator.totp_secret and totp.required_for(operator, production):
        return PENDING_TOTP
    return None


def log_in(session: Session, throttle: LoginThrottle, username: str, password: str, code: str,
           address: str | None, production: bool, secret_key: Keys) -> LoginResult:
    """Check the credentials; the caller commits (a consumed TOTP step and the audit rows).

    ``secret_key``: HUB_SECRET_KEY and the previous keys, which seal the stored TOTP seeds.
    """
    username = username.strip()
    refusal = throttle.refusal(username, address)
    if refusal is not None:
        audit(session, username or "-", "login.throttled", ("login", username), scope=refusal.scope,
              address=address, retry_after=refusal.retry_after)
        minutes = (refusal.retry_after + 59) // 60
        text = _("ログインの失敗が続いたため一時的に受け付けていません。{n}分後にもう一度お試しください")
        return LoginResult(error=text.format(n=minutes), retry_after=refusal.retry_after)
    operator = session.scalar(select(Operator).options(selectinload(Operator.memberships))
                              .where(Operator.username == username))
    usable = operator is not None and operator.disabled_at is None
    ok, new_hash = passwords.verify(operator.password_hash if usable and operator else None, password)
    reason = None if ok else "password"
    if ok and operator is not None and operator.totp_secret and not totp.verify(operator, code, secret_key):
        reason = "totp"
    if reason is not None or operator is None:
        throttle.failed(username, address)
        audit(session, username or "-", "login.failed", ("login", username), reason=reason, address=address)
        message = (_("確認コードが正しくないか、使用済みです") if reason == "totp"
                   else _("ユーザー名かパスワードが正しくありません"))
        return LoginResult(error=message)
    if new_hash:
        operator.password_hash = new_hash  # parameters changed since it was made
    throttle.succeeded(username)
    pending = pending_step(operator, production)
    audit(session, operator.username, "login.ok", operator, address=address, pending=pending,
          rehashed=bool(new_hash))
    return LoginResult(operator_id=operator.id, session_version=operator.session_version, pending=pending)


def set_password(session: Session, operator: Operator, new_password: str, *, actor: str,
                 current: str | None = None) -> None:
    """Change the operator's own password (``current`` required); ends their other sessions."""
    if current is not None and not passwords.verify(operator.password_hash, current)[0]:
        raise passwords.WeakPassword(_("現在のパスワードが正しくありません"))
    passwords.check_strength(new_password, operator.username)
    if current is not None and current == new_password:
        raise passwords.WeakPassword(_("今までと違うパスワードにしてください"))
    operator.password_hash = passwords.hash_password(new_password)
    operator.must_change_password = False
    operator.session_version += 1
    audit(session, actor, "password.change", operator)


def log_out(session: Session, operator_id: int, address: str | None) -> None:
    operator = session.get(Operator, operator_id)
    if operator is not None:
        operator.session_version += 1  # the cookie the browser keeps is worthless from now on
        audit(session, operator.username, "logout", operator, address=address)
