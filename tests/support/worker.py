"""Real Celery worker processes for end-to-end tests (the production code path, not eager mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

from hub.config import Settings
from hub.dispatch.lanes import LANES


def settings_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for f in fields(Settings):
        value = getattr(settings, f.name)
        env[f"HUB_{f.name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


class WorkerProcess:
    """One ``celery worker`` (its own process group, so SIGKILL takes the pool children too)."""

    def __init__(self, settings: Settings, log_path: Path, concurrency: int = 2, beat: bool = False,
                 lanes: tuple[str, ...] = LANES) -> None:
        self.settings = settings
        self.lanes = lanes
        self.log_path = log_path
        self.concurrency = concurrency
        self.beat = beat
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        argv = [sys.executable, "-m", "celery", "-A", "hub.worker:celery", "worker", "-Q", ",".join(self.lanes),
                "--concurrency", str(self.concurrency), "--loglevel", "INFO", "--without-gossip",
                "--without-mingle", "--without-heartbeat"]
        if self.beat:
            argv += ["--beat", "--schedule", str(self.log_path.with_suffix(".schedule"))]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(argv, env=settings_env(self.settings), stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if b" ready." in self.log_path.read_bytes():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker: nothing gets to clean up, as when a machine dies."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def pool_pids(self) -> set[int]:
        """The worker's pool processes (the ones that claim rows)."""
        if self.proc is None:
            return set()
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields_ = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields_[1]) == self.proc.pid:
                children.add(int(stat.parent.name))
        return children | {self.proc.pid}

    def stop(self) -> None:
        stop_all([self])

    def _terminate(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)

    def _wait_or_kill(self, deadline: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()


def stop_all(workers: list[WorkerProcess], grace: float = 8.0) -> None:
    """Warm shutdown for all at once, then SIGKILL whoever is left when the grace ends. Tests have
    what they need by now; a warm shutdown holding countdown tasks can dawdle, and two workers
    stopped one after the other would dawdle twice."""
    for worker in workers:
        worker._terminate()
    deadline = time.monotonic() + grace
    for worker in workers:
        worker._wait_or_kill(deadline)
