"""Public Atom / RSS / CAP feeds: an rss delivery row in state delivered is a published entry."""

from __future__ import annotations

from flask import Blueprint

feeds_bp = Blueprint("feeds", __name__, url_prefix="/feeds")
