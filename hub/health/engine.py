"""The delivery engine as the watcher sees it: live workers, queue depth per lane, stalled sends.

Liveness and progress are judged from what the watcher itself observed, on its own clock
(:func:`hub.relay.clock.now`, the controllable clock): a worker is alive while its beat count keeps
changing, a send progresses while its settled-row count keeps changing. Nothing compares a
timestamp written on another machine with this machine's clock, so clock skew between hosts can
neither raise nor hide an alarm, and a test clock moved by hand never makes a beating worker look
dead. Every reader (``/healthz``, the dashboard, ``hub watchdog``, ``/metrics``) observes, so the
observations stay fresh wherever someone is looking.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hub.dispatch.lanes import LANES, lane_for
from hub.health.queues import broker_depths
from hub.models import TERMINAL_STATES, Delivery, DeliveryState, Message, MessageState
from hub.models.health import EngineObservation, WorkerHeartbeat
from hub.relay import clock
from hub.runtime import Runtime

OK, STALLED, NO_WORKER = "ok", "stalled", "no_worker"
SHOWN_FOR = timedelta(days=1)  # gone workers are listed this long (by their last beat)
FORGOTTEN_AFTER = timedelta(days=7)  # and their rows kept this long


def watched_queues() -> tuple[str, ...]:
    """The lanes, and Celery's default queue while routing does not use them yet."""
    from celery import current_app as celery

    return tuple(dict.fromkeys((*LANES, str(celery.conf.task_default_queue))))


@dataclass
class WorkerView:
    node: str
    host: str
    lanes: list[str]
    last_seen_at: datetime  # by the worker's own clock: for people, not for judging
    alive: bool
    silent_seconds: float  # how long the watcher has seen no beat
    stopped: bool = False  # shut down cleanly (a deploy, a restart), as opposed to gone silent


@dataclass
class LaneView:
    name: str
    queued: int | None  # tasks waiting in the broker (None: this broker cannot be read)
    pending: int  # delivery rows not yet settled (pending, sending, checking)
    oldest_pending_seconds: float | None


@dataclass
class StalledSend:
    message_id: int
    title: str
    lane: str
    seconds: float  # without a settled row, with rows due all along


@dataclass
class EngineHealth:
    state: str
    checked_at: datetime
    workers_required: bool
    workers: list[WorkerView] = field(default_factory=list)
    lanes: list[LaneView] = field(default_factory=list)
    stalled: list[StalledSend] = field(default_factory=list)
    oldest_pending_seconds: float | None = None

    @property
    def live_workers(self) -> list[WorkerView]:
        return [w for w in self.workers if w.alive]

    @property
    def ok(self) -> bool:
        return self.state == OK

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["checked_at"] = self.checked_at.isoformat()
        for worker in out["workers"]:
            worker["last_seen_at"] = worker["last_seen_at"].isoformat()
        out["live_workers"] = len(self.live_workers)
        return out


def observe(rt: Runtime, queues: tuple[str, ...] | None = None) -> EngineHealth:
    """Look at the engine now, remember what changed, and say whether it is stalled."""
    now = clock.now()
    settings = rt.settings
    silence = timedelta(seconds=settings.worker_silence_seconds)
    with rt.session() as session:
        workers = _workers(session, now, silence)
        fleet = "live" if any(w.alive for w in workers) else "none"
        without_since = _remember(session, "fleet", fleet, now)
        sends, stalled = _sends(session, now, timedelta(seconds=settings.stall_alarm_seconds))
    health = EngineHealth(state=OK, checked_at=now, workers_required=not settings.tasks_eager,
                          workers=workers, stalled=stalled)
    depths = broker_depths(settings, queues or watched_queues())
    for name in depths:
        rows = [s for s in sends if s.lane == name]
        health.lanes.append(LaneView(name=name, queued=depths[name], pending=sum(s.busy for s in rows),
                                     oldest_pending_seconds=_oldest(rows, now)))
    health.oldest_pending_seconds = _oldest(sends, now)
    # When the last worker to beat went silent, it has had its silence period already. When it shut
    # down cleanly (a deploy restarting the workers), or none was ever seen (a fleet starting), they
    # get one silence period on this watcher's clock to come back before it is an outage. (A worker
    # that died silently long before, and is still listed, does not make a deploy an outage.)
    last_to_beat = min(workers, key=lambda w: w.silent_seconds, default=None)
    went_silent = last_to_beat is not None and not last_to_beat.stopped
    if health.workers_required and fleet == "none" and (went_silent or now - without_since >= silence):
        health.state = NO_WORKER
    elif stalled:
        health.state = STALLED
    return health


