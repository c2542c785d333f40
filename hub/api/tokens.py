"""/api/v1/tokens: the caller's API tokens (an admin: anyone's). A token is shown once, at issue."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from hub.accounts import tokens
from hub.accounts.errors import AccountError
from hub.api import api_bp
from hub.api.auth import current_principal
from hub.api.common import ApiError, error_response, json_body, runtime
from hub.i18n import gettext as _


@api_bp.errorhandler(AccountError)
def _account_error(exc: AccountError) -> ResponseReturnValue:
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


@api_bp.get("/tokens")
def list_tokens() -> ResponseReturnValue:
    everyone = request.args.get("all") in ("1", "true")
    with runtime().session() as s:
        items = tokens.listing(s, current_principal(), request.args.get("operator") or None, everyone=everyone)
    return jsonify(items=items)


@api_bp.post("/tokens")
def issue_token() -> ResponseReturnValue:
    data = json_body()
    days = data.get("expires_in_days", tokens.DEFAULT_DAYS)
    if not isinstance(days, int) or isinstance(days, bool):
        raise ApiError(422, "invalid", _("入力内容に問題があります"),
                       problems={"expires_in_days": [_("日数を整数で指定してください")]})
    owner = data.get("operator")
    with runtime().session() as s:
        token, view = tokens.issue(s, current_principal(), str(data.get("name") or ""), days,
                                   str(owner) if owner else None)
    return jsonify(token=token, **view), 201


@api_bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id: int) -> ResponseReturnValue:
    with runtime().session() as s:
        view = tokens.revoke(s, current_principal(), token_id)
    return jsonify(view)
