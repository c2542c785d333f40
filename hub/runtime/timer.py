"""A worker's background rounds (the sweeper, the status applier): one daemon thread each."""

from __future__ import annotations

import logging
import threading
from typing import ClassVar

from flask import Flask

from hub.runtime import Runtime

log = logging.getLogger(__name__)


class AppTimer:
    """Runs :meth:`tick` every ``interval`` seconds inside the app context.

    A round that fails (a database or broker blip) is logged; the next round tries again.
    """

    name: ClassVar[str] = "hub-timer"  # the thread's name, and what the log calls a failed round

    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._stop = threading.Event()

    def tick(self, runtime: Runtime) -> None:
        raise NotImplementedError

    def start(self) -> AppTimer:
        threading.Thread(target=self._run, name=self.name, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self.app.app_context():
                    self.tick(self.app.extensions["hub"])
            except Exception:
                log.exception("%s round failed; trying again in %.0f s", self.name, self.interval)
