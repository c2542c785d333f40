"""Prometheus exposition, collected from the database at scrape time.

Nothing is kept in the web process: deliveries by channel and state, queue depth and worker
liveness are read (and observed) when Prometheus scrapes, and provider latency and errors are the
fleet's totals that every sending process adds to ``provider_stats`` (hub/health/provider_stats.py).
So any web process answers for the whole fleet, and a restart loses nothing but the moment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import select
from sqlalchemy.orm import load_only

from hub.compose.tally import recent
from hub.health.engine import NO_WORKER, STALLED, EngineHealth, observe
from hub.health.provider_stats import BUCKETS, bucket_label
from hub.models import Message
from hub.models.health import ProviderStat
from hub.relay import clock
from hub.runtime import Runtime

WINDOW = timedelta(hours=24)  # deliveries are counted for messages created this recently
# A large message's shared count (hub/compose/tally.py) serves a scrape this long: counting a
# million-row send at every 15 s scrape would cost the database more than the send's own writes.
SHARED_COUNT_MAX_AGE = 60.0


class HubCollector(Collector):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        health = observe(self.rt)
        yield from self._deliveries()
        yield from _engine(health)
        yield from self._providers()

    def _deliveries(self) -> Iterator[Metric]:
        since = clock.now() - WINDOW
        family = GaugeMetricFamily("hub_deliveries", "Delivery rows of messages created in the last 24 hours",
                                   labels=["channel", "state"])
        totals: Counter[tuple[str, str]] = Counter()
        with self.rt.session() as session:
            messages = list(session.scalars(select(Message).where(Message.created_at >= since)
                                            .options(load_only(Message.id, Message.public_id, Message.state))))
            for tally in recent(session, messages, self.rt.tallies, max_age=SHARED_COUNT_MAX_AGE):
                for channel, state, _reason, n in tally.rows:
                    totals[(channel, state)] += n
        for (channel, state), n in sorted(totals.items()):
            family.add_metric([channel, state], n)
        yield family

    def _providers(self) -> Iterator[Metric]:
        self.rt.provider_stats.flush()  # this process's own latest counts too, when it also sends
        with self.rt.session() as session:
            stats = session.execute(select(ProviderStat.channel, ProviderStat.name, ProviderStat.label,
                                           ProviderStat.value)).all()
        latency = HistogramMetricFamily("hub_provider_request_seconds",
                                        "Provider request latency, from the request to its answer",
                                        labels=["channel"])
        errors = CounterMetricFamily("hub_provider_errors", "Rows a provider request ended in error for, by "
                                     "outcome (not_sent: the request never reached the provider)",
                                     labels=["channel", "outcome"])
        for channel in sorted({s.channel for s in stats}):
            mine = {(s.name, s.label): s.value for s in stats if s.channel == channel}
            cumulative, buckets = 0.0, []
            for bound in BUCKETS:
                cumulative += mine.get(("latency_bucket", bucket_label(bound)), 0.0)
                buckets.append((bucket_label(bound), cumulative))
            buckets.append(("+Inf", cumulative + mine.get(("latency_bucket", "+Inf"), 0.0)))
            latency.add_metric([channel], buckets, mine.get(("latency_sum", ""), 0.0))
            for (name, label), value in sorted(mine.items()):
                if name == "errors":
                    errors.add_metric([channel, label], value)
        yield latency
        yield errors
        bounces = {(s.name, s.label): s.value for s in stats if s.channel == "email"}
        reports = CounterMetricFamily("hub_bounce_reports", "Messages read from the bounce mailbox, by what "
                                      "became of them (kept: left for the next round)", labels=["outcome"])
        for outcome in ("recorded", "ignored", "kept"):
            reports.add_metric([outcome], bounces.get(("bounce_reports", outcome), 0.0))
        yield reports
        mailbox_errors = CounterMetricFamily("hub_bounce_mailbox_errors",
                                             "Rounds that could not read the bounce mailbox (login, network, TLS)")
        mailbox_errors.add_metric([], bounces.get(("bounce_mailbox", "error"), 0.0))
        yield mailbox_errors


def _engine(health: EngineHealth) -> Iterator[Metric]:
    live = GaugeMetricFamily("hub_workers_live", "Worker nodes whose heartbeat is moving")
    live.add_metric([], len(health.live_workers))
    yield live
    up = GaugeMetricFamily("hub_worker_up", "1 while the worker node's heartbeat moves", labels=["node", "host"])
    for w in health.workers:
        up.add_metric([w.node, w.host], 1 if w.alive else 0)
    yield up
    queued = GaugeMetricFamily("hub_queue_depth", "Tasks waiting in the broker, per lane (queue)", labels=["lane"])
    pending = GaugeMetricFamily("hub_pending_deliveries", "Delivery rows not yet settled, per lane",
                                labels=["lane"])
    for lane in health.lanes:
        if lane.queued is not None:
            queued.add_metric([lane.name], lane.queued)
        pending.add_metric([lane.name], lane.pending)
    yield queued
    yield pending
    oldest = GaugeMetricFamily("hub_oldest_pending_delivery_age_seconds",
                               "Age of the oldest send with unsettled rows (0 when none)")
    oldest.add_metric([], health.oldest_pending_seconds or 0.0)
    yield oldest
    state = GaugeMetricFamily("hub_engine_state", "1 for the engine's current state", labels=["state"])
    for name in ("ok", STALLED, NO_WORKER):
        state.add_metric([name], 1 if health.state == name else 0)
    yield state
    stalled = GaugeMetricFamily("hub_stalled_sends", "Sends with due rows and no progress for the stall limit")
    stalled.add_metric([], len(health.stalled))
    yield stalled


def exposition(rt: Runtime) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(rt))
    return generate_latest(registry)
