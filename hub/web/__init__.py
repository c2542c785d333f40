"""Browser-facing pages: the composer, message status, and the public feeds."""

from hub.web import admin_pages, login  # noqa: F401  (register /login …, /admin/…, /tokens on web_bp)
from hub.web.feeds import feeds_bp
from hub.web.pages import web_bp

__all__ = ["feeds_bp", "web_bp"]
