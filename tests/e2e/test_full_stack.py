"""One message to 1,000+ contacts over six channels through real workers, Redis and PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from hub.demo.seed import seed_demo
from hub.dispatch.sweeper import sweep
from hub.models import TERMINAL_STATES
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import ALL_CHANNELS, counts, rows, send, wait_for
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow


def _finished(runtime: Runtime, message_id: int) -> bool:
    c = counts(runtime, message_id)
    planned = sum(sum(v.values()) for v in c.values())
    return planned > 0 and all(v["pending"] == 0 for v in c.values())


def test_six_channels_thousand_contacts_every_copy_once(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess]
) -> None:
    with stack_runtime.session() as session:
        seed_demo(session, residents=1000, staff=50)
    worker_factory().start()
    message_id = send(stack_runtime, title="避難指示", body="○○川が氾濫するおそれ。直ちに避難してください。",
                      channels=ALL_CHANNELS)

    wait_for(lambda: _finished(stack_runtime, message_id), timeout=240, interval=1.0)
    # Carriers confirm later: wait for every SMS and call to be settled by its signed callback.
    wait_for(lambda: all(counts(stack_runtime, message_id)[ch]["sent"] == 0 for ch in ("sms", "voice")),
             timeout=60, interval=1.0)

    all_rows = rows(stack_runtime, message_id)
    assert len(all_rows) > 1000 * 2
    assert all(r.state in TERMINAL_STATES for r in all_rows)
    for channel in ["sms", "voice", "email", "line"]:
        reached = {r.address for r in all_rows if r.channel == channel and r.state in ("sent", "delivered")}
        copies = Counter(item["to"] for item in sandbox_client.inbox(channel))
        assert len(reached) > 300, channel
        assert set(copies) == reached, channel
        assert max(copies.values()) == 1, f"duplicate on {channel}"
    assert len(sandbox_client.inbox("x")) == 1
    assert counts(stack_runtime, message_id)["rss"]["delivered"] == 1
    assert sum(r.channel == "sms" and r.state == "delivered" for r in all_rows) > 300
    # LINE is sent as multicasts of up to 500: far fewer API calls than recipients.
    line_rows = sum(r.channel == "line" and r.state == "sent" for r in all_rows)
    assert sandbox_client.stats().get("line.multicast", 0) <= -(-line_rows // 200) + 4


def test_worker_killed_mid_batch_no_duplicates_no_gaps(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess]
) -> None:
    with stack_runtime.session() as session:
        seed_demo(session, residents=1300, staff=0)
    first = worker_factory(concurrency=2).start()
    # Slow the send down (shared Redis rate limit) so the kill lands in the middle of batches.
    message_id = send(stack_runtime, channels=["sms"])

    def some_sent() -> bool:
        return len(sandbox_client.inbox("sms")) >= 150
    wait_for(some_sent, timeout=60, interval=0.05)
    first.kill()
    stranded = counts(stack_runtime, message_id)["sms"]["pending"]
    assert stranded > 0, "the kill came too late to test anything"

    worker_factory(concurrency=2).start()
    deadline = time.monotonic() + 180
    while not _finished(stack_runtime, message_id) and time.monotonic() < deadline:
        time.sleep(1.0)
        sweep()  # the periodic sweeper (celery beat in production)
    assert _finished(stack_runtime, message_id), counts(stack_runtime, message_id)

    sms_rows = rows(stack_runtime, message_id, "sms")
    sendable = [r for r in sms_rows if r.state != "skipped"]
    copies = Counter(item["to"] for item in sandbox_client.inbox("sms"))
    assert len(sendable) >= 1000
    dupes = {a for a, n in copies.items() if n > 1}
    assert not dupes, ("a recipient got a second copy", [
        (r.address, r.state, r.attempts, r.provider_id, r.error) for r in sms_rows if r.address in dupes][:5],
        [(i["to"], i["provider_id"], i["received_at"]) for i in sandbox_client.inbox("sms") if i["to"] in dupes][:6])
    assert set(copies) == {r.address for r in sendable}, "a recipient was missed"
    assert all(r.state in ("sent", "delivered") for r in sendable)
