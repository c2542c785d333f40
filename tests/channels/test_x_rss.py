"""X (tweepy) and the feed channel against the sandbox."""

from __future__ import annotations

import time

from channels.base import Draft, Outcome
from channels.x import XChannel
from hub.config import Settings
from sandbox import Sandbox

from .helpers import build, by_id, make_batch, recipients

ACCOUNT = ["x:@city_bousai"]


def draft(n: int) -> Draft:
    return Draft(
        title=f"避難所開設 その{n}",
        body="○○小学校に避難所を開設しました。" * 10,
        mode="exercise",
        link="https://city.example.jp/m/1",
    )


def test_x_posts_once_with_a_shortened_text(sb: Sandbox, settings: Settings) -> None:
    ch = build("x", settings)
    batch = make_batch(ch, draft(1), recipients(ACCOUNT))
    assert batch.contents["ja"].warnings  # 10 sentences do not fit: shortened, and said so
    [result] = ch.deliver(batch)
    assert result.outcome is Outcome.SENT and result.provider_id
    [post] = sb.inbox("x")
    assert post["text"] == batch.contents["ja"].text
    assert post["text"].startswith("【訓練】避難所開設 その1")
    assert post["text"].endswith("…\nhttps://city.example.jp/m/1")
    assert post["provider_id"] == result.provider_id


def test_x_duplicate_fails_on_the_first_attempt_and_counts_as_sent_on_a_retry(
    sb: Sandbox, settings: Settings
) -> None:
    ch = build("x", settings)
    sb.inject_fault("x", "duplicate")
    [first] = ch.deliver(make_batch(ch, draft(2), recipients(ACCOUNT), attempt=1))
    assert first.outcome is Outcome.FAILED and first.error_code == "duplicate"
    assert "同じ内容" in (first.error or "")

    batch = make_batch(ch, draft(3), recipients(ACCOUNT))
    assert ch.deliver(batch)[0].outcome is Outcome.SENT
    from dataclasses import replace

    [again] = ch.deliver(replace(batch, attempt=2))  # the real duplicate check of the sandbox
    assert again.outcome is Outcome.SENT
    assert len(sb.inbox("x")) == 1


def test_x_rate_limit_and_server_error(sb: Sandbox, settings: Settings) -> None:
    ch = build("x", settings)
    sb.inject_fault("x", "429")
    [limited] = ch.deliver(make_batch(ch, draft(4), recipients(ACCOUNT)))
    assert limited.outcome is Outcome.RETRY
    assert limited.retry_after is not None and 800 < limited.retry_after <= 900 + 1
    sb.inject_fault("x", "500")
    assert ch.deliver(make_batch(ch, draft(5), recipients(ACCOUNT)))[0].outcome is Outcome.RETRY
    bad = ch.deliver(make_batch(ch, draft(6), recipients(["twitter"])))
    assert bad[0].outcome is Outcome.SKIPPED and sb.inbox("x") == []


def test_x_timeout_is_unknown(sb: Sandbox, settings: Settings) -> None:
    sb.inject_fault("x", "timeout", delay=1.5)
    ch = build("x", settings, timeout=0.5)
    started = time.monotonic()
    [result] = ch.deliver(make_batch(ch, draft(7), recipients(ACCOUNT)))
    assert result.outcome is Outcome.UNKNOWN
    assert time.monotonic() - started < 1.4


def test_x_retract_deletes_the_post(sb: Sandbox, settings: Settings) -> None:
    ch = build("x", settings)
    assert isinstance(ch, XChannel)
    [result] = ch.deliver(make_batch(ch, draft(8), recipients(ACCOUNT)))
    assert result.provider_id
    assert ch.retract(result.provider_id) is True
    assert ch.retract(result.provider_id) is True  # already gone is fine
    assert sb.ctx.stats.snapshot()["x.tweets.delete"] == 2


def test_rss_publishing_is_delivery(settings: Settings) -> None:
    ch = build("rss", settings)
    batch = make_batch(ch, draft(9), recipients(["rss:all", "rss:bousai", "nope"]), message_id=314)
    results = by_id(ch.deliver(batch))
    assert results[1].outcome is Outcome.DELIVERED
    assert results[1].provider_id == "tag:127.0.0.1,2025:message:314"
    assert results[2].provider_id == results[1].provider_id
    assert results[3].outcome is Outcome.SKIPPED
    assert batch.contents["ja"].subject == "【訓練】避難所開設 その9"
