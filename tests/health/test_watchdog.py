"""The engine alarm: sent by the watcher itself (no worker needed), once per outage, then a recovery notice."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from flask import Flask
from flask.testing import FlaskClient

from hub.app import create_app
from hub.config import Settings
from hub.dispatch.lanes import LANES
from hub.health.heartbeat import Heartbeat
from hub.health.watchdog import check
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import seed
from tests.health.support import duty_addresses, engine_alarms, received


def test_no_live_worker_alarms_the_duty_department_once_and_says_when_it_is_back(
    engine_app: Flask, engine_runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    assert check(engine_runtime) is None  # a fleet starting up gets one silence period
    clock.advance(seconds=61)
    # Three web processes notice at the same moment: one alarm goes out.
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(_check_in_app(engine_app))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)) == ["None", "None", "alarm"]
    clock.advance(seconds=600)
    assert check(engine_runtime) is None  # still down: no second alarm

    [alarm] = engine_alarms(engine_runtime)
    assert alarm.title == "【要確認】配信エンジンが停止しています（稼働中の配信ワーカーがありません）"
    assert alarm.audience == "department:bousai" and alarm.mode == "actual"
    for channel in ("email", "line"):
        # Delivered by the watcher through the adapters: no worker exists to take a queued alarm.
        assert received(engine_runtime, sandbox_client, alarm, channel) == duty_addresses(engine_runtime, channel)
        assert duty_addresses(engine_runtime, channel)

    Heartbeat("celery@node1", LANES).start(engine_runtime)
    assert check(engine_runtime) == "recovered"
    back = engine_alarms(engine_runtime)[-1]
    assert back.title == "【復旧】配信エンジンが再び動いています"
    assert received(engine_runtime, sandbox_client, back, "email") == duty_addresses(engine_runtime, "email")
    assert check(engine_runtime) is None


def _check_in_app(app: Flask) -> str | None:
    with app.app_context():
        return check(app.extensions["hub"])


def test_healthz_raises_the_alarm_itself_when_nobody_runs_the_watchdog(
    settings: Settings, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    app = create_app(replace(settings, tasks_eager=False, watchdog_in_web=True))
    with app.app_context():
        seed(app)
        rt: Runtime = app.extensions["hub"]
        client: FlaskClient = app.test_client()
        client.get("/healthz")
        clock.advance(seconds=61)
        client.get("/healthz")  # the load balancer's probe: answered at once, checked behind it
        deadline = time.monotonic() + 20
        while not (engine_alarms(rt) and received(rt, sandbox_client, engine_alarms(rt)[0], "line")):
            assert time.monotonic() < deadline, "no alarm from the web process"
            time.sleep(0.2)
        assert received(rt, sandbox_client, engine_alarms(rt)[0], "line") == duty_addresses(rt, "line")
