"""Several provider requests in flight from one worker process, one recipient per request.

Why asyncio and not a thread pool: measured with ``benchmarks/inflight.py`` (1,000 SMS to the
sandbox, 16 in flight, 2-core machine), the Twilio SDK's ``create_async`` on aiohttp costs about
0.3 ms of CPU per request against 0.9 ms for the sync SDK on ``requests`` one at a time and 1.1 ms
in a thread pool (the pool only adds GIL hand-offs); the workers are CPU-bound, so the cheaper
client is the faster one. The stock sync ``TwilioHttpClient`` is also unsafe to share between
threads: it returns the answer through an instance attribute (``_test_only_last_response``), so
two concurrent requests can swap their message SIDs.

One event loop per process runs in a daemon thread (started on first use, again after a fork), so
requests go on while the worker writes results to the database. The sending generator stays
synchronous: :class:`channels.base.Channel.deliver` and its guarantees are unchanged.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import Future
from queue import Empty, SimpleQueue
from typing import Any, TypeVar

from channels.base import DeliveryResult, Recipient, Requesting, SendEvent, crashed_result
from channels.errors import DeliveryError, TransientError

T = TypeVar("T")

# What becomes of one answered request: its result, and an error that must stop the batch (a
# timeout, a 429, the provider unreachable) or None. No result: the error itself is the row's
# answer (a 429, a refused connection), and deliver() settles the row from it, as when one request
# at a time raised it.
Settled = tuple[DeliveryResult | None, BaseException | None]


class _Loop:
    """The process's event loop for provider requests, in a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = -1
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # a forked child has no loop thread
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="hub-requests", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.get())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.submit(coro).result()


request_loop = _Loop()


def done_future(call: Callable[[Recipient], Any], recipient: Recipient) -> Future[Any]:
    """Run a synchronous request now, as a finished future (one request at a time)."""
    future: Future[Any] = Future()
    try:
        future.set_result(call(recipient))
    except Exception as exc:
        future.set_exception(exc)
    return future


def send_in_flight(
    recipients: Sequence[Recipient],
    limit: int,
    before_request: Callable[[], None],
    start: Callable[[Recipient], Future[Any]],
    settle: Callable[[Recipient, Future[Any]], Settled],
) -> Iterator[SendEvent]:
    """One request per recipient, at most ``limit`` unanswered at a time.

    For each recipient, in order: ``before_request()`` (the shared token bucket), then
    ``Requesting`` is yielded (so the request is known before it is made), then ``start`` makes
    it. Answers are yielded as results as they come. An error that concerns the whole batch — from
    ``before_request``, ``start`` or an answer — stops new requests; the requests already in flight
    still finish and report (their rows are never left to be guessed), and the error is raised
    after them, so :meth:`Channel.deliver` retries the rows never requested.
    """
    pending: dict[Future[Any], Recipient] = {}
    # Answers in the order they come, put there by the request loop: taking them costs the same
    # whatever the number in flight (looking at every pending future did not).
    answers: SimpleQueue[Future[Any]] = SimpleQueue()
    stop: BaseException | None = None  # the first error: nothing new starts after it
    raised: BaseException | None = None  # what deliver() settles the unanswered rows from

    def answered(futures: Sequence[Future[Any]]) -> Iterator[DeliveryResult]:
        nonlocal stop, raised
        for future in futures:
            result, error = settle(pending.pop(future), future)
            if error is not None:
                stop = stop or error
                raised = _settles_more(raised, error)
            if result is not None:
                yield result

    def arrived(block: bool) -> list[Future[Any]]:
        futures = [answers.get()] if block else []
        try:
            while True:
                futures.append(answers.get_nowait())
        except Empty:
            return futures

    try:
        for recipient in recipients:
            yield from answered(arrived(block=False))
            while len(pending) >= limit and stop is None:
                yield from answered(arrived(block=True))
            if stop is not None:
                break
            try:
                before_request()
            except Exception as exc:
                stop = raised = exc
                break
            yield Requesting((recipient.delivery_id,))
            try:
                future = start(recipient)
            except Exception as exc:  # our own failure once the request may have begun: in doubt
                yield crashed_result(recipient.delivery_id, True, repr(exc))
                stop = raised = _settles_more(raised, exc)
                break
            pending[future] = recipient
            future.add_done_callback(answers.put)
        while pending:
            yield from answered(arrived(block=True))
    finally:
        # Left early (the batch was taken over, the worker stops): what is still in flight is
        # abandoned; its rows stay "sending" and are reconciled with the provider like a crash.
        for future in pending:
            future.cancel()
    if raised is not None:
        raise raised


def _settles_more(first: BaseException | None, later: BaseException) -> BaseException:
    """The error deliver() should settle the unanswered rows from: the first one, unless it was a
    lost answer (its row already has its own result) and a later request got a 429, a refusal or
    bad credentials, which say what became of their rows (no attempt used, or failed)."""
    if first is None:
        return later
    if type(first) is TransientError and isinstance(later, DeliveryError):
        return later
    return first
