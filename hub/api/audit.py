"""``GET /api/v1/audit``: the audit log for administrators, oldest first, with its chain hashes."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from hub.api import api_bp
from hub.api.auth import authorize
from hub.api.common import ApiError, int_arg, runtime
from hub.i18n import gettext as _
from hub.models.audit import list_entries
from hub.policy import Action
from hub.templating import JST

MAX_LIMIT = 5000


def _since() -> datetime | None:
    raw = request.args.get("since")
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid_parameter",
                       _("since は ISO 8601 の日時で指定してください（例: 2026-11-30T09:00+09:00）")) from exc
    return (when if when.tzinfo else when.replace(tzinfo=JST)).astimezone(UTC)


@api_bp.get("/audit")
def list_audit() -> ResponseReturnValue:
    authorize(Action.ADMINISTER)
    since = _since()
    limit = int_arg("limit", 500, 1, MAX_LIMIT)
    after = int_arg("after", 0, 0, 2**62)
    with runtime().session() as s:
        items = list_entries(s, since=since, limit=limit, after_id=after)
    return jsonify({"items": items, "next_after": items[-1]["id"] if len(items) == limit else None})
