"""The dashboard banner and /healthz when the engine has no live worker or a send does not move."""

from __future__ import annotations

from flask.testing import FlaskClient

from hub.dispatch.lanes import LANES
from hub.health.heartbeat import Heartbeat
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from tests.api.support import body, create_approved, login

BANNER = 'id="engine-alarm"'


def test_no_live_worker_shows_on_the_dashboard_and_healthz(
    engine_client: FlaskClient, engine_runtime: Runtime, clock: ManualClock
) -> None:
    assert login(engine_client, "admin").status_code == 302
    assert BANNER not in engine_client.get("/").get_data(as_text=True)  # a starting fleet gets a moment

    clock.advance(seconds=61)
    page = engine_client.get("/").get_data(as_text=True)
    assert BANNER in page and "稼働中の配信ワーカーがありません" in page
    assert "no delivery worker is alive" in engine_client.get("/?lang=en").get_data(as_text=True)
    health = engine_client.get("/healthz")
    # The web app itself is alive: a load balancer keeps sending operators to it.
    assert health.status_code == 200
    assert (body(health)["status"], body(health)["engine"]) == ("ok", "no_worker")
    assert body(health)["details"]["live_workers"] == 0
    assert engine_client.get("/healthz/engine").status_code == 503

    worker = Heartbeat("celery@node1", LANES)
    worker.start(engine_runtime)
    assert BANNER not in engine_client.get("/").get_data(as_text=True)
    ok = engine_client.get("/healthz/engine")
    assert ok.status_code == 200
    [seen] = body(ok)["details"]["workers"]
    assert (seen["node"], seen["lanes"], seen["alive"]) == ("celery@node1", sorted(LANES), True)

    clock.advance(seconds=61)  # the worker's heartbeat did not move while the watcher looked away
    assert BANNER in engine_client.get("/").get_data(as_text=True)
    worker(engine_runtime)  # it beats again
    assert BANNER not in engine_client.get("/").get_data(as_text=True)


def test_a_send_without_progress_for_three_minutes_is_stalled(
    engine_client: FlaskClient, engine_runtime: Runtime, clock: ManualClock
) -> None:
    worker = Heartbeat("celery@node1", LANES)
    worker.start(engine_runtime)
    # Queued for the workers, which beat but take nothing (as when every pool process hangs).
    sent = create_approved(engine_client, title="断水のお知らせ")
    assert sent["state"] == "queued"
    assert login(engine_client, "admin").status_code == 302
    engine_client.get("/")
    for _ in range(11):
        clock.advance(seconds=15)
        worker(engine_runtime)
        assert BANNER not in engine_client.get("/").get_data(as_text=True)
    clock.advance(seconds=15)  # 180 s since the watcher first saw it waiting
    worker(engine_runtime)
    page = engine_client.get("/").get_data(as_text=True)
    assert BANNER in page and "配信が進んでいません" in page and f"#{sent['message_id']} 断水のお知らせ" in page
    details = body(engine_client.get("/healthz"))["details"]
    assert details["state"] == "stalled" and details["live_workers"] == 1
    assert [s["message_id"] for s in details["stalled"]] == [sent["message_id"]]
    assert details["oldest_pending_seconds"] >= 170  # created on the wall clock a moment after the test clock began
