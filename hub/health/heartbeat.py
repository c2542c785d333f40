"""A worker node's heartbeat: one row per node, written by its main process on the sweeper's timer.

The main process beats, not the pool children: it is what consumes the lanes. A node whose children
all hang still beats, and is caught instead by the stall check (sends without progress).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from hub.models import utcnow
from hub.models.health import WorkerHeartbeat
from hub.runtime import Runtime

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, node: str, lanes: Iterable[str]) -> None:
        self.node = node[:200]
        self.lanes = ",".join(sorted(lanes))[:200]

    def start(self, rt: Runtime) -> None:
        """Announce the node (a restarted node keeps its row and its count goes on growing)."""
        now = utcnow()
        values = {"host": socket.gethostname()[:100], "pid": os.getpid(), "lanes": self.lanes,
                  "started_at": now, "last_seen_at": now, "stopped_at": None}
        with rt.session() as session:
            changed = session.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.node == self.node)
                                      .values(beats=WorkerHeartbeat.beats + 1, **values))
            if not getattr(changed, "rowcount", 0):
                session.add(WorkerHeartbeat(node=self.node, beats=1, **values))
        log.info("worker %s (lanes %s) announced", self.node, self.lanes)

    def __call__(self, rt: Runtime) -> None:
        with rt.session() as session:
            changed = session.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.node == self.node)
                                      .values(beats=WorkerHeartbeat.beats + 1, last_seen_at=utcnow(),
                                              stopped_at=None))
        if not getattr(changed, "rowcount", 0):  # someone pruned the row: announce again
            with contextlib.suppress(IntegrityError):
                self.start(rt)

    def stop(self, rt: Runtime) -> None:
        """A clean shutdown: the node is gone at once, not after the silence limit."""
        with rt.session() as session:
            session.execute(update(WorkerHeartbeat).where(WorkerHeartbeat.node == self.node)
                            .values(stopped_at=utcnow()))
