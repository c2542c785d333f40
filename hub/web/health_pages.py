"""/healthz for load balancers and operators, /healthz/engine for monitors, /metrics for Prometheus.

``/healthz`` answers 200 while this web process can answer at all: a load balancer must not take
the console away exactly when the workers are down and operators need it. It says the engine's
state to anyone and its details (workers, lanes, oldest pending) to trusted callers. Monitors that
only read status codes use ``/healthz/engine``: 503 while the engine is stalled or no worker lives.
Answering also lets this process run the watchdog's check now and then (hub/health/watchdog.py).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from hub.api.common import runtime
from hub.health.access import may_read
from hub.health.engine import EngineHealth, observe
from hub.health.metrics import exposition
from hub.health.watchdog import Kicker
from hub.web.pages import web_bp

log = logging.getLogger(__name__)
UNKNOWN = "unknown"
_kicker = Kicker()


def _engine() -> EngineHealth | None:
    try:
        health = observe(runtime())
    except Exception:  # the database away: say so rather than fail the load balancer's probe
        log.exception("engine health could not be read")
        return None
    if runtime().settings.watchdog_in_web:
        _kicker.kick(current_app._get_current_object(), health)  # type: ignore[attr-defined]
    return health


def _body(health: EngineHealth | None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "ok", "engine": health.state if health else UNKNOWN}
    if health is not None and may_read(runtime().settings, request):
        body["details"] = health.to_dict()
    return body


@web_bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(_body(_engine()))


@web_bp.get("/healthz/engine")
def healthz_engine() -> ResponseReturnValue:
    health = _engine()
    return jsonify(_body(health)), 200 if health is not None and health.ok else 503


@web_bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    if not may_read(runtime().settings, request):
        return Response("forbidden: set HUB_METRICS_TOKEN or HUB_METRICS_ALLOW\n", status=403,
                        mimetype="text/plain")
    return Response(exposition(runtime()), mimetype="text/plain; version=0.0.4; charset=utf-8")
