"""/metrics: refused to strangers in production, a valid Prometheus exposition of the engine otherwise."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from hub.app import create_app
from hub.config import Settings
from hub.dispatch.lanes import LANES
from hub.models.health import ProviderStat
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import create_approved, seed
from tests.support.hubtools import wait_for

TOKEN = "scrape-token-0123456789abcdef"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by name and labels; parsing fails on anything that is not a valid exposition."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_production_refuses_an_unauthenticated_scrape(settings: Settings) -> None:
    app = create_app(replace(settings, env="production", allow_sandbox=True, secret_key="s" * 48,
                             metrics_token=TOKEN, metrics_allow="10.1.0.0/16"))
    with app.app_context():
        seed(app)
        client = app.test_client()
        stranger = {"REMOTE_ADDR": "203.0.113.9"}
        assert client.get("/metrics", environ_base=stranger).status_code == 403
        assert client.get("/metrics", environ_base=stranger,
                          headers={"Authorization": "Bearer wrong"}).status_code == 403
        # The load balancer still gets its answer, without the engine's details.
        health = client.get("/healthz", environ_base=stranger)
        assert health.status_code == 200 and health.json == {"status": "ok", "engine": "ok"}

        scraped = client.get("/metrics", environ_base=stranger, headers={"Authorization": f"Bearer {TOKEN}"})
        assert scraped.status_code == 200 and scraped.mimetype == "text/plain"
        assert samples(scraped.get_data(as_text=True))[("hub_workers_live", ())] == 0
        trusted = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert trusted.status_code == 200
        assert "details" in (client.get("/healthz", environ_base={"REMOTE_ADDR": "10.1.2.3"}).json or {})


def test_exposition_counts_deliveries_latency_errors_and_lanes(
    app: Flask, sandbox_client: SandboxClient
) -> None:
    seed(app, residents=12)
    client: FlaskClient = app.test_client()
    sandbox_client.inject_fault("sms", "invalid_number", count=1)  # one permanent provider error
    sent = create_approved(client, channels=["sms", "email"])
    assert sent["state"] in ("queued", "done")  # eager: delivered already

    got = samples(client.get("/metrics").get_data(as_text=True))
    sms_rows = sum(v for (name, labels), v in got.items()
                   if name == "hub_deliveries" and ("channel", "sms") in labels)
    assert sms_rows > 1
    assert got[("hub_deliveries", (("channel", "sms"), ("state", "failed")))] == 1
    assert got[("hub_provider_errors_total", (("channel", "sms"), ("outcome", "failed")))] == 1
    # One request per SMS, timed: the histogram counts them all and its buckets only grow.
    requests = got[("hub_provider_request_seconds_count", (("channel", "sms"),))]
    assert requests == len(sandbox_client.inbox("sms")) + 1
    buckets = sorted((float(dict(labels)["le"]), v) for (name, labels), v in got.items()
                     if name == "hub_provider_request_seconds_bucket" and ("channel", "sms") in labels)
    assert buckets[-1] == (float("inf"), requests) and [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert got[("hub_provider_request_seconds_sum", (("channel", "sms"),))] > 0
    for lane in LANES:
        assert ("hub_pending_deliveries", (("lane", lane),)) in got
    assert got[("hub_engine_state", (("state", "ok"),))] == 1


def test_a_sending_process_writes_its_measurements_once_a_second_and_the_rest_with_its_lease(
    settings: Settings,
) -> None:
    """A call-out's batches are one person each: their latencies are not each a transaction of
    their own, and what waits is written when the worker renews its lease."""
    runtime = Runtime(replace(settings, lease_seconds=0.6))

    def requests_written() -> float:
        with runtime.session() as session:
            return sum(session.scalars(select(ProviderStat.value).where(
                ProviderStat.channel == "line", ProviderStat.name == "latency_count")))

    for _ in range(3):  # three people contacted in quick succession
        runtime.provider_stats.request("line", 0.02)
        runtime.provider_stats.results("line", [])
    assert requests_written() == 1, "the first at once, the next two wait for the next write"
    assert runtime.lease.worker_id  # a process that claims work renews its lease (every 0.2 s here)
    try:
        wait_for(lambda: requests_written() == 3, timeout=5)
    finally:
        runtime.lease.release()
