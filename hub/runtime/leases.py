"""Worker liveness for delivery rows in ``sending``.

A row in ``sending`` belongs to the worker that claimed it. The sweeper may only reconcile it
(ask the provider, then resend what was not accepted) once that worker is provably gone — its
lease has lapsed. A per-row heartbeat cannot give that guarantee: a throttled or slow batch can
go quiet for longer than any sensible timeout while still about to send.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
import weakref
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, insert, update
from sqlalchemy.orm import Session, sessionmaker

from channels.base import StopDelivery
from hub.models import WorkerLease, utcnow

log = logging.getLogger(__name__)


class OwnershipLost(StopDelivery):
    """Our lease lapsed and the sweeper took the rows over: stop sending this batch at once."""


class DatabaseAway(StopDelivery):
    """Outcomes cannot be recorded: stop sending this batch rather than send what cannot be written."""


_LIVE: weakref.WeakSet[Lease] = weakref.WeakSet()


def release_all() -> None:
    """Stop every renewer in this process (tests, before their database goes away)."""
    for lease in list(_LIVE):
        lease.release()


class Lease:
    def __init__(self, sessions: sessionmaker[Session], ttl_seconds: float,
                 on_renew: Callable[[], None] = lambda: None) -> None:
        self._sessions = sessions
        self.ttl = ttl_seconds
        self._on_renew = on_renew  # other periodic bookkeeping of a process that sends
        self._pid = -1
        self._worker_id = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        _LIVE.add(self)

    @property
    def worker_id(self) -> str:
        """This process's id, renewed in the background; re-created after a fork (Celery prefork)."""
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            return self._worker_id

    def _start(self) -> None:
        self._pid = os.getpid()
        self._worker_id = f"{socket.gethostname()[:40]}:{self._pid}:{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        with self._sessions.begin() as session:
            session.execute(insert(WorkerLease).values(
                worker_id=self._worker_id, host=socket.gethostname()[:100], pid=self._pid,
                started_at=utcnow(), expires_at=utcnow() + timedelta(seconds=self.ttl)))
            # Long-dead workers' leases are of no further use.
            session.execute(delete(WorkerLease).where(WorkerLease.expires_at < utcnow() - timedelta(days=1)))
        thread = threading.Thread(target=self._renew_forever, args=(self._worker_id, self._stop),
                                  name="hub-lease", daemon=True)
        thread.start()

    def _renew_forever(self, worker_id: str, stop: threading.Event) -> None:
        while not stop.wait(self.ttl / 3):
            try:
                with self._sessions.begin() as session:
                    session.execute(update(WorkerLease).where(WorkerLease.worker_id == worker_id)
                                    .values(expires_at=utcnow() + timedelta(seconds=self.ttl)))
            except Exception:  # a database hiccup must not kill the renewer; the next round retries
                log.exception("could not renew worker lease %s", worker_id)
            try:
                self._on_renew()
            except Exception:
                log.exception("periodic bookkeeping of worker %s failed", worker_id)

    def release(self) -> None:
        self._stop.set()
