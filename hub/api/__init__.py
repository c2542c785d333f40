"""REST API under /api/v1 (token auth)."""

from flask import Blueprint

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
