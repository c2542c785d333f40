"""The engine alarm: no live worker, or a send without progress, tells the duty department.

Whoever watches delivers the alarm itself (``hub watchdog``, or a web process answering
``/healthz``): when no worker is alive an alarm queued for the workers would never go. Several
watchers are fine — the alarm row is flipped by compare-and-set, so the fleet alarms once per
outage and sends one recovery notice when the engine moves again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.alarms import Alarm, flip, send_alarm
from hub.health.engine import NO_WORKER, EngineHealth, observe
from hub.models.health import EngineAlarm
from hub.relay import clock
from hub.runtime import Runtime
from hub.templating import jst

log = logging.getLogger(__name__)
ENGINE = "engine"
SOURCE = "engine:alarm"


def check(rt: Runtime, health: EngineHealth | None = None) -> str | None:
    """Observe (unless given what was just observed); alarm or announce recovery. Returns what it sent."""
    health = health or observe(rt)
    with rt.session() as session:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(EngineAlarm).values(kind=ENGINE).on_conflict_do_nothing())
        raised = session.get(EngineAlarm, ENGINE)
        outstanding = raised is not None and raised.alarm_sent_at is not None
    where = EngineAlarm.kind == ENGINE
    now = clock.now()
    # A watcher that has just started cannot tell an outage from workers that are still starting
    # (the whole hub restarted, the watcher first): it waits one silence period of its own before
    # it calls "no worker" an outage. One that was watching saw when the last worker went.
    starting = health.state == NO_WORKER and now - rt.started_at < timedelta(
        seconds=rt.settings.worker_silence_seconds)
    if not health.ok and not starting and not outstanding and flip(rt, EngineAlarm.alarm_sent_at, where, now):
        with rt.session() as session:
            row = session.get(EngineAlarm, ENGINE)
            if row is not None:
                row.detail = health.state
        send_alarm(rt, alarm_for(health), here=True)
        return "alarm"
    if health.ok and outstanding and flip(rt, EngineAlarm.alarm_sent_at, where, None):
        send_alarm(rt, recovery(), here=True)
        return "recovered"
    return None


def alarm_for(health: EngineHealth) -> Alarm:
    lines = []
    if health.state == NO_WORKER:
        title = "【要確認】配信エンジンが停止しています（稼働中の配信ワーカーがありません）"
        lines.append("配信ワーカーが1台も動いていません。送信待ちの配信は、ワーカーが戻るまで送られません。")
        for w in health.workers:
            lines.append(f"最後に応答したワーカー：{w.node}（{w.host}）{jst(w.last_seen_at)}")
    else:
        title = "【要確認】配信が進んでいません（配信エンジンの停滞）"
        lines.append(f"送信待ちの宛先があるのに、{health.stalled[0].seconds / 60:.0f}分以上1件も送信が終わっていない"
                     "配信があります。")
    for s in health.stalled[:5]:
        lines.append(f"・#{s.message_id} {s.title}（{s.seconds / 60:.0f}分間進展なし）")
    for lane in health.lanes:
        queued = "不明" if lane.queued is None else f"{lane.queued}件"
        lines.append(f"{lane.name}：送信待ち {lane.pending}件、キュー {queued}")
    if health.oldest_pending_seconds is not None:
        lines.append(f"最も古い送信待ち：{health.oldest_pending_seconds / 60:.0f}分前から")
    lines.append("ワーカー（hub worker）の状態を確認し、必要なら起動し直してください。"
                 "緊急の周知は防災行政無線など他の手段も検討してください。")
    return Alarm(title=title, body="\n".join(lines), source=SOURCE, actor="engine",
                 meta={"engine": {"kind": "alarm", "state": health.state}})


def recovery() -> Alarm:
    return Alarm(title="【復旧】配信エンジンが再び動いています",
                 body="配信ワーカーが応答し、止まっていた配信が再び進んでいます。配信状況を確認してください。",
                 source=SOURCE, actor="engine", meta={"engine": {"kind": "recovered"}})


def run_forever(app: Flask, stop: threading.Event | None = None,
                on_round: Callable[[str | None], object] | None = None) -> None:
    """``hub watchdog``: check every ``watchdog_seconds`` until stopped."""
    rt: Runtime = app.extensions["hub"]
    stop = stop or threading.Event()
    while True:
        try:
            with app.app_context():
                sent = check(rt)
            if on_round is not None:
                on_round(sent)
        except Exception:  # the database away: the next round tries again
            log.exception("engine check failed; trying again in %.0f s", rt.settings.watchdog_seconds)
        if stop.wait(rt.settings.watchdog_seconds):
            return


class Kicker:
    """Lets a web process run the check in the background now and then, never two at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._last_ok = True
        self._running = False
        self._again: EngineHealth | None = None

    def kick(self, app: Flask, health: EngineHealth) -> bool:
        rt: Runtime = app.extensions["hub"]
        with self._lock:
            now = time.monotonic()
            # At most one round per interval, except when the engine's state just changed: an
            # outage must not wait for the interval a quiet round started.
            quiet = now - self._last < rt.settings.watchdog_seconds and health.ok == self._last_ok
            if self._running:
                if health.ok != self._last_ok:
                    # The state changed during a round (a slow database): check again right after
                    # it, or the outage would wait for the next probe that happens to come.
                    self._again = health
                return False
            if quiet:
                return False
            self._running, self._last, self._last_ok = True, now, health.ok

        def run() -> None:
            try:
                with app.app_context():
                    check(rt, health)
            except Exception:
                log.exception("engine check failed")
            finally:
                with self._lock:
                    self._running = False
                    again, self._again = self._again, None
                if again is not None:
                    self.kick(app, again)

        threading.Thread(target=run, name="hub-engine-check", daemon=True).start()
        return True
