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


def test_a_deploy_that_restarts_every_worker_is_not_an_outage_unless_they_stay_away(
    engine_runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    # A machine that died this morning without a word is still listed; it was replaced since.
    Heartbeat("celery@old-node", LANES).start(engine_runtime)
    assert check(engine_runtime) is None
    clock.advance(seconds=90)
    node = Heartbeat("celery@node1", LANES)
    node.start(engine_runtime)
    clock.advance(seconds=120)  # the watcher has been watching for a while
    assert check(engine_runtime) is None

    node.stop(engine_runtime)  # the deploy stops the workers cleanly…
    clock.advance(seconds=20)
    assert check(engine_runtime) is None
    clock.advance(seconds=30)
    node.start(engine_runtime)  # …and the new ones are up within the minute
    assert check(engine_runtime) is None
    assert engine_alarms(engine_runtime) == []

    node.stop(engine_runtime)  # the next deploy fails: nothing comes back
    for _ in range(3):  # the watchdog's rounds
        clock.advance(seconds=15)
        assert check(engine_runtime) is None
    clock.advance(seconds=31)  # a minute since the round that first saw no worker
    assert check(engine_runtime) == "alarm"
    [alarm] = engine_alarms(engine_runtime)
    assert "稼働中の配信ワーカーがありません" in alarm.title


def test_a_watcher_started_with_the_whole_hub_gives_the_workers_a_minute_to_come_up(
    engine_settings: Settings, engine_runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    # Last night's run: its watcher outlived its workers, which stopped cleanly.
    node = Heartbeat("celery@node1", LANES)
    node.start(engine_runtime)
    assert check(engine_runtime) is None
    node.stop(engine_runtime)
    assert check(engine_runtime) is None
    clock.advance(hours=10)
    assert check(engine_runtime) == "alarm"  # the old watcher, still running, saw them go for good
    clock.advance(hours=1)
    node.start(engine_runtime)
    assert check(engine_runtime) == "recovered"
    node.stop(engine_runtime)

    # This morning the whole hub starts again, the watcher a few seconds before the workers.
    clock.advance(hours=10)
    morning = create_app(engine_settings).extensions["hub"]
    assert check(morning) is None
    clock.advance(seconds=8)
    node.start(morning)
    assert check(morning) is None
    assert len(engine_alarms(morning)) == 2  # last night's alarm and recovery, nothing new

    # The next morning the workers do not come up at all: a minute later it is an outage.
    node.stop(morning)
    clock.advance(hours=10)
    tomorrow = create_app(engine_settings).extensions["hub"]
    assert check(tomorrow) is None
    clock.advance(seconds=61)
    assert check(tomorrow) == "alarm"
