"""The Flask application factory: one Runtime, Celery, and one blueprint per area."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from werkzeug.middleware.proxy_fix import ProxyFix

from hub.celery_app import init_celery
from hub.config import Settings
from hub.runtime import Runtime


class SharedTemplateCode(BytecodeCache):
    """The console's compiled templates, shared by every app this process makes (the test suite
    makes hundreds; compiling the pages again for each was a tenth of its time). Jinja checks each
    template's source checksum when loading, so an edited template is compiled afresh."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = SharedTemplateCode()


def create_app(config: Settings | Mapping[str, Any] | None = None) -> Flask:
    settings = config if isinstance(config, Settings) else Settings.from_env(**dict(config or {}))
    settings.check_startup(["sms", "voice", "email", "line", "x"])
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.jinja_options = {**app.jinja_options, "bytecode_cache": TEMPLATE_CODE}
    app.config["HUB_SETTINGS"] = settings
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["SECRET_KEY_FALLBACKS"] = list(settings.previous_secret_keys)  # sessions survive a rotation
    # Werkzeug answers 413 before reading a body larger than this (JSON under /api/, HTML elsewhere).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.config["JSON_AS_ASCII"] = False
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if settings.trusted_proxies > 0:
        # Only the client address: links and signatures use HUB_PUBLIC_URL, never forwarded host headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=0, x_host=0, x_port=0, x_prefix=0)
    from hub.api import guards

    guards.init_app(app)  # JSON without ASCII escapes, bounded in depth; no method overrides
    app.extensions["hub"] = Runtime(settings)
    init_celery(app)

    from hub import i18n
    from hub.api import api_bp
    from hub.callbacks import callbacks_bp
    from hub.callbacks_karaden import karaden_bp
    from hub.callbacks_sms import sms_bp
    from hub.relay.web import relay_bp
    from hub.residents.keypad import keypad_bp
    from hub.residents.survey_web import surveys_bp
    from hub.residents.unsubscribe import unsubscribe_bp
    from hub.residents.web import residents_bp
    from hub.web import feeds_bp, headers, web_bp
    from hub.web.callouts import console_bp

    i18n.init_app(app)
    headers.init_app(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(callbacks_bp)
    app.register_blueprint(karaden_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(keypad_bp)
    app.register_blueprint(feeds_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(relay_bp)
    app.register_blueprint(unsubscribe_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(residents_bp)
    app.register_blueprint(surveys_bp)

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
