"""Failure injection: the next N matching requests of a channel fail in a chosen way.

A fault is consumed by the request it hits, so a test can say "the first send gets a 429, the
retry goes through" without timing games.  ``count=0`` keeps a fault until it is cleared, for
demos where one address should always bounce.  ``probability`` makes a storm: each matching
request fails with that chance, independently, until the fault is cleared.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.constants import DEFAULT_TIMEOUT_FAULT_DELAY

# Which kinds make sense where; anything else is refused at injection time so a typo in a test
# fails loudly instead of silently injecting nothing.
KINDS_BY_CHANNEL: dict[str, frozenset[str]] = {
    "sms": frozenset({"429", "500", "timeout", "invalid_number", "queue_full", "undelivered"}),
    "voice": frozenset({"429", "500", "timeout", "invalid_number", "no_answer", "busy"}),
    "line": frozenset({"429", "500", "timeout", "duplicate"}),
    "x": frozenset({"429", "500", "timeout", "duplicate"}),
    # bounce*: accepted, then a delivery report to the return path (sandbox/dsn.py).
    "email": frozenset({"429", "500", "timeout", "mailbox_550", "bounce", "bounce_full", "bounce_delayed"}),
    # The second SMS gateway: its faults are its own, so one gateway can fail while the other works.
    "karaden": frozenset({"429", "500", "timeout", "invalid_number", "undelivered"}),
    # The LibreTranslate-compatible translator (matched against the target language).
    "translate": frozenset({"429", "500", "timeout"}),
}
ALL_KINDS = frozenset().union(*KINDS_BY_CHANNEL.values())


@dataclass
class Fault:
    channel: str
    kind: str
    count: int
    match: str | None = None
    delay: float | None = None
    probability: float | None = None
    used: int = 0

    @property
    def unlimited(self) -> bool:
        return self.count == 0 or self.probability is not None

    @property
    def timeout_delay(self) -> float:
        return DEFAULT_TIMEOUT_FAULT_DELAY if self.delay is None else self.delay

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["remaining"] = None if self.unlimited else self.count - self.used
        return data


def parse_fault_spec(spec: str) -> tuple[str, str, int]:
    """``CH:KIND[:COUNT]`` as given on the command line."""
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise ValueError(f"fault must look like CHANNEL:KIND[:COUNT], got {spec!r}")
    count = int(parts[2]) if len(parts) == 3 else 1
    return parts[0], parts[1], count


class FaultBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def inject(
        self, channel: str, kind: str, count: int = 1, match: str | None = None, delay: float | None = None,
        probability: float | None = None,
    ) -> Fault:
        if channel not in KINDS_BY_CHANNEL:
            raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(KINDS_BY_CHANNEL)}")
        if kind not in KINDS_BY_CHANNEL[channel]:
            allowed = ", ".join(sorted(KINDS_BY_CHANNEL[channel]))
            raise ValueError(f"fault kind {kind!r} does not apply to {channel}; use one of {allowed}")
        if count < 0:
            raise ValueError("count must be >= 0 (0 = until cleared)")
        if delay is not None and delay < 0:
            raise ValueError("delay must be >= 0")
        if probability is not None and not 0 < probability <= 1:
            raise ValueError("probability must be in (0, 1]")
        fault = Fault(channel=channel, kind=kind, count=count, match=match or None, delay=delay,
                      probability=probability)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(
        self, channel: str, targets: Iterable[str] = (), kinds: Iterable[str] | None = None
    ) -> Fault | None:
        """Consume and return the first pending fault of ``channel`` that matches one of ``targets``."""
        if not self._faults:  # the hot path of a benchmark: no lock when nothing is injected
            return None
        wanted = frozenset(kinds) if kinds is not None else None
        target_list = list(targets)
        with self._lock:
            for fault in self._faults:
                if fault.channel != channel or (wanted is not None and fault.kind not in wanted):
                    continue
                if fault.match is not None and not any(fault.match in t for t in target_list):
                    continue
                if fault.probability is not None and random.random() >= fault.probability:
                    continue
                fault.used += 1
                if not fault.unlimited and fault.used >= fault.count:
                    self._faults.remove(fault)
                return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults = []
