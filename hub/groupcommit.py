"""Group commit: concurrent requests that each must make one row durable share one transaction.

A provider posts status callbacks to a web process from many connections at once, each needing
its row committed before it may answer (the provider does not post it again). One transaction
per callback cost a pool checkout, a liveness ping, an INSERT and a COMMIT each; here whoever
finds no write under way (the leader) writes every row queued so far in one INSERT and one COMMIT,
while the others wait for that commit. Rows that arrive during the write go in the next group,
led by the first of them. No thread of its own: with one request at a time it is a plain write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


@dataclass(eq=False)
class _Slot:
    row: Row
    wake: threading.Event = field(default_factory=threading.Event)
    finished: bool = False
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, write: Callable[[Sequence[Row]], None]) -> None:
        self._write = write  # one transaction for all the rows, committed when it returns
        self._lock = threading.Lock()
        self._queue: list[_Slot] = []
        self._writing = False

    def submit(self, row: Row) -> None:
        """Return once ``row`` is committed; raise what the write raised if its group failed."""
        slot = _Slot(row)
        with self._lock:
            self._queue.append(slot)
            leading = not self._writing
            self._writing = True
        if not leading:
            slot.wake.wait()  # set when the row's group is done, or when this slot is to lead
        if not slot.finished:
            self._lead()
        if slot.error is not None:
            raise slot.error

    def _lead(self) -> None:
        with self._lock:
            group, self._queue = self._queue, []
        try:
            self._write([s.row for s in group])
            error: BaseException | None = None
        except BaseException as exc:  # every waiter of the group learns its row was not written
            error = exc
        with self._lock:
            for s in group:
                s.finished, s.error = True, error
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._writing = False
        for s in group:
            s.wake.set()
        if successor is not None:
            successor.wake.set()  # not finished: it leads the rows that came during this write
