"""Browser-facing pages: the composer, message status, and the public feeds."""

from hub.web import (
    console,  # noqa: F401  (registers the reject and stop forms and the 404/403 pages)
    login,  # noqa: F401  (registers /login, /logout, /password, /totp on web_bp)
)
from hub.web.feeds import feeds_bp
from hub.web.pages import web_bp

__all__ = ["feeds_bp", "web_bp"]
