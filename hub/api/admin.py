"""/api/v1/admin/…: operators, departments, categories and areas. Admins only (Action.ADMINISTER).

Thin: hub.accounts.admin and hub.accounts.directory decide and audit; this turns JSON into calls.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import jsonify
from flask.typing import ResponseReturnValue

from hub.accounts import admin, directory
from hub.api import api_bp
from hub.api.auth import authorize
from hub.api.common import ApiError, json_body, runtime
from hub.i18n import gettext as _
from hub.policy import Action, Principal

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])
PLURAL = {"departments": "department", "categories": "category", "areas": "area"}


def admin_only(view: View) -> View:
    # Checked before anything is looked up: a non-admin learns nothing, not even what exists.
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        return view(authorize(Action.ADMINISTER), *args, **kwargs)

    return cast(View, wrapped)


def _flag(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise ApiError(422, "invalid", _("入力内容に問題があります"),
                       problems={key: [_("true か false で指定してください")]})
    return value


@api_bp.get("/admin/operators")
@admin_only
def admin_list_operators(actor: Principal) -> ResponseReturnValue:
    with runtime().session() as s:
        return jsonify(items=admin.list_operators(s, actor))


@api_bp.post("/admin/operators")
@admin_only
def admin_create_operator(actor: Principal) -> ResponseReturnValue:
    data = json_body()
    roles = data.get("roles") or {}
    contact_id = data.get("contact_id")
    if not isinstance(roles, dict) or not (contact_id is None or isinstance(contact_id, int)):
        raise ApiError(422, "invalid", _("入力内容に問題があります"))
    with runtime().session() as s:
        view, secret = admin.create_operator(
            s, actor, str(data.get("username") or ""), str(data.get("display_name") or ""),
            department=data.get("department") or None, contact_id=contact_id,
            is_admin=_flag(data, "is_admin"), can_override=_flag(data, "can_override"),
            roles={str(k): str(v) for k, v in roles.items()})
    return jsonify(operator=view, one_time_password=secret), 201


@api_bp.get("/admin/operators/<username>")
@admin_only
def admin_get_operator(actor: Principal, username: str) -> ResponseReturnValue:
    with runtime().session() as s:
        return jsonify(admin.operator_view(admin.find_operator(s, username)))


@api_bp.patch("/admin/operators/<username>")
@admin_only
def admin_update_operator(actor: Principal, username: str) -> ResponseReturnValue:
    data = json_body()
    for key in ("is_admin", "can_override", "disabled"):
        if key in data:
            _flag(data, key)
    with runtime().session() as s:
        return jsonify(admin.update_operator(s, actor, username, data))


@api_bp.put("/admin/operators/<username>/roles/<department>")
@admin_only
def admin_grant_role(actor: Principal, username: str, department: str) -> ResponseReturnValue:
    role = json_body().get("role")
    with runtime().session() as s:
        return jsonify(admin.grant(s, actor, username, department, str(role or "")))


@api_bp.delete("/admin/operators/<username>/roles/<department>")
@admin_only
def admin_revoke_role(actor: Principal, username: str, department: str) -> ResponseReturnValue:
    with runtime().session() as s:
        return jsonify(admin.revoke_role(s, actor, username, department))


@api_bp.post("/admin/operators/<username>/password")
@admin_only
def admin_reset_password(actor: Principal, username: str) -> ResponseReturnValue:
    with runtime().session() as s:
        secret = admin.reset_password(s, actor, username)
    return jsonify(username=username, one_time_password=secret)


@api_bp.delete("/admin/operators/<username>/totp")
@admin_only
def admin_reset_totp(actor: Principal, username: str) -> ResponseReturnValue:
    with runtime().session() as s:
        return jsonify(admin.reset_totp(s, actor, username))


def _directory_routes(plural: str) -> None:
    kind = PLURAL[plural]

    def list_rows(actor: Principal) -> ResponseReturnValue:
        with runtime().session() as s:
            return jsonify(items=directory.listing(s, actor, kind))

    def create_row(actor: Principal) -> ResponseReturnValue:
        data = dict(json_body())
        code = str(data.pop("code", "") or "")
        with runtime().session() as s:
            return jsonify(directory.create(s, actor, kind, code, data)), 201

    def update_row(actor: Principal, code: str) -> ResponseReturnValue:
        data = json_body()
        if "disabled" in data:
            _flag(data, "disabled")
        with runtime().session() as s:
            return jsonify(directory.update(s, actor, kind, code, data))

    base = f"/admin/{plural}"
    api_bp.add_url_rule(base, f"admin_list_{plural}", admin_only(list_rows), methods=["GET"])
    api_bp.add_url_rule(base, f"admin_create_{kind}", admin_only(create_row), methods=["POST"])
    api_bp.add_url_rule(f"{base}/<code>", f"admin_update_{kind}", admin_only(update_row), methods=["PATCH"])


for _plural in PLURAL:
    _directory_routes(_plural)
