"""Workers and Redis that die mid-send: nothing lost, nothing twice, in doubt only what cannot be known.

Production's stack (PostgreSQL, Redis as broker and shared rate limiter, real Celery workers), checked
against the sandbox inbox. The kill lands while a provider holds a request open (a stalled answer),
so it is mid-batch every time rather than by luck.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import select, text

from hub.app import create_app
from hub.config import Settings
from hub.db import get_engine
from hub.models import Delivery, DeliveryState
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.e2e.guarantees import (
    add_residents,
    assert_each_reached_exactly_once,
    inbox_address,
    line_user,
    phone,
    wait_finished,
)
from tests.support.hubtools import rows, send, wait_for
from tests.support.live import LiveServer, free_port
from tests.support.services import in_ci
from tests.support.worker import WorkerProcess, stop_all

pytestmark = pytest.mark.slow

STALL = 5.0  # seconds a provider holds the answer of the request the kill lands in


@pytest.fixture
def stack_settings(stack_settings: Settings) -> Settings:
    return replace(stack_settings, provider_timeout=10.0, check_after_seconds=1.0, sweep_interval_seconds=1.0,
                   rate_sms=300, rate_voice=300, rate_email=300, rate_line=20, rate_x=10, stuck_after_seconds=60)


# What each channel is asked to send, and how the request the kill lands in is picked out.
KILL_CASES = {
    "sms": (600, lambda: phone(250)),
    "voice": (300, lambda: phone(150)),
    "email": (300, lambda: "r150@example.jp"),
    "line": (1200, lambda: line_user(700)),
    "x": (1, lambda: None),
}


@pytest.mark.parametrize("channel", list(KILL_CASES))
def test_worker_killed_mid_batch_on_each_channel(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess], channel: str
) -> None:
    residents, target = KILL_CASES[channel]
    add_residents(stack_runtime, residents)
    sandbox_client.inject_fault(channel, "timeout", count=1, match=target(), delay=STALL)
    first = worker_factory(concurrency=2).start()
    message_id = send(stack_runtime, channels=[channel], title="断水のお知らせ", body=f"{channel}: 給水所を開設しました。")

    def stalled_request_arrived() -> bool:
        return any(f.get("remaining") == 0 for f in sandbox_client.faults()) or not sandbox_client.faults()

    wait_for(stalled_request_arrived, timeout=60, interval=0.05)
    first.kill()
    in_flight = _rows_in(stack_runtime, message_id, DeliveryState.SENDING)
    assert in_flight, "the kill came after the batch was recorded: nothing to test"

    worker_factory(concurrency=2).start()
    wait_finished(stack_runtime, message_id, timeout=120)
    time.sleep(STALL)  # the stalled request has completed on the provider's side by now
    final = assert_each_reached_exactly_once(stack_runtime, sandbox_client, message_id, channel)
    unknown = [r for r in final if r.state == DeliveryState.UNKNOWN]
    if channel in ("email", "x"):
        # Cannot be asked afterwards: at most the request each killed process had in flight is in doubt.
        assert 1 <= len(unknown) <= 2, [(r.address, r.error) for r in unknown]
        assert all("確かめる手段がない" in (r.error or "") for r in unknown)
        received = {i["to"] for i in sandbox_client.inbox(channel)}
        assert {inbox_address(r) for r in final if r.state != DeliveryState.UNKNOWN} <= received, "someone was missed"
    else:
        assert unknown == [], "a channel that can be asked leaves nothing in doubt"
        assert {r.state for r in final} <= {DeliveryState.SENT, DeliveryState.DELIVERED}, "someone was missed"


def test_sweeps_go_on_when_the_schedulers_worker_dies(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess],
    stack_settings: Settings,
) -> None:
    add_residents(stack_runtime, 800)
    scheduler = worker_factory(concurrency=1, beat=True).start()
    worker_factory(concurrency=1).start()
    sandbox_client.inject_fault("sms", "timeout", count=0, delay=STALL, match=phone(10))
    message_id = send(stack_runtime, channels=["sms"])

    def scheduler_holds_rows() -> bool:
        return bool(_rows_in(stack_runtime, message_id, DeliveryState.SENDING, owners=scheduler.pool_pids()))

    wait_for(scheduler_holds_rows, timeout=60, interval=0.02)
    pids = scheduler.pool_pids()
    scheduler.kill()
    killed_at = time.monotonic()
    wait_for(lambda: not _rows_in(stack_runtime, message_id, DeliveryState.SENDING, owners=pids),
             timeout=30, interval=0.1)
    took = time.monotonic() - killed_at
    limit = stack_settings.lease_seconds + stack_settings.sweep_interval_seconds
    assert took <= limit + 3.0, f"orphaned rows waited {took:.1f}s (lease + sweep interval = {limit:.0f}s)"

    sandbox_client.clear_faults()
    wait_finished(stack_runtime, message_id, timeout=120)
    final = assert_each_reached_exactly_once(stack_runtime, sandbox_client, message_id, "sms")
    assert {r.state for r in final} <= {DeliveryState.SENT, DeliveryState.DELIVERED}


def _rows_in(runtime: Runtime, message_id: int, state: str, owners: set[int] | None = None) -> list[str]:
    with runtime.session() as session:
        claimed = session.scalars(select(Delivery.claimed_by).where(
            Delivery.message_id == message_id, Delivery.state == state)).all()
    if owners is None:
        return [c or "" for c in claimed]
    return [c for c in claimed if c and int(c.split(":")[1]) in owners]


# ---------------------------------------------------------------------------------------------
# Redis stopped mid-send and started again (a Redis of the test's own, empty after the restart).


class OwnRedis:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.dir = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._pings, timeout=10, interval=0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _pings(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        if in_ci():
            pytest.fail("redis-server is not installed; CI=true requires it for the Redis outage test")
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def outage_app(stack_settings: Settings, own_redis: OwnRedis, sandbox_client: SandboxClient) -> Iterator[Flask]:
    app = create_app(replace(stack_settings, broker_url=own_redis.url, redis_url=own_redis.url, rate_sms=150))
    server = LiveServer(app, int(stack_settings.public_url.rsplit(":", 1)[1])).start()
    with app.app_context():
        yield app
    server.stop()


def test_redis_stopped_for_three_seconds_mid_send_loses_nothing(
    outage_app: Flask, own_redis: OwnRedis, sandbox_client: SandboxClient, tmp_path: Path
) -> None:
    runtime: Runtime = outage_app.extensions["hub"]
    add_residents(runtime, 1000)
    workers = [WorkerProcess(runtime.settings, tmp_path / f"w{n}.log", concurrency=2).start() for n in range(2)]
    try:
        message_id = send(runtime, channels=["sms"])
        wait_for(lambda: len(sandbox_client.inbox("sms")) >= 250, timeout=60, interval=0.05)
        own_redis.stop()
        time.sleep(3.0)
        own_redis.start()
        wait_finished(runtime, message_id, timeout=180)
    finally:
        stop_all(workers)
    final = assert_each_reached_exactly_once(runtime, sandbox_client, message_id, "sms")
    assert len(final) == 1000
    assert {r.state for r in final} <= {DeliveryState.SENT, DeliveryState.DELIVERED}, \
        [(r.state, r.error) for r in rows(runtime, message_id) if r.state not in ("sent", "delivered")][:5]


def test_database_connections_cut_mid_send_lose_nothing(
    stack_runtime: Runtime, sandbox_client: SandboxClient, tmp_path: Path
) -> None:
    """As in a PostgreSQL failover or restart: every connection of the workers is cut, again and again."""
    add_residents(stack_runtime, 1000)
    # Only the workers' connections are cut (other test runs may share this database).
    marker = f"hub-blip-{uuid.uuid4().hex[:8]}"
    # A blip shorter than the workers' lease (3 s in these tests): the 3-second storm of cuts, on a
    # busy machine, could keep a live worker from renewing its lease for longer than that, and a
    # lapsed lease rightly makes its e-mail rows "unknown" (the worker may have died after sending).
    settings = replace(stack_runtime.settings, lease_seconds=10,
                       database_url=f"{stack_runtime.settings.database_url}&application_name={marker}")
    worker = WorkerProcess(settings, tmp_path / "worker.log", concurrency=2).start()
    try:
        message_id = send(stack_runtime, channels=["sms", "email"])
        wait_for(lambda: len(sandbox_client.inbox("sms")) >= 150, timeout=60, interval=0.05)
        cut = 0
        storm_ends = time.monotonic() + 3.0
        with get_engine(stack_runtime.settings.database_url).connect() as conn:
            while time.monotonic() < storm_ends:
                cut += conn.scalar(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                        "WHERE application_name = :marker"), {"marker": marker}) or 0
                conn.commit()
                time.sleep(0.05)
        assert cut > 10, "the workers' connections were not cut"
        wait_finished(stack_runtime, message_id, timeout=180)
    finally:
        worker.stop()
    for channel in ("sms", "email"):
        final = assert_each_reached_exactly_once(stack_runtime, sandbox_client, message_id, channel)
        assert len(final) == 1000
        assert {r.state for r in final} <= {DeliveryState.SENT, DeliveryState.DELIVERED}, \
            [(r.state, r.error) for r in final if r.state not in ("sent", "delivered")][:5]
