"""Browser-facing pages: the composer, message status, and the public feeds."""

from hub.web import (  # noqa: F401  (each registers its routes on web_bp)
    admin_pages,  # /admin/…, /tokens
    console,  # the reject and stop forms, the 404/403 pages
    contacts_pages,  # /contacts, /contacts/<id>, /contacts/import, /contacts/export.csv
    followups,  # 取消 and 訂正 from the message page
    health_pages,  # /healthz, /healthz/engine, /metrics
    login,  # /login, /logout, /password, /totp
    notices_pages,  # /notices/csv: personalised CSV sends
    recipients,  # /messages/<id>/recipients: search by name, number, address
    rules_pages,  # /rules, /templates
    scheduled_pages,  # /scheduled: scheduled sends, and stopping one before it leaves
    survey_pages,  # closing a message's resident survey
)
from hub.web.feeds import feeds_bp
from hub.web.pages import web_bp

__all__ = ["feeds_bp", "web_bp"]
