"""deliver() returns exactly one result per recipient, whatever the adapter does."""

from __future__ import annotations

from collections.abc import Iterable

from channels.base import Batch, Channel, DeliveryResult, Draft, Outcome, Recipient, Rendered
from channels.errors import RateLimited

from .helpers import by_id, recipients


class Flaky(Channel):
    name = "flaky"
    label = "テスト"
    mode = "crash"

    def render(self, draft: Draft) -> Rendered:
        return Rendered(subject=None, text=draft.body)

    def check_address(self, address: str) -> str | None:
        return "invalid_address" if address == "bad" else None

    def _send(self, batch: Batch) -> Iterable[DeliveryResult]:
        first, *_ = batch.recipients
        yield DeliveryResult(first.delivery_id, Outcome.SENT, provider_id="p1")
        if self.mode == "crash":
            raise RuntimeError("boom")
        if self.mode == "rate":
            raise RateLimited("多すぎます", retry_after=7)
        if self.mode == "stranger":
            yield DeliveryResult(999, Outcome.SENT)
            yield DeliveryResult(first.delivery_id, Outcome.FAILED)


def run(mode: str, people: list[Recipient]) -> dict[int, DeliveryResult]:
    ch = Flaky(Flaky.config_class())
    ch.mode = mode
    batch = Batch(message_id=1, batch_no=1, recipients=people, contents={"ja": ch.render(Draft("t", "b"))})
    progress: list[DeliveryResult] = []
    results = ch.deliver(batch, on_progress=progress.extend)
    assert sorted(r.delivery_id for r in progress) == sorted(r.delivery_id for r in results)
    out = by_id(results)
    assert set(out) == {r.delivery_id for r in people}
    return out


def test_adapter_raising_midway_leaves_no_row_behind() -> None:
    out = run("crash", recipients(["a", "b", "bad", "c"]))
    assert out[1].outcome is Outcome.SENT
    assert out[2].outcome is Outcome.UNKNOWN and out[4].outcome is Outcome.UNKNOWN
    assert out[3].outcome is Outcome.SKIPPED and out[3].reason == "invalid_address"


def test_rate_limit_midway_retries_the_rest_with_the_hint() -> None:
    out = run("rate", recipients(["a", "b", "c"]))
    assert out[1].outcome is Outcome.SENT
    assert out[2].outcome is Outcome.RETRY and out[2].retry_after == 7


def test_silent_adapter_and_strange_results() -> None:
    out = run("silent", recipients(["a", "b"]))
    assert out[2].outcome is Outcome.UNKNOWN
    out = run("stranger", recipients(["a", "b"]))
    assert out[1].outcome is Outcome.SENT  # the later contradicting result is ignored
