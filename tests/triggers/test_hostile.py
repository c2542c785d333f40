"""Hostile input through the real poller: rejected fast, quarantined, and never blocking what follows."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from hub.models.triggers import FeedHealth, QuarantinedTelegram, TriggerTelegram
from hub.runtime import Runtime
from tests.triggers.feedserver import FeedServer
from tests.triggers.support import OSHU, QUAKE_6PLUS, add_rules, jma_name, messages, prepare, raw
from triggers.jma.poller import Poller

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Report [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>&xxe;</Title></Control></Report>"""


def billion_laughs() -> bytes:
    lines = [b'<?xml version="1.0"?>', b"<!DOCTYPE Report [", b'<!ENTITY lol0 "lol">']
    lines += [b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1)) * 10) for i in range(1, 10)]
    lines += [b"]>", b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">&lol9;</Report>']
    return b"\n".join(lines)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def poller(runtime: Runtime, server: FeedServer, **options: object) -> Poller:
    http = requests.Session()
    http.trust_env = False
    return Poller(runtime, feeds=[server.feed_url()], http=http, max_age=None, **options)  # type: ignore[arg-type]


def _passwd_line() -> str:
    try:
        return Path("/etc/passwd").read_text().splitlines()[0]
    except (OSError, IndexError):
        return "root:x:0:0"


def test_xxe_and_entity_bomb_are_quarantined_fast_and_the_next_telegram_fires(
    runtime: Runtime, feeds: FeedServer
) -> None:
    prepare(runtime)
    add_rules(runtime, {"name": "奥州市", "when": "earthquake", "municipalities": [OSHU], "min_intensity": "5弱",
                        "template": "jma-earthquake", "channels": ["rss"]})
    good = raw(QUAKE_6PLUS)
    feeds.publish(jma_name("20080613234501", "VXSE53"), XXE)
    feeds.publish(jma_name("20080613234502", "VXSE53"), billion_laughs())
    feeds.publish(jma_name("20080613234503", "VXSE53"), good[: len(good) // 2])  # truncated
    feeds.publish(jma_name("20080613234504", "VXSE53"), good + b" " * 3_000_000)  # over the size limit
    feeds.publish(jma_name("20080613234700", "VXSE53"), good)

    tracemalloc.start()
    started = time.perf_counter()
    report = poller(runtime, feeds).poll_once()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert [d.outcome for d in report.decisions] == ["quarantined"] * 4 + ["matched"]
    assert "DTD" in report.decisions[0].error and "DTD" in report.decisions[1].error
    assert "大きすぎ" in report.decisions[3].error
    assert elapsed < 10 and peak < 80_000_000  # no expansion: the bomb would need gigabytes
    assert [m.title for m in messages(runtime)] == ["地震情報（震度６強）"]
    secret = _passwd_line()
    with runtime.session() as session:
        quarantined = list(session.scalars(select(QuarantinedTelegram).order_by(QuarantinedTelegram.id)))
        states = list(session.scalars(select(TriggerTelegram.state).order_by(TriggerTelegram.id)))
    assert len(quarantined) == 4 and states == ["quarantined"] * 4 + ["done"]
    assert all(secret not in q.error and secret.encode() not in q.raw for q in quarantined)
    again = poller(runtime, feeds).poll_once()  # quarantined URLs are not fetched again
    assert again.decisions == [] and feeds.downloads(jma_name("20080613234501", "VXSE53")) == 1


def test_hostile_feed_document_is_an_error_not_a_crash(runtime: Runtime, feeds: FeedServer) -> None:
    prepare(runtime)
    feeds.publish(jma_name("20080613234700", "VXSE53"), raw(QUAKE_6PLUS))
    original = feeds.feed_document
    feeds.feed_document = lambda name: (XXE, None)  # type: ignore[method-assign]

    report = poller(runtime, feeds).poll_once()

    feeds.feed_document = original  # type: ignore[method-assign]
    assert report.feeds[0].status == "error" and "DTD" in report.feeds[0].error
    with runtime.session() as session:
        health = session.scalars(select(FeedHealth)).one()
        assert health.last_success_at is None and "DTD" in (health.last_error or "")
    assert report.decisions == []


def test_a_stalled_download_times_out_and_is_retried(runtime: Runtime, feeds: FeedServer) -> None:
    prepare(runtime)
    url = feeds.publish(jma_name("20080613234700", "VXSE53"), raw(QUAKE_6PLUS))
    feeds.stall[url[len(feeds.base):]] = 1.5

    started = time.perf_counter()
    report = poller(runtime, feeds, timeout=(0.5, 0.5)).poll_once()

    assert time.perf_counter() - started < 1.4
    assert report.decisions == []
    with runtime.session() as session:
        assert session.scalars(select(TriggerTelegram)).all() == []  # released for the next poll


def test_an_unexpected_error_on_one_telegram_does_not_stop_the_next(
    runtime: Runtime, feeds: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from triggers import engine

    prepare(runtime)
    add_rules(runtime, {"name": "奥州市", "when": "earthquake", "municipalities": [OSHU], "min_intensity": "5弱",
                        "template": "jma-earthquake", "channels": ["rss"]})
    feeds.publish(jma_name("20080613234600", "VXSE53"), raw("official/32-35_06_01_240613_VXSE52.xml"))
    feeds.publish(jma_name("20080613234700", "VXSE53"), raw(QUAKE_6PLUS))
    real = engine.process
    calls: list[str] = []

    def flaky(*args: object, **kwargs: object) -> engine.Decision:
        calls.append(str(kwargs["item_key"]))
        if len(calls) == 1:
            raise RuntimeError("simulated bug")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "process", flaky)
    report = poller(runtime, feeds).poll_once()

    assert [d.outcome for d in report.decisions] == ["quarantined", "matched"]
    assert "simulated bug" in report.decisions[0].error
