"""Delivers provider-to-hub HTTP calls (status callbacks, TwiML fetches) off the request path.

The API answers at once, as the real providers do; what happens "later" is a job of ordered
steps on a time-ordered heap served by a fixed pool of threads.  A step runs when due, may
change resource state and return an outgoing HTTP call; the next step of the same job is then
scheduled, so callbacks of one message always arrive in order (sent before delivered) while a
few threads serve thousands of messages.  Connections are kept alive per thread and host.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from sandbox.http_out import HttpClient, Reply
from sandbox.inbox import Stats

log = logging.getLogger("sandbox.callbacks")


@dataclass(slots=True)
class Outgoing:
    url: str
    method: str = "POST"
    form: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    stat: str = "callbacks"


# A step returns the HTTP call to make now (or None), and gets the reply (None on failure).
Step = Callable[[], "Outgoing | None"]
AfterReply = Callable[["Reply | None"], None]


@dataclass(slots=True)
class JobStep:
    run: Step
    gap: float = 0.0
    after: AfterReply | None = None


@dataclass(order=True, slots=True)
class _Entry:
    due: float
    seq: int
    generation: int = field(compare=False)
    steps: list[JobStep] = field(compare=False)


class HttpSender:
    """Outgoing calls described by ``Outgoing``; one keep-alive connection per thread and host."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.client = HttpClient(timeout)

    def send(self, out: Outgoing) -> Reply:
        """Form-encoded: in the body for POST, appended to the query string for GET."""
        encoded = urlencode(out.form)
        if out.method.upper() == "GET":
            url = out.url + (("&" if "?" in out.url else "?") + encoded if encoded else "")
            return self.client.request("GET", url, out.headers, None)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **out.headers}
        return self.client.request(out.method, out.url, headers, encoded.encode("utf-8"))

    def send_raw(self, out: Outgoing, body: bytes) -> Reply:
        return self.client.request(out.method, out.url, out.headers, body)


class CallbackDispatcher:
    def __init__(self, stats: Stats, workers: int = 4, timeout: float = 10.0) -> None:
        self.stats = stats
        self.sender = HttpSender(timeout)
        self._heap: list[_Entry] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._generation = 0
        self._in_flight = 0
        self._running = False
        self._threads: list[threading.Thread] = []
        self._workers = workers

    def start(self) -> None:
        self._running = True
        for number in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"sandbox-callbacks-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def schedule(self, steps: Sequence[JobStep]) -> None:
        """Run ``steps`` in order, each ``gap`` seconds after the previous one (the first: after its own)."""
        if not steps:
            return
        with self._cond:
            entry = _Entry(time.monotonic() + steps[0].gap, next(self._seq), self._generation, list(steps))
            heapq.heappush(self._heap, entry)
            self._cond.notify()

    def clear(self) -> None:
        """Drop pending jobs; steps already running finish but their follow-ups are dropped."""
        with self._cond:
            self._heap = []
            self._generation += 1
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._in_flight

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.05))
        return True

    def _next_due(self) -> _Entry | None:
        with self._cond:
            while self._running:
                if self._heap:
                    wait = self._heap[0].due - time.monotonic()
                    if wait <= 0:
                        self._in_flight += 1
                        return heapq.heappop(self._heap)
                    self._cond.wait(wait)
                else:
                    self._cond.wait()
            return None

    def _work(self) -> None:
        while True:
            entry = self._next_due()
            if entry is None:
                return
            try:
                self._run_steps(entry)
            finally:
                with self._cond:
                    self._in_flight -= 1
                    # Only wait_idle() cares; waking every worker after every step would cost
                    # more than the callbacks themselves.
                    if not self._heap and not self._in_flight:
                        self._cond.notify_all()

    def _run_steps(self, entry: _Entry) -> None:
        """Run the due step and any that follow without a gap; re-queue the rest."""
        while entry.steps and entry.generation == self._generation:
            self._run_one(entry.steps.pop(0))
            if entry.steps and entry.steps[0].gap > 0:
                with self._cond:
                    if entry.generation == self._generation:
                        due = time.monotonic() + entry.steps[0].gap
                        heapq.heappush(
                            self._heap, _Entry(due, next(self._seq), entry.generation, entry.steps)
                        )
                        self._cond.notify()
                return

    def _run_one(self, step: JobStep) -> None:
        reply: Reply | None = None
        try:
            out = step.run()
            if out is not None:
                try:
                    reply = self.sender.send(out)
                    self.stats.incr(f"{out.stat}.sent" if reply.status < 400 else f"{out.stat}.rejected")
                except OSError as exc:
                    self.stats.incr(f"{out.stat}.failed")
                    log.info("callback to %s failed: %s", out.url, exc)
            if step.after is not None:
                step.after(reply)
        except Exception:
            log.exception("sandbox job step failed")
