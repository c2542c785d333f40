"""Administration of operator accounts (admins only): create, edit, disable, roles, flags, passwords.

Every change is audited with what changed (never a password) and bumps the operator's session
version when it changes what they may do, so their open sessions end and they sign in again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hub.accounts import passwords
from hub.accounts import validate as v
from hub.accounts.errors import AccountError, conflict, invalid, not_found
from hub.i18n import gettext as _
from hub.models import Contact, Department, Membership, Operator, Role, audit, utcnow
from hub.policy import Action, Principal, require

GRANTABLE = (Role.VIEWER, Role.SENDER, Role.APPROVER)  # admin is a flag, not a department role
EDITABLE = ("display_name", "department", "contact_id", "is_admin", "can_override", "disabled")


def administer(actor: Principal) -> Principal:
    try:
        return require(actor, Action.ADMINISTER)
    except PermissionError as exc:
        raise AccountError(403, "forbidden", str(exc)) from exc


def operator_view(operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.id, "username": operator.username, "display_name": operator.display_name,
        "is_admin": operator.is_admin, "can_override": operator.can_override,
        "department": operator.department.code if operator.department else None,
        "contact_id": operator.contact_id,
        "roles": {m.department.code: m.role for m in sorted(operator.memberships, key=lambda m: m.department_id)},
        "disabled": operator.disabled_at is not None,
        "must_change_password": operator.must_change_password,
        "totp_enrolled": operator.totp_secret is not None,
        "created_at": operator.created_at.isoformat() if operator.created_at else None,
    }


def find_operator(session: Session, username: str) -> Operator:
    if not isinstance(username, str):
        raise invalid({"username": [_("ユーザー名は文字列で指定してください")]}, _("入力内容に問題があります"))
    operator = session.scalar(select(Operator).options(selectinload(Operator.memberships))
                              .where(Operator.username == username))
    if operator is None:
        raise not_found(_("担当者「{name}」は見つかりません").format(name=username))
    return operator


def department_by_code(session: Session, code: str, *, usable: bool = True) -> Department:
    if not isinstance(code, str):  # JSON true or 5 compared with a text column: a database error (500)
        raise invalid({"department": [_("部署はコード（文字列）で指定してください")]}, _("入力内容に問題があります"))
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None or (usable and dept.disabled_at is not None):
        raise not_found(_("部署「{value}」は登録されていないか、無効です").format(value=code))
    return dept


def list_operators(session: Session, actor: Principal) -> list[dict[str, Any]]:
    administer(actor)
    rows = session.scalars(select(Operator).options(selectinload(Operator.memberships)).order_by(Operator.id))
    return [operator_view(o) for o in rows]


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Operator).where(
        Operator.is_admin.is_(True), Operator.disabled_at.is_(None))) or 0


def create_operator(session: Session, actor: Principal, username: str, display_name: str, *,
                    department: str | None = None, contact_id: int | None = None, is_admin: bool = False,
                    can_override: bool = False, roles: Mapping[str, str] | None = None
                    ) -> tuple[dict[str, Any], str]:
    """A new account with a one-time password (returned: shown once, changed at first login)."""
    if not actor.is_system:
        administer(actor)
    problems: v.Problems = {}
    v.username(username, problems)
    display_name = v.name(display_name, problems, "display_name")
    if problems:
        raise invalid(problems, _("入力内容に問題があります"))
    if session.scalar(select(Operator.id).where(Operator.username == username)) is not None:
        raise conflict(_("ユーザー名「{name}」はすでに使われています").format(name=username))
    home = department_by_code(session, department) if department else None
    _check_contact(session, contact_id)
    secret = passwords.one_time_password()
    operator = Operator(username=username, display_name=display_name, department=home, contact_id=contact_id,
                        is_admin=is_admin, can_override=can_override, must_change_password=True,
                        password_hash=passwords.hash_password(secret))
    session.add(operator)
    session.flush()
    audit(session, actor.username, "operator.create", operator, username=username, display_name=display_name,
          department=department, contact_id=contact_id, is_admin=is_admin, can_override=can_override)
    for code, role in (roles or {}).items():
        _grant(session, actor, operator, code, role)
    session.flush()
    session.refresh(operator)
    return operator_view(operator), secret


def _check_contact(session: Session, contact_id: object) -> None:
    if contact_id is not None and (not isinstance(contact_id, int) or isinstance(contact_id, bool)):
        raise invalid({"contact_id": [_("連絡先の番号を整数で指定してください")]}, _("入力内容に問題があります"))
    if contact_id is not None and session.get(Contact, contact_id) is None:
        raise not_found(_("連絡先 {id} は見つかりません").format(id=contact_id))


def update_operator(session: Session, actor: Principal, username: str,
                    changes: Mapping[str, Any]) -> dict[str, Any]:
    """Apply ``changes`` (keys of :data:`EDITABLE`); the audit row lists old → new of each."""
    administer(actor)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise invalid({k: [_("変更できない項目です")] for k in sorted(unknown)}, _("入力内容に問題があります"))
    operator = find_operator(session, username)
    diff: dict[str, Any] = {}
    if "display_name" in changes:
        problems: v.Problems = {}
        new_name = v.name(str(changes["display_name"] or ""), problems, "display_name")
        if problems:
            raise invalid(problems, _("入力内容に問題があります"))
        diff["display_name"] = [operator.display_name, new_name]
        operator.display_name = new_name
    if "department" in changes:
        code = changes["department"]
        home = department_by_code(session, str(code)) if code else None
        diff["department"] = [operator.department.code if operator.department else None, code or None]
        operator.department = home
    if "contact_id" in changes:
        _check_contact(session, changes["contact_id"])
        diff["contact_id"] = [operator.contact_id, changes["contact_id"]]
        operator.contact_id = changes["contact_id"]
    for flag in ("is_admin", "can_override"):
        if flag in changes and bool(changes[flag]) != getattr(operator, flag):
            if flag == "is_admin" and not changes[flag]:
                _keep_an_admin(session, operator)
            diff[flag] = [getattr(operator, flag), bool(changes[flag])]
            setattr(operator, flag, bool(changes[flag]))
    if "disabled" in changes and bool(changes["disabled"]) != (operator.disabled_at is not None):
        if changes["disabled"]:
            _keep_an_admin(session, operator)
            operator.disabled_at = utcnow()
        else:
            operator.disabled_at = None
        diff["disabled"] = [not changes["disabled"], bool(changes["disabled"])]
    if set(diff) - {"display_name", "contact_id"}:
        operator.session_version += 1  # what they may do changed: sign in again
    if diff:
        audit(session, actor.username, "operator.update", operator, changes=diff)
    session.flush()
    return operator_view(operator)


def _keep_an_admin(session: Session, operator: Operator) -> None:
    # Whoever removes the last admin locks the city out of its own hub.
    if operator.is_admin and operator.disabled_at is None and _active_admins(session) <= 1:
        raise conflict(_("最後の管理者は無効にできません。先に別の管理者を作成してください"))


def _grant(session: Session, actor: Principal, operator: Operator, code: str, role: str) -> None:
    if role not in {r.value for r in GRANTABLE}:
        raise invalid({"role": [_("次のいずれかを指定してください: {values}").format(
            values=", ".join(r.value for r in GRANTABLE))]}, _("入力内容に問題があります"))
    dept = department_by_code(session, code)
    membership = session.get(Membership, (operator.id, dept.id))
    old = membership.role if membership else None
    if membership is None:
        operator.memberships.append(Membership(department=dept, role=role))
    else:
        membership.role = role
    operator.session_version += 1
    audit(session, actor.username, "operator.grant", operator, department=code, role=role, previous=old)


def grant(session: Session, actor: Principal, username: str, department: str, role: str) -> dict[str, Any]:
    administer(actor)
    operator = find_operator(session, username)
    _grant(session, actor, operator, department, role)
    session.flush()
    session.refresh(operator)
    return operator_view(operator)


def revoke_role(session: Session, actor: Principal, username: str, department: str) -> dict[str, Any]:
    administer(actor)
    operator = find_operator(session, username)
    dept = department_by_code(session, department, usable=False)
    membership = session.get(Membership, (operator.id, dept.id))
    if membership is None:
        raise not_found(_("「{name}」は部署「{dept}」の役割を持っていません").format(name=username, dept=department))
    operator.memberships.remove(membership)
    operator.session_version += 1
    audit(session, actor.username, "operator.revoke_role", operator, department=department,
          previous=membership.role)
    session.flush()
    return operator_view(operator)


def reset_password(session: Session, actor: Principal, username: str) -> str:
    """A new one-time password (returned, shown once); the old one and every session stop working."""
    administer(actor)
    operator = find_operator(session, username)
    secret = passwords.one_time_password()
    operator.password_hash = passwords.hash_password(secret)
    operator.must_change_password = True
    operator.session_version += 1
    audit(session, actor.username, "operator.reset_password", operator)
    return secret


def reset_totp(session: Session, actor: Principal, username: str) -> dict[str, Any]:
    """Forget the operator's second factor (a lost phone); they enrol again at their next login."""
    administer(actor)
    operator = find_operator(session, username)
    operator.totp_secret = operator.totp_pending_secret = None
    operator.totp_last_step = None
    operator.session_version += 1
    audit(session, actor.username, "operator.reset_totp", operator)
    return operator_view(operator)


def bootstrap(session: Session, username: str, display_name: str) -> tuple[dict[str, Any], str]:
    """The first admin of an empty hub; refused once any admin exists."""
    from hub.policy import SYSTEM

    if session.scalar(select(func.count()).select_from(Operator).where(Operator.is_admin.is_(True))):
        raise conflict(_("管理者はすでに登録されています。管理者に依頼してアカウントを作成してください"))
    return create_operator(session, SYSTEM, username, display_name, is_admin=True)
