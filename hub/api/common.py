"""What every API module shares: the JSON error shape, the runtime, body parsing and paging."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from hub.errors import Refusal
from hub.i18n import gettext as _
from hub.models.base import MAX_INT_ID
from hub.runtime import Runtime

MAX_PER_PAGE = 500


def N_(text: str) -> str:
    """Marks core-layer messages (raised in Japanese by hub.compose) so pybabel extracts them."""
    return text


# Messages the core raises verbatim; listed so the English catalog can translate them at the boundary.
CORE_MESSAGES = (
    N_("作成者本人は承認できません。別の担当者が確認してください"),
    N_("このメッセージは承認待ちではありません"),
    N_("チャネルを1つ以上選んでください"),
    N_("件名か本文を入力してください"),
    N_("このチャネルはありません"),
)


class ApiError(Refusal):
    """An error the client can act on; ``message`` is already translated for the request's locale."""


def error_response(status: int, code: str, message: str, **extra: Any) -> ResponseReturnValue:
    body = {"error": {"code": code, "message": message, **extra}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="hub"'
    return response


def handle_api_error(exc: ApiError) -> ResponseReturnValue:
    return error_response(exc.status, exc.code, exc.message, **exc.extra)


_HTTP_MESSAGES = {
    400: N_("リクエストの形式が正しくありません"),
    404: N_("見つかりません"),
    405: N_("このメソッドは使えません"),
    413: N_("送信されたデータが大きすぎます"),
    415: N_("この形式のデータは受け付けていません"),
}


def handle_http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    # A guard's own code and (already translated) description say more than the generic status text.
    code = getattr(exc, "api_code", None)
    if code is not None:
        return error_response(status, code, str(exc.description))
    message = _(_HTTP_MESSAGES.get(status, exc.name or "error"))
    return error_response(status, (exc.name or "error").lower().replace(" ", "_"), message)


def as_id(raw: Any) -> int | None:
    """An id of an INTEGER key from JSON (an integer) or a form (digits); None when it cannot be one."""
    if isinstance(raw, bool):  # True is an int to Python, not an id to anyone
        return None
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    # Beyond the column's range the driver raises (OverflowError on SQLite, out of range on
    # PostgreSQL): a 500 instead of "no such message".
    if isinstance(raw, int) and 0 < raw <= MAX_INT_ID:
        return raw
    return None


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def json_body() -> dict[str, Any]:
    # Imported here: hub.api.guards is installed by the app factory, it does not import the API.
    from hub.api.guards import MAX_JSON_DEPTH, JsonHasNul, JsonTooDeep

    data = None
    if request.is_json:
        try:
            data = current_app.json.loads(request.get_data(cache=True))
        except JsonTooDeep as exc:
            raise ApiError(400, "json_too_deep", _("JSONの入れ子が深すぎます（{max} 段まで）").format(
                max=MAX_JSON_DEPTH)) from exc
        except JsonHasNul as exc:
            raise ApiError(400, "nul_character", _("NUL文字（\\0）は使えません")) from exc
        except ValueError as exc:  # includes undecodable bytes (UnicodeDecodeError)
            raise ApiError(400, "invalid_json", _("JSONとして読めません")) from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json",
                       _("JSONオブジェクトを送ってください（Content-Type: application/json）"))
    return data


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        message = _("{name} は {low} 〜 {high} の整数で指定してください")
        raise ApiError(400, "invalid_parameter", message.format(name=name, low=low, high=high))
    return value


def paging() -> tuple[int, int]:
    return int_arg("page", 1, 1, 1_000_000), int_arg("per_page", 50, 1, MAX_PER_PAGE)


def translate_problems(problems: dict[str, list[str]]) -> dict[str, list[str]]:
    """Problem texts come from the core in Japanese; known ones are translated, the rest pass through."""
    return {key: [_(p) for p in items] for key, items in problems.items()}
