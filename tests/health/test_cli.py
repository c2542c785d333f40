"""`hub health` as an operator (or a cron job) reads it: what is wrong, and a non-zero exit."""

from __future__ import annotations

import json

from click.testing import CliRunner
from flask import Flask

from hub.cli import main
from hub.cli.context import HubContext
from hub.dispatch.lanes import LANES
from hub.health.heartbeat import Heartbeat
from hub.relay.clock import ManualClock
from hub.runtime import Runtime


def _health(app: Flask, *args: str) -> tuple[int, str]:
    hub = HubContext()
    hub._app = app
    result = CliRunner().invoke(main, ["health", *args], obj=hub)
    return result.exit_code, result.output


def test_health_names_the_silent_worker_and_exits_non_zero(
    engine_app: Flask, engine_runtime: Runtime, clock: ManualClock
) -> None:
    Heartbeat("celery@node1", LANES).start(engine_runtime)
    code, out = _health(engine_app)
    assert code == 0 and "状態: 正常" in out and "celery@node1" in out and "稼働中" in out

    clock.advance(seconds=90)
    code, out = _health(engine_app)
    assert code == 2 and "停止（稼働中のワーカーなし）" in out and "応答なし（90秒）" in out
    code, out = _health(engine_app, "--json")
    report = json.loads(out)
    assert code == 2 and report["state"] == "no_worker" and report["workers"][0]["alive"] is False
    assert {lane["name"] for lane in report["lanes"]} >= set(LANES)
