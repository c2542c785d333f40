"""The Flask application factory: one Runtime, Celery, and one blueprint per area."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from hub.celery_app import init_celery
from hub.config import Settings
from hub.runtime import Runtime


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    settings = config if isinstance(config, Settings) else Settings.from_env(**dict(config or {}))
    settings.check_startup(["sms", "voice", "email", "line", "x"])
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config["HUB_SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["JSON_AS_ASCII"] = False
    from hub.api import guards

    guards.init_app(app)  # JSON without ASCII escapes, bounded in depth; no method overrides
    app.extensions["hub"] = Runtime(settings)
    init_celery(app)

    from hub import i18n
    from hub.api import api_bp
    from hub.callbacks import callbacks_bp
    from hub.relay.web import relay_bp
    from hub.web import feeds_bp, web_bp

    i18n.init_app(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(callbacks_bp)
    app.register_blueprint(feeds_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(relay_bp)

    # Register the tasks with this app's Celery instance.
    import hub.dispatch.sweeper
    import hub.dispatch.tasks  # noqa: F401
    from triggers import safety

    # The second 通常/訓練/試験 check of trigger messages, right before planning, in every process.
    safety.install()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The Twilio SDK logs every request and its headers at INFO: eleven lines per SMS.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    return app
