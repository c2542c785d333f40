"""What the benchmarks read of the stack's processes: resident memory and CPU, from /proc."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(root_pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """A process and all its descendants (a Celery worker is its main process plus its pool)."""
    children = _children() if children is None else children
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_tree_kib(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    return sum(rss_kib(pid) for pid in process_tree(root_pid))


def cpu_seconds(pids: list[int], fields_wanted: slice = slice(11, 15)) -> float:
    """CPU of these processes so far: user + system (children they already reaped included) by
    default; ``SYSTEM`` for the kernel's part alone (on loopback the kernel runs the receiver's
    side of TCP in the sender's system call)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[fields_wanted])  # utime stime cutime cstime
    return total / TICK


SYSTEM = slice(12, 13)


def pids_named(*names: str) -> list[int]:
    """Every process on the machine with one of these command names (PostgreSQL and Redis are shared
    services here, so their figures include whatever else ran on the machine meanwhile)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() in names:
                    found.append(int(entry))
            except OSError:
                continue
    return found


class RssSampler:
    """Peak resident memory of the worker processes while a send runs: the peak of their sum and
    the largest single process (a memory limit applies per process in most deployments)."""

    def __init__(self, roots: list[int], interval: float = 0.5) -> None:
        self.roots = roots
        self.interval = interval
        self.peak_sum_kib = 0
        self.peak_max_kib = 0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        children = _children()
        sizes = [rss_kib(pid) for root in self.roots for pid in process_tree(root, children)]
        self.processes = max(self.processes, len(sizes))
        self.peak_sum_kib = max(self.peak_sum_kib, sum(sizes))
        self.peak_max_kib = max(self.peak_max_kib, max(sizes, default=0))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def result(self) -> dict[str, float]:
        return {"peak_sum_mib": round(self.peak_sum_kib / 1024, 1),
                "peak_process_mib": round(self.peak_max_kib / 1024, 1), "processes": self.processes}


class CpuMeter:
    """CPU seconds each part of the stack used between start() and stop()."""

    def __init__(self, parts: dict[str, Callable[[], list[int]]]) -> None:
        self.parts = parts
        self._start: dict[str, float] = {}
        self.used: dict[str, float] = {}

    def start(self) -> CpuMeter:
        self._start = {name: self._read(name, pids) for name, pids in self.parts.items()}
        return self

    def stop(self) -> dict[str, float]:
        self.used = {name: round(self._read(name, pids) - self._start[name], 2) for name, pids in self.parts.items()}
        return self.used

    @staticmethod
    def _read(name: str, pids: Callable[[], list[int]]) -> float:
        return cpu_seconds(pids(), SYSTEM if "kernel" in name else slice(11, 15))