def _remember(session: Session, subject: str, fingerprint: str, now: datetime, reset: bool = False) -> datetime:
    """When ``subject`` last changed, as this watcher saw it; ``reset``: count it as changed now."""
    row = session.get(EngineObservation, subject)
    if row is None:
        # Another watcher may record it at the same moment: its view is as good as ours.
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(EngineObservation).values(subject=subject, fingerprint=fingerprint, changed_at=now,
                                                         seen_at=now).on_conflict_do_nothing())
        return now
    if reset or row.fingerprint != fingerprint or clock.aware(row.changed_at) > now:
        row.fingerprint, row.changed_at = fingerprint, now
    row.seen_at = now
    return clock.aware(row.changed_at)


def _workers(session: Session, now: datetime, silence: timedelta) -> list[WorkerView]:
    views = []
    for hb in session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.node)):
        changed = _remember(session, f"worker:{hb.node}", str(hb.beats), now)
        silent = (now - changed).total_seconds()
        alive = hb.stopped_at is None and now - changed < silence
        last_seen = clock.aware(hb.last_seen_at)
        if alive or now - last_seen < SHOWN_FOR:
            views.append(WorkerView(node=hb.node, host=hb.host, lanes=[x for x in hb.lanes.split(",") if x],
                                    last_seen_at=last_seen, alive=alive, silent_seconds=round(silent, 1),
                                    stopped=hb.stopped_at is not None))
        elif now - last_seen > FORGOTTEN_AFTER:
            session.delete(hb)
            session.execute(delete(EngineObservation).where(EngineObservation.subject == f"worker:{hb.node}"))
    return views


@dataclass
class _Send:
    message_id: int
    title: str
    lane: str
    since: datetime  # planned (or due, when it never was)
    busy: int


def _sends(session: Session, now: datetime, limit: timedelta) -> tuple[list[_Send], list[StalledSend]]:
    """Sends that should be moving: queued, or scheduled and due (planning is the engine's job too)."""
    active = session.execute(select(Message.id, Message.title, Message.msg_type, Message.planned_at,
                                    Message.created_at, Message.scheduled_at).where(or_(
        Message.state == MessageState.QUEUED,
        and_(Message.state == MessageState.SCHEDULED, Message.scheduled_at <= now),
    )).order_by(Message.id)).all()  # one order for every watcher: concurrent ones never deadlock
    ids = [m.id for m in active]
    counts: dict[int, tuple[int, int, int, int]] = {}
    if ids:
        busy = Delivery.state.in_((DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.CHECKING))
        due = or_(Delivery.state == DeliveryState.SENDING,
                  and_(busy, or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now)))
        for row in session.execute(
            select(Delivery.message_id, func.count(),
                   func.sum(case((Delivery.state.in_(TERMINAL_STATES), 1), else_=0)),
                   func.sum(case((busy, 1), else_=0)), func.sum(case((due, 1), else_=0)))
            .where(Delivery.message_id.in_(ids)).group_by(Delivery.message_id)
        ):
            counts[row[0]] = (int(row[1]), int(row[2] or 0), int(row[3] or 0), int(row[4] or 0))
    sends, stalled = [], []
    for m in active:
        total, settled, busy_rows, due_rows = counts.get(m.id, (0, 0, 0, 0))
        planned = m.planned_at is not None
        waiting = planned and not due_rows  # every open row waits for its retry time: not stuck
        changed = _remember(session, f"message:{m.id}", f"{total}/{settled}" if planned else "unplanned", now,
                            reset=waiting)
        since = clock.aware(m.planned_at or m.scheduled_at or m.created_at)
        lane = lane_for(m.msg_type)
        sends.append(_Send(m.id, m.title, lane, since, busy_rows if planned else 1))
        if (busy_rows or not planned) and now - changed >= limit:
            stalled.append(StalledSend(m.id, m.title, lane, round((now - changed).total_seconds(), 1)))
    # Forget sends that finished: their observations are of no further use.
    keep = [f"message:{i}" for i in ids]
    session.execute(delete(EngineObservation).where(EngineObservation.subject.startswith("message:"),
                                                    EngineObservation.subject.not_in(keep)))
    return sends, stalled


def _oldest(sends: list[_Send], now: datetime) -> float | None:
    open_ = [s.since for s in sends if s.busy]
    return round(max(0.0, (now - min(open_)).total_seconds()), 1) if open_ else None


def lane_counts(health: EngineHealth) -> Counter[str]:
    return Counter({lane.name: lane.pending for lane in health.lanes})
