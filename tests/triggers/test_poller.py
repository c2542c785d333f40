"""The real poller against a local JMA-like feed server: once-only downloads, 304, catch-up, silence."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select, update

from hub.models import Contact, ContactKind, Delivery, Message, utcnow
from hub.models.triggers import FeedHealth, TriggerTelegram
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.triggers.feedserver import FeedServer
from tests.triggers.support import (
    OSHU,
    QUAKE_6PLUS,
    RAIN_LEVEL4,
    WAKKANAI,
    add_rules,
    jma_name,
    messages,
    prepare,
    raw,
    telegram_rows,
)
from triggers.jma.poller import Poller

QUAKE = jma_name("20080613234700", "VXSE53")
OSHU_RULE = {"name": "奥州市 震度5弱以上", "when": "earthquake", "municipalities": [OSHU], "min_intensity": "5弱",
             "template": "jma-earthquake"}


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def poller(runtime: Runtime, server: FeedServer, *names: str) -> Poller:
    http = requests.Session()
    http.trust_env = False  # the feed server is local: an HTTP(S)_PROXY must not capture it
    urls = [server.feed_url(name) for name in names or ("eqvol",)]
    # The fixtures are years old; the poller's age limit is tested separately.
    return Poller(runtime, feeds=urls, http=http, max_age=None)


@pytest.mark.long
def test_poller_end_to_end_to_a_thousand_residents(
    runtime: Runtime, feeds: FeedServer, sandbox_client: SandboxClient
) -> None:
    # LINE (≈60 % of the demo residents) and e-mail (≈70 %) together reach well over 1,000 of 1,200.
    prepare(runtime, residents=1200, staff=5)
    add_rules(runtime, {**OSHU_RULE, "audience": "residents", "channels": ["line", "email"]})
    feeds.publish(jma_name("20080613234600", "VXSE56"), b"never downloaded", title="地震の活動状況等に関する情報")
    feeds.publish(QUAKE, raw(QUAKE_6PLUS))

    report = poller(runtime, feeds).poll_once()

    assert [d.outcome for d in report.decisions] == ["matched"]
    assert feeds.downloads(QUAKE) == 1
    assert feeds.downloads(jma_name("20080613234600", "VXSE56")) == 0  # filtered by type before download
    with runtime.session() as session:
        reached = session.scalar(
            select(func.count(func.distinct(Delivery.contact_id)))
            .join(Contact, Contact.id == Delivery.contact_id)
            .where(Delivery.state.in_(("sent", "delivered")), Contact.kind == ContactKind.RESIDENT)
        )
    assert reached is not None and reached >= 1000
    stats = sandbox_client.stats()
    assert sum(stats.values()) > 0

    again = poller(runtime, feeds).poll_once()
    assert again.decisions == [] and feeds.not_modified["eqvol"] == 1
    assert feeds.downloads(QUAKE) == 1
    assert len(messages(runtime)) == 1


def test_catch_up_from_the_long_feed_after_downtime(runtime: Runtime, feeds: FeedServer) -> None:
    prepare(runtime)
    add_rules(runtime, {**OSHU_RULE, "channels": ["rss"]})
    poller(runtime, feeds).poll_once()  # the feed was read once, then the hub went down
    with runtime.session() as session:
        session.execute(update(FeedHealth).values(last_success_at=utcnow() - timedelta(minutes=40)))
    # The short feed has moved on; the telegram is only in the hourly long feed now.
    feeds.publish(QUAKE, raw(QUAKE_6PLUS), long_only=True)

    report = poller(runtime, feeds).poll_once()

    assert [f.url.rsplit("/", 1)[-1] for f in report.feeds] == ["eqvol.xml", "eqvol_l.xml"]
    assert [d.outcome for d in report.decisions] == ["matched"]
    assert feeds.downloads(QUAKE) == 1


def test_two_pollers_at_once_send_one_message(app: Flask, runtime: Runtime, feeds: FeedServer) -> None:
    prepare(runtime)
    add_rules(runtime, {**OSHU_RULE, "channels": ["rss"]})
    feeds.publish(QUAKE, raw(QUAKE_6PLUS))
    feeds.publish(jma_name("20200622140000", "VPWW55", "011000"), raw(RAIN_LEVEL4), title="気象警報・注意報")
    add_rules(runtime, {"name": "稚内 レベル4", "when": "warning", "municipalities": [WAKKANAI], "min_level": 4,
                        "template": "jma-evacuation-level4", "channels": ["rss"]})
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():  # the dispatcher reads the runtime from the app context
                start.wait()
                poller(runtime, feeds).poll_once()
        except BaseException as exc:  # surfaced below: a thread must not hide a failure
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    titles = sorted(m.title for m in messages(runtime))
    assert titles == sorted(["地震情報（震度６強）", "【警戒レベル４】稚内市 危険な場所から全員避難"])
    assert feeds.downloads(QUAKE) == 1
    assert [r.state for r in telegram_rows(runtime)] == ["done", "done"]


def test_failed_download_is_retried_and_a_stall_times_out(runtime: Runtime, feeds: FeedServer) -> None:
    prepare(runtime)
    add_rules(runtime, {**OSHU_RULE, "channels": ["rss"]})
    url = feeds.publish(QUAKE, raw(QUAKE_6PLUS))
    path = url[len(feeds.base):]
    feeds.status[path] = 503

    first = poller(runtime, feeds).poll_once()
    assert first.decisions == [] and telegram_rows(runtime) == []  # not claimed: the next poll retries

    del feeds.status[path]
    feeds.entries["eqvol"].append(feeds.entries["eqvol"][0])  # the feed changed: no 304 this time
    second = poller(runtime, feeds).poll_once()
    assert [d.outcome for d in second.decisions] == ["matched"]


def test_silence_raises_one_alarm_per_outage_and_says_when_it_is_back(
    runtime: Runtime, feeds: FeedServer, sandbox_client: SandboxClient
) -> None:
    prepare(runtime)
    feed = feeds.feed_url("eqvol")
    feeds.status[feed[len(feeds.base):]] = 500
    watcher = poller(runtime, feeds)
    watcher.poll_once()
    with runtime.session() as session:
        session.execute(update(FeedHealth).values(first_polled_at=utcnow() - timedelta(minutes=30)))

    watcher.poll_once()
    watcher.poll_once()  # still down: no second alarm

    alarms = messages(runtime)
    assert [m.title for m in alarms] == ["【要確認】気象庁XMLフィードを受信できていません"]
    assert alarms[0].audience == "department:bousai" and alarms[0].source == "trigger:jma:alarm"
    assert "HTTP 500" in alarms[0].body
    assert sandbox_client.inbox("email")  # staff of the 防災 department got it

    del feeds.status[feed[len(feeds.base):]]
    watcher.poll_once()
    assert [m.title for m in messages(runtime)][-1] == "【復旧】気象庁XMLフィードの受信が回復しました"
    with runtime.session() as session:
        health = session.scalars(select(FeedHealth)).one()
        assert health.alarm_sent_at is None and health.last_error == "HTTP 500"


def test_old_telegrams_update_state_but_are_not_sent(runtime: Runtime, feeds: FeedServer) -> None:
    prepare(runtime)
    add_rules(runtime, {**OSHU_RULE, "channels": ["rss"]})
    feeds.publish(QUAKE, raw(QUAKE_6PLUS))
    http = requests.Session()
    http.trust_env = False

    report = Poller(runtime, feeds=[feeds.feed_url()], http=http).poll_once()  # default age limit: 3 h

    assert report.decisions[0].outcome == "ignored" and "古い電文" in report.decisions[0].reason
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        assert session.scalars(select(TriggerTelegram.state)).all() == ["done"]


def test_links_off_the_configured_feed_hosts_are_counted_and_never_fetched(
    runtime: Runtime, feeds: FeedServer
) -> None:
    prepare(runtime)
    add_rules(runtime, {**OSHU_RULE, "channels": ["rss"]})
    with FeedServer() as elsewhere:  # same machine, another port: another origin
        foreign = elsewhere.publish(QUAKE, raw(QUAKE_6PLUS))
        feeds.list_foreign(foreign)
        feeds.list_foreign(f"http://169.254.169.254/latest/{QUAKE}")  # e.g. a cloud metadata address
        report = poller(runtime, feeds).poll_once()
        assert elsewhere.downloads(QUAKE) == 0
    assert [f.refused for f in report.feeds] == [2]
    assert report.decisions == [] and telegram_rows(runtime) == [] and messages(runtime) == []
    # A telegram on the feed's own host is still fetched and acted on.
    feeds.publish(QUAKE, raw(QUAKE_6PLUS))
    again = poller(runtime, feeds).poll_once()
    assert [d.outcome for d in again.decisions] == ["matched"] and feeds.downloads(QUAKE) == 1
