"""JMA Atom feeds (regular/extra/eqvol/other, short and _l): entries to download, filtered by type.

The feed is untrusted input like any telegram: it goes through :func:`parse_xml` first (size
limit, no DTD/entities), and only then through feedparser for the Atom semantics.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import feedparser

from .errors import FeedError, TelegramError
from .parsers.common import parse_datetime
from .safe_xml import parse_xml

DEFAULT_FEED_MAX_BYTES = 10_000_000  # the long (_l) feeds cover days of telegrams
ATOM = "http://www.w3.org/2005/Atom"

# …/data/<UTC yyyymmddhhmmss>_<n>_<TYPE>_<office>.xml
_TELEGRAM_URL = re.compile(
    r"/data/(?P<stamp>\d{14})_(?P<seq>\d+)_(?P<type>[A-Z]{4}\d{2})_(?P<office>\d{6})\.xml$"
)


@dataclass(frozen=True)
class FeedEntry:
    url: str
    type_code: str | None  # None when the URL does not follow JMA's pattern
    updated: datetime | None
    title: str
    author: str
    office_code: str | None = None
    content: str = ""  # JMA puts the headline here


def type_code_from_url(url: str) -> str | None:
    found = _TELEGRAM_URL.search(url)
    return found.group("type") if found else None


def parse_feed(raw: bytes, *, max_bytes: int = DEFAULT_FEED_MAX_BYTES) -> list[FeedEntry]:
    """Entries of one feed document, in feed order; raises :class:`FeedError`."""
    try:
        root = parse_xml(raw, max_bytes=max_bytes)
    except TelegramError as exc:
        raise FeedError(f"フィードを読めません (feed rejected: {exc.message})") from None
    if root.tag != f"{{{ATOM}}}feed":
        raise FeedError("Atom フィードではありません (root element is not atom:feed)")
    parsed = feedparser.parse(bytes(raw), sanitize_html=False, resolve_relative_uris=False)
    entries: list[FeedEntry] = []
    for item in parsed.entries:
        url = _entry_url(item)
        if not url:
            continue
        found = _TELEGRAM_URL.search(url)
        entries.append(
            FeedEntry(
                url=url,
                type_code=found.group("type") if found else None,
                updated=_updated(item.get("updated")),
                title=str(item.get("title", "")),
                author=str(item.get("author", "")),
                office_code=found.group("office") if found else None,
                content=_content(item),
            )
        )
    return entries


def wanted(entry: FeedEntry, type_codes: Collection[str]) -> bool:
    """Filter before downloading: JMA blocks clients that fetch more than they need."""
    return entry.type_code is not None and entry.type_code in type_codes


def _entry_url(item: feedparser.FeedParserDict) -> str:
    for link in item.get("links", []):
        href = link.get("href")
        if href and link.get("rel", "alternate") in ("alternate", "related") and href.endswith(".xml"):
            return str(href)
    return str(item.get("id") or item.get("link") or "")


def _updated(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_datetime(value.replace("Z", "+00:00"), "feed entry updated")
    except TelegramError:
        return None


def _content(item: feedparser.FeedParserDict) -> str:
    content = item.get("content") or []
    if content:
        return str(content[0].get("value", ""))
    return str(item.get("summary", ""))
