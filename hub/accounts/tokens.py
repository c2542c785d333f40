"""An operator's API tokens: issue (shown once), list, revoke. Issuing or revoking ends their sessions.

An operator manages their own tokens; an admin anyone's (:data:`hub.policy.Action.ADMINISTER`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.accounts import issue_token, load_operator
from hub.accounts.errors import AccountError, invalid, not_found
from hub.i18n import gettext as _
from hub.models import ApiToken, Operator, audit, utcnow
from hub.policy import Action, Principal

DEFAULT_DAYS = 90
MAX_DAYS = 366


def _owner(session: Session, actor: Principal, username: str | None) -> Operator:
    """The operator whose tokens are meant: the caller's own unless an admin names someone else."""
    if username is None or username == actor.username:
        if actor.id is None:
            raise not_found(_("担当者が見つかりません"))
        operator = load_operator(session, actor.id)
    else:
        if not actor.may(Action.ADMINISTER):
            raise AccountError(403, "forbidden", _("他の担当者のトークンは管理者だけが扱えます"))
        operator = session.scalar(select(Operator).where(Operator.username == username))
    if operator is None or operator.disabled_at is not None:
        raise not_found(_("担当者「{name}」は見つかりません").format(name=username or actor.username))
    return operator


def token_view(row: ApiToken, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    expired = row.expires_at is not None and row.expires_at <= now
    return {
        "id": row.id, "name": row.name, "operator": row.operator.username,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
        "active": row.revoked_at is None and not expired,
    }


def issue(session: Session, actor: Principal, name: str, days: int | None = DEFAULT_DAYS,
          username: str | None = None) -> tuple[str, dict[str, Any]]:
    """A new token for ``username`` (default: the caller); returns the token — the only time it is shown."""
    name = (name or "").strip()
    problems: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        problems["name"] = [_("名前を100文字以内で指定してください")]
    if days is None or not 1 <= days <= MAX_DAYS:
        problems["expires_in_days"] = [_("有効期限は1〜{n}日で指定してください").format(n=MAX_DAYS)]
    if problems:
        raise invalid(problems, _("入力内容に問題があります"))
    operator = _owner(session, actor, username)
    assert days is not None
    token = issue_token(session, operator, name, expires_at=utcnow() + timedelta(days=days),
                        actor=actor.username)
    operator.session_version += 1  # a new credential: every open session signs in again
    row = session.scalar(select(ApiToken).where(ApiToken.operator_id == operator.id).order_by(
        ApiToken.id.desc()).limit(1))
    assert row is not None
    return token, token_view(row)


def listing(session: Session, actor: Principal, username: str | None = None,
            everyone: bool = False) -> list[dict[str, Any]]:
    query = select(ApiToken).join(Operator).order_by(ApiToken.id)
    if everyone:
        if not actor.may(Action.ADMINISTER):
            raise AccountError(403, "forbidden", _("他の担当者のトークンは管理者だけが扱えます"))
    else:
        query = query.where(ApiToken.operator_id == _owner(session, actor, username).id)
    now = utcnow()
    return [token_view(row, now) for row in session.scalars(query)]


def revoke(session: Session, actor: Principal, token_id: int) -> dict[str, Any]:
    row = session.get(ApiToken, token_id)
    # Someone else's token is "not found" to a non-admin: ids of others' tokens are not confirmed.
    if row is None or (row.operator_id != actor.id and not actor.may(Action.ADMINISTER)):
        raise not_found(_("トークン {id} は見つかりません").format(id=token_id))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.operator.session_version += 1
        audit(session, actor.username, "token.revoke", row, operator=row.operator.username, name=row.name)
    return token_view(row)
