"""REST API under /api/v1 (token auth). One module per area; importing them registers their routes."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")

from hub.api import (  # noqa: E402
    admin,
    audit,
    auth,
    contacts,
    csv_sends,
    easy_japanese,
    messages,
    openapi,
    scheduled,
    surveys,
    tokens,
    translations,
)
from hub.api.common import ApiError, handle_api_error, handle_http_error  # noqa: E402

api_bp.register_error_handler(ApiError, handle_api_error)


@api_bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    # Routing errors (404/405) never reach a blueprint handler; answer in JSON for API paths only.
    if request.path.startswith(api_bp.url_prefix or "/api/v1"):
        return handle_http_error(exc)
    return exc


__all__ = ["admin", "api_bp", "audit", "auth", "contacts", "csv_sends", "easy_japanese", "messages", "openapi",
           "scheduled", "surveys", "tokens", "translations"]
