"""deliver() returns exactly one result per recipient, whatever the adapter does.

It also knows which rows a provider request was really made for: only those use an attempt and
only those can be in doubt after a crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from channels.base import Batch, Capability, Channel, DeliveryResult, Draft, Outcome, Recipient, Rendered, Requesting
from channels.errors import RateLimited, Unreachable

from .helpers import by_id, recipients


class Flaky(Channel):
    name = "flaky"
    label = "テスト"
    capabilities = Capability.PERSONAL | Capability.RECONCILE
    mode = "crash"

    def render(self, draft: Draft) -> Rendered:
        return Rendered(subject=None, text=draft.body)

    def check_address(self, address: str) -> str | None:
        return "invalid_address" if address == "bad" else None

    def _send(self, batch: Batch) -> Iterable[DeliveryResult | Requesting]:
        first, second, *_ = batch.recipients
        yield Requesting((first.delivery_id,))
        yield DeliveryResult(first.delivery_id, Outcome.SENT, provider_id="p1")
        if self.mode == "silent":
            return
        yield Requesting((second.delivery_id,))
        if self.mode == "crash":
            raise RuntimeError("boom")
        if self.mode == "rate":
            raise RateLimited("多すぎます", retry_after=7)
        if self.mode == "unreachable":
            raise Unreachable("つながりません")
        if self.mode == "stranger":
            yield DeliveryResult(999, Outcome.SENT)
            yield DeliveryResult(first.delivery_id, Outcome.FAILED)


class OneRequestAtATime(Flaky):
    capabilities = Capability.PERSONAL  # cannot be asked afterwards: each request is recorded first


def run(mode: str, people: list[Recipient], kind: type[Flaky] = Flaky
        ) -> tuple[dict[int, DeliveryResult], list[tuple[list[int], list[int]]]]:
    ch = kind(kind.config_class())
    ch.mode = mode
    batch = Batch(message_id=1, batch_no=1, recipients=people, contents={"ja": ch.render(Draft("t", "b"))})
    reports: list[tuple[list[int], list[int]]] = []

    def progress(results: list[DeliveryResult], requesting: Sequence[int] = ()) -> None:
        reports.append(([r.delivery_id for r in results], list(requesting)))

    results = ch.deliver(batch, on_progress=progress)
    reported = [i for done, _ in reports for i in done]
    assert sorted(reported) == sorted(r.delivery_id for r in results), "every result reaches the database once"
    out = by_id(results)
    assert set(out) == {r.delivery_id for r in people}
    return out, reports


def test_adapter_crash_leaves_the_row_in_flight_in_doubt_and_retries_the_rest() -> None:
    out, _ = run("crash", recipients(["a", "b", "bad", "c"]))
    assert out[1].outcome is Outcome.SENT and out[1].attempted
    assert out[2].outcome is Outcome.UNKNOWN and out[2].attempted, "its request may have left"
    assert out[4].outcome is Outcome.RETRY and not out[4].attempted, "never requested: a clean retry"
    assert out[3].outcome is Outcome.SKIPPED and out[3].reason == "invalid_address"


def test_rate_limit_midway_retries_the_rest_with_the_hint_and_uses_no_attempt() -> None:
    out, _ = run("rate", recipients(["a", "b", "c"]))
    assert out[1].outcome is Outcome.SENT
    assert out[2].outcome is Outcome.RETRY and out[2].retry_after == 7 and out[2].attempted is False
    assert out[3].outcome is Outcome.RETRY and out[3].attempted is False


def test_a_request_that_never_left_is_a_clean_retry() -> None:
    out, _ = run("unreachable", recipients(["a", "b", "c"]))
    assert {out[2].outcome, out[3].outcome} == {Outcome.RETRY}
    assert not out[2].attempted and not out[3].attempted


def test_silent_adapter_and_strange_results() -> None:
    out, _ = run("silent", recipients(["a", "b"]))
    assert out[2].outcome is Outcome.RETRY and not out[2].attempted, "no request was made for it"
    out, _ = run("stranger", recipients(["a", "b"]))
    assert out[1].outcome is Outcome.SENT  # the later contradicting result is ignored
    assert out[2].outcome is Outcome.UNKNOWN, "requested, then no answer"


def test_channels_that_cannot_be_asked_record_each_request_before_making_it() -> None:
    _, reports = run("crash", recipients(["a", "b", "c"]), kind=OneRequestAtATime)
    # Before request 2 goes out, request 1's outcome is already written with it: a crash can leave
    # at most the row of one request in doubt.
    assert reports[0] == ([], [1])
    assert reports[1] == ([1], [2])
    _, batched = run("crash", recipients(["a", "b", "c"]))
    assert all(not requesting for _, requesting in batched), "reconcilable channels are asked afterwards instead"
