"""Operator pages (composer, status). Thin: they call hub.compose and read the database."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

web_bp = Blueprint("web", __name__)


@web_bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")
