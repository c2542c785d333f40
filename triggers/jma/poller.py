"""Polls the JMA Atom feeds and hands every new telegram to the trigger pipeline.

JMA's rules for clients of its feeds: conditional GET (If-Modified-Since and If-None-Match,
304), fetch each telegram URL once — JMA blocks clients that download again — and filter by
the type code in the URL before downloading anything. The short feeds list at least the last
ten minutes; after a longer gap the ``_l`` feed (hourly, covering days) fills it in. Every
request has a timeout, and a feed that has not been read for a while raises an alarm: silence
is an alarm.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from hub.alarms import Alarm, flip, send_alarm
from hub.models import utcnow
from hub.models.triggers import FeedHealth, TriggerTelegram
from hub.runtime import Runtime
from hub.templating import jst
from triggers import engine
from triggers.base import utc

from .errors import FeedError
from .feed import DEFAULT_FEED_MAX_BYTES, FeedEntry, parse_feed, wanted
from .parse import DEFAULT_MAX_BYTES
from .source import JmaSource

log = logging.getLogger(__name__)

USER_AGENT = "bousai-hub/0.1 (municipal broadcast hub; polls JMA feeds once a minute)"
TIMEOUT = (5.0, 15.0)  # connect, read (per socket read)
DEADLINE = 30.0  # a whole download, however slowly the bytes drip
CATCH_UP_AFTER = timedelta(minutes=10)  # the short feeds list at least the last 10 minutes
MAX_AGE = timedelta(hours=3)  # older telegrams (a catch-up after a long outage) update state only


class DownloadError(Exception):
    pass


@dataclass
class FeedResult:
    url: str
    status: str  # ok | not_modified | error
    entries: int = 0
    new: int = 0
    error: str = ""
    refused: int = 0  # entries linking outside the configured feed hosts: logged, never fetched


@dataclass
class PollReport:
    feeds: list[FeedResult] = field(default_factory=list)
    decisions: list[engine.Decision] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "feeds": [f.__dict__ for f in self.feeds],
            "decisions": [d.to_dict() for d in self.decisions],
        }


def long_feed(url: str) -> str | None:
    """``…/eqvol.xml`` → ``…/eqvol_l.xml``: the same feed over days, for catching up."""
    if not url.endswith(".xml") or url.endswith("_l.xml"):
        return None
    return url[: -len(".xml")] + "_l.xml"


def origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def feed_urls(runtime: Runtime) -> list[str]:
    return [url.strip() for url in runtime.settings.jma_feeds.split(",") if url.strip()]


class Poller:
    def __init__(self, runtime: Runtime, *, feeds: list[str] | None = None,
                 http: requests.Session | None = None, max_age: timedelta | None = MAX_AGE,
                 timeout: tuple[float, float] = TIMEOUT) -> None:
        self.runtime = runtime
        self.source = JmaSource(runtime.settings)
        self.feeds = feeds if feeds is not None else feed_urls(runtime)
        # A feed document is data from the network: its links may only lead back to the hosts we
        # were configured to read, never make the hub fetch anything else (internal addresses, …).
        self.allowed_origins = {origin(url) for url in self.feeds}
        self.http = http or requests.Session()
        self.http.headers["User-Agent"] = USER_AGENT
        self.max_age = max_age
        self.timeout = timeout

    def poll_once(self) -> PollReport:
        report = PollReport()
        for url in self.feeds:
            self.poll_feed(url, report)
        return report

    def poll_feed(self, url: str, report: PollReport | None = None) -> PollReport:
        report = report or PollReport()
        health = self._health(url)
        last_ok = health.last_success_at
        behind = last_ok is not None and utcnow() - utc(last_ok) > CATCH_UP_AFTER
        result, entries = self._fetch_feed(url)
        report.feeds.append(result)
        if entries:
            self._process(entries, result, report)
        catch_up = long_feed(url) if behind and result.status != "error" else None
        if catch_up:
            log.info("feed %s was silent for a while: catching up from %s", url, catch_up)
            extra, more = self._fetch_feed(catch_up)
            report.feeds.append(extra)
            self._process(more, extra, report)
        self.check_silence(url)
        return report

    # --- feeds ------------------------------------------------------------------------------------

    def _health(self, url: str) -> FeedHealth:
        with self.runtime.session() as session:
            row = session.scalar(select(FeedHealth).where(FeedHealth.source == "jma", FeedHealth.url == url))
            if row is None:
                row = FeedHealth(source="jma", url=url, first_polled_at=utcnow())
                session.add(row)
                try:
                    session.flush()
                except IntegrityError:  # another poller registered it first
                    session.rollback()
                    row = session.scalars(select(FeedHealth).where(FeedHealth.source == "jma",
                                                                   FeedHealth.url == url)).one()
            session.expunge(row)
        return row

    def _fetch_feed(self, url: str) -> tuple[FeedResult, list[FeedEntry]]:
        health = self._health(url)
        headers = {}
        if health.etag:
            headers["If-None-Match"] = health.etag
        if health.last_modified:
            headers["If-Modified-Since"] = health.last_modified
        now = utcnow()
        values: dict[str, object] = {"last_attempt_at": now}
        entries: list[FeedEntry] = []
        try:
            response = self.http.get(url, headers=headers, timeout=self.timeout, stream=True)
            values["last_http_status"] = response.status_code
            if response.status_code == 304:
                result = FeedResult(url, "not_modified")
            elif response.status_code == 200:
                entries = parse_feed(_read(response, DEFAULT_FEED_MAX_BYTES))
                result = FeedResult(url, "ok", entries=len(entries))
                values.update(etag=response.headers.get("ETag"), entries_seen=len(entries),
                              last_modified=response.headers.get("Last-Modified"))
            else:
                raise DownloadError(f"HTTP {response.status_code}")
            values.update(last_success_at=now)
        except (requests.RequestException, DownloadError, FeedError) as exc:
            message = _reason(exc)
            log.warning("feed %s failed: %s", url, message)
            result = FeedResult(url, "error", error=str(message)[:500])
            values.update(last_error_at=now, last_error=result.error)
        with self.runtime.session() as session:
            session.execute(update(FeedHealth).where(FeedHealth.id == health.id).values(**values))
        return result, entries

    # --- telegrams ------------------------------------------------------------------------------------

    def _process(self, entries: list[FeedEntry], result: FeedResult, report: PollReport) -> None:
        chosen = [e for e in entries if self._on_feed_host(e, result) and wanted(e, self.source.wanted_types)]
        chosen.sort(key=lambda e: (e.updated.timestamp() if e.updated else 0.0, e.url))
        with self.runtime.session() as session:
            known = set(session.scalars(select(TriggerTelegram.item_key).where(
                TriggerTelegram.source == "jma", TriggerTelegram.item_key.in_([e.url for e in chosen]),
                TriggerTelegram.state != "claimed",
            )))
        for entry in chosen:
            if entry.url in known or not self._claim(entry.url):
                continue
            try:
                raw = self._download(entry.url)
            except (requests.RequestException, DownloadError) as exc:
                log.warning("telegram %s not downloaded (will retry): %s", entry.url, exc)
                self._unclaim(entry.url)
                continue
            result.new += 1
            decision = self._handle(entry, raw)
            if decision is not None:
                report.decisions.append(decision)
        if result.new:
            with self.runtime.session() as session:
                session.execute(
                    update(FeedHealth).where(FeedHealth.source == "jma", FeedHealth.url == result.url)
                    .values(new_telegrams=FeedHealth.new_telegrams + result.new)
                )

    def _on_feed_host(self, entry: FeedEntry, result: FeedResult) -> bool:
        if origin(entry.url) in self.allowed_origins:
            return True
        result.refused += 1
        log.warning("feed %s links to %s, outside the configured feed hosts: not fetched", result.url, entry.url)
        return False

    def _handle(self, entry: FeedEntry, raw: bytes) -> engine.Decision | None:
        try:
            return engine.process(self.runtime, self.source, raw, item_key=entry.url, hint=entry.type_code,
                                  max_age=self.max_age)
        except Exception as exc:
            # A bug or a database hiccup on one telegram must not stop the ones behind it. The
            # telegram is kept in the quarantine for a person (and `hub jma replay`) to look at.
            log.exception("telegram %s could not be processed", entry.url)
            reason = f"処理中にエラーが発生しました（{type(exc).__name__}: {exc}）"[:1000]
            try:
                return engine.quarantine(self.runtime, self.source.name, entry.url, raw, reason)
            except Exception:
                log.exception("%s not quarantined either; it is retried when its claim expires", entry.url)
                return None

    def _claim(self, url: str) -> bool:
        """Committed before the download, so a second poller never fetches the same URL."""
        try:
            with self.runtime.session() as session:
                session.add(TriggerTelegram(source="jma", item_key=url, state="claimed", claimed_at=utcnow()))
            return True
        except IntegrityError:
            pass
        stale = utcnow() - engine.STALE_CLAIM
        with self.runtime.session() as session:  # a claim left by a crashed poller may be taken over
            taken = session.execute(
                update(TriggerTelegram)
                .where(TriggerTelegram.source == "jma", TriggerTelegram.item_key == url,
                       TriggerTelegram.state == "claimed", TriggerTelegram.claimed_at < stale)
                .values(claimed_at=utcnow())
            )
        return _changed(taken)

    def _unclaim(self, url: str) -> None:
        with self.runtime.session() as session:
            session.execute(delete(TriggerTelegram).where(
                TriggerTelegram.source == "jma", TriggerTelegram.item_key == url,
                TriggerTelegram.state == "claimed",
            ))

    def _download(self, url: str) -> bytes:
        # No redirects: a redirect could lead off the feed hosts the link itself was checked against.
        response = self.http.get(url, timeout=self.timeout, stream=True, allow_redirects=False)
        if response.status_code != 200:
            raise DownloadError(f"HTTP {response.status_code}")
        return _read(response, DEFAULT_MAX_BYTES)

    # --- silence --------------------------------------------------------------------------------------

    def check_silence(self, url: str) -> str | None:
        """Alarm once per outage when ``url`` has not been read for too long; say so once it is back."""
        limit = timedelta(minutes=self.runtime.settings.jma_silence_alarm_minutes)
        health = self._health(url)
        last_ok = utc(health.last_success_at or health.first_polled_at)
        silent = utcnow() - last_ok > limit
        if silent and health.alarm_sent_at is None and self._mark_alarm(health.id, utcnow(), None):
            self._alarm(url, health, recovered=False)
            return "alarm"
        if not silent and health.alarm_sent_at is not None and self._mark_alarm(health.id, None, True):
            self._alarm(url, health, recovered=True)
            return "recovered"
        return None

    def _mark_alarm(self, health_id: int, value: object, expected: object) -> bool:
        # Compare-and-set: with two pollers only one of them sends the alarm.
        return flip(self.runtime, FeedHealth.alarm_sent_at, FeedHealth.id == health_id,
                    utcnow() if expected is None else None)

    def _alarm(self, url: str, health: FeedHealth, recovered: bool) -> None:
        settings = self.runtime.settings
        if recovered:
            title = "【復旧】気象庁XMLフィードの受信が回復しました"
            body = f"{url} を再び受信できるようになりました。自動配信は再開しています。"
        else:
            last = jst(health.last_success_at) if health.last_success_at else "なし"
            title = "【要確認】気象庁XMLフィードを受信できていません"
            body = (f"{url} を{settings.jma_silence_alarm_minutes}分以上受信できていません。\n"
                    f"最後に受信できた時刻：{last}\n最後のエラー：{health.last_error or '不明'}\n"
                    "地震・津波・警報の自動配信が止まっている可能性があります。"
                    "気象庁ホームページ等で発表状況を確認し、必要なら手動で配信してください。")
        send_alarm(self.runtime, Alarm(title=title, body=body, source="trigger:jma:alarm", actor="trigger:jma",
                                       meta={"trigger": {"source": "jma", "kind": "alarm", "url": url}}))


def _read(response: requests.Response, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes within :data:`DEADLINE`: the parser rejects anything larger."""
    deadline = time.monotonic() + DEADLINE
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(64 * 1024):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
            if time.monotonic() > deadline:
                raise DownloadError(f"{DEADLINE:.0f}秒以内に受信が終わりませんでした")
    finally:
        response.close()
    return b"".join(chunks)


def _changed(result: object) -> bool:
    # UPDATE results carry a row count; SQLAlchemy's typing only knows it on CursorResult.
    return bool(getattr(result, "rowcount", 0))


def _reason(exc: Exception) -> str:
    """What the operator reads in ``hub jma status`` and in the silence alarm."""
    if isinstance(exc, FeedError):
        return exc.message
    if isinstance(exc, DownloadError):
        return str(exc)
    if isinstance(exc, requests.Timeout):
        return f"タイムアウト（{type(exc).__name__}）"
    return f"接続できません（{type(exc).__name__}: {exc}）"
