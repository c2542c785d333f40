"""Atom, RSS 2.0 and CAP 1.2 documents from plain data.

Pure functions: the hub reads published messages from its database, turns them into
:class:`FeedEntry` objects and serves what these builders return. Nothing here touches the
network or the database, so the same code renders a live feed and a drill's preview.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from channels.base import EXERCISE_PREFIX

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
XML_NS = "http://www.w3.org/XML/1998/namespace"
CAP_MEDIA_TYPE = "application/cap+xml"
TEST_PREFIX = "【試験】"
GEOCODE_VALUE_NAME = "JIS X 0402"  # 全国地方公共団体コード; JMA's 7-digit codes are these + 2 digits

CAP_STATUS = {"actual": "Actual", "exercise": "Exercise", "test": "Test"}
CAP_MSG_TYPE = {"alert": "Alert", "update": "Update", "cancel": "Cancel"}
CAP_CATEGORIES = frozenset(
    {
        "Geo",
        "Met",
        "Safety",
        "Security",
        "Rescue",
        "Fire",
        "Health",
        "Env",
        "Transport",
        "Infra",
        "CBRNE",
        "Other",
    }
)
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class FeedMeta:
    title: str  # e.g. 「○○市 防災情報」
    link: str  # the public page that lists the messages
    feed_url: str  # where this feed is served (rel="self")
    id: str  # stable feed id, e.g. tag:city.example.jp,2025:feed:all
    author: str  # the municipality
    description: str = ""
    language: str = "ja"
    updated: datetime | None = None  # None: the newest entry's


# CAP <language> is an RFC 3066 tag; やさしい日本語 is Japanese with a private-use subtag.
CAP_LANGUAGE = {"ja": "ja-JP", "ja-easy": "ja-JP-x-easy", "zh": "zh-CN"}


def cap_language(code: str) -> str:
    return CAP_LANGUAGE.get(code, code)


@dataclass(frozen=True)
class Translation:
    """The entry in one more language: a CAP alert carries one <info> per language."""

    language: str
    title: str
    text: str
    areas: Sequence[tuple[str, str]] | None = None  # (code, name in this language); None: the entry's


@dataclass(frozen=True)
class FeedEntry:
    message_id: int
    title: str
    text: str
    mode: str  # actual | exercise | test
    msg_type: str  # alert | update | cancel
    published: datetime
    updated: datetime
    link: str | None = None
    references: FeedEntry | None = None  # the message this one updates or cancels
    category: str = "Safety"  # CAP category: Safety, Met, Geo, …
    sender_name: str = ""  # the department, shown to readers
    areas: Sequence[tuple[str, str]] = ()  # (code, name)
    entry_id: str = ""  # tag URI (see tag_uri); empty: derived from message_id
    sender: str = "bousai-hub.invalid"  # CAP sender: globally unique, e.g. the city's domain
    event: str = ""  # CAP event, e.g. 「地震」; empty: the title
    urgency: str = "Unknown"
    severity: str = "Unknown"
    certainty: str = "Unknown"
    expires: datetime | None = None
    language: str = "ja"  # of title and text
    translations: Sequence[Translation] = ()

    @property
    def id(self) -> str:
        return self.entry_id or f"urn:bousai-hub:message:{self.message_id}"


def tag_uri(authority: str, year: int, message_id: int) -> str:
    """RFC 4151 tag URI of a message: stable across feed rebuilds and host moves."""
    return f"tag:{authority},{year}:message:{message_id}"


def display_title(entry: FeedEntry) -> str:
    """The title with the mode prefix first: a feed reader shows titles only."""
    prefix = {"exercise": EXERCISE_PREFIX, "test": TEST_PREFIX}.get(entry.mode, "")
    if prefix and not entry.title.startswith(prefix):
        return prefix + entry.title
    return entry.title


def _clean(text: str) -> str:
    return _INVALID_XML_CHARS.sub("", text)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def rfc3339(value: datetime) -> str:
    return _aware(value).isoformat(timespec="seconds")


def cap_time(value: datetime) -> str:
    # CAP 1.2 forbids "Z" and fractions of a second; UTC is written -00:00.
    return rfc3339(value).replace("+00:00", "-00:00")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = _clean(text)
    return element


def _serialize(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _newest(entries: Sequence[FeedEntry]) -> list[FeedEntry]:
    return sorted(entries, key=lambda e: _aware(e.updated), reverse=True)


def _feed_updated(meta: FeedMeta, entries: Sequence[FeedEntry]) -> datetime:
    if meta.updated is not None:
        return meta.updated
    return max((_aware(e.updated) for e in entries), default=datetime.now(UTC))


def _atom_head(meta: FeedMeta, entries: Sequence[FeedEntry]) -> etree._Element:
    a = f"{{{ATOM_NS}}}"
    feed = etree.Element(a + "feed", nsmap={None: ATOM_NS})
    feed.set(f"{{{XML_NS}}}lang", meta.language)
    _sub(feed, a + "id", meta.id)
    _sub(feed, a + "title", meta.title)
    if meta.description:
        _sub(feed, a + "subtitle", meta.description)
    _sub(feed, a + "updated", rfc3339(_feed_updated(meta, entries)))
    if meta.feed_url:
        _sub(feed, a + "link", rel="self", href=meta.feed_url)
    if meta.link:
        _sub(feed, a + "link", rel="alternate", type="text/html", href=meta.link)
    _sub(_sub(feed, a + "author"), a + "name", meta.author)
    return feed


def _atom_entry(feed: etree._Element, entry: FeedEntry) -> etree._Element:
    a = f"{{{ATOM_NS}}}"
    node = _sub(feed, a + "entry")
    if entry.language != feed.get(f"{{{XML_NS}}}lang"):
        # A feed asked for in one language carries Japanese where the message has no translation.
        node.set(f"{{{XML_NS}}}lang", entry.language)
    _sub(node, a + "id", entry.id)
    _sub(node, a + "title", display_title(entry))
    _sub(node, a + "published", rfc3339(entry.published))
    _sub(node, a + "updated", rfc3339(entry.updated))
    if entry.link:
        _sub(node, a + "link", rel="alternate", type="text/html", href=entry.link)
    if entry.references is not None and entry.references.link:
        _sub(node, a + "link", rel="related", href=entry.references.link)
    if entry.sender_name:
        _sub(_sub(node, a + "author"), a + "name", entry.sender_name)
    _sub(node, a + "category", term=entry.category)
    return node


def atom_feed(meta: FeedMeta, entries: Sequence[FeedEntry]) -> bytes:
    feed = _atom_head(meta, entries)
    for entry in _newest(entries):
        node = _atom_entry(feed, entry)
        _sub(node, f"{{{ATOM_NS}}}content", entry.text, type="text")
    return _serialize(feed)


def rss2_feed(meta: FeedMeta, entries: Sequence[FeedEntry]) -> bytes:
    rss = etree.Element("rss", nsmap={"atom": ATOM_NS}, version="2.0")
    channel = _sub(rss, "channel")
    _sub(channel, "title", meta.title)
    _sub(channel, "link", meta.link)
    _sub(channel, "description", meta.description or meta.title)
    _sub(channel, "language", meta.language)
    _sub(channel, "lastBuildDate", format_datetime(_aware(_feed_updated(meta, entries))))
    _sub(channel, f"{{{ATOM_NS}}}link", rel="self", type="application/rss+xml", href=meta.feed_url)
    for entry in _newest(entries):
        item = _sub(channel, "item")
        _sub(item, "title", display_title(entry))
        if entry.link:
            _sub(item, "link", entry.link)
        _sub(item, "description", entry.text)
        _sub(item, "guid", entry.id, isPermaLink="false")
        _sub(item, "pubDate", format_datetime(_aware(entry.published)))
        _sub(item, "category", entry.category)
        if entry.sender_name:
            # RSS <author> must be an e-mail address; the department's name goes in a category.
            _sub(item, "category", entry.sender_name, domain="sender")
    return _serialize(rss)


def cap_identifier(entry: FeedEntry) -> str:
    """CAP identifiers may not contain spaces, commas or < &: a tag URI has a comma."""
    return re.sub(r"[\s,<&]", ".", entry.id)


def cap_reference(entry: FeedEntry) -> str:
    return f"{entry.sender},{cap_identifier(entry)},{cap_time(entry.published)}"


def _cap_element(entry: FeedEntry) -> etree._Element:
    c = f"{{{CAP_NS}}}"
    alert = etree.Element(c + "alert", nsmap={None: CAP_NS})
    _sub(alert, c + "identifier", cap_identifier(entry))
    _sub(alert, c + "sender", entry.sender)
    _sub(alert, c + "sent", cap_time(entry.published))
    _sub(alert, c + "status", CAP_STATUS.get(entry.mode, "Test"))
    _sub(alert, c + "msgType", CAP_MSG_TYPE.get(entry.msg_type, "Alert"))
    _sub(alert, c + "scope", "Public")
    if entry.mode == "exercise":
        _sub(alert, c + "note", "訓練のための情報です。実際の災害ではありません。")
    elif entry.mode == "test":
        _sub(alert, c + "note", "システム試験のための情報です。")
    if entry.references is not None:
        _sub(alert, c + "references", cap_reference(entry.references))
    # One <info> per language, the entry's own first (CAP 1.2 §3.2.2: several info blocks, each
    # with its <language>, carry the same alert in several languages).
    _cap_info(alert, entry, entry.language, entry.title, entry.text, entry.areas)
    for t in entry.translations:
        _cap_info(alert, entry, t.language, t.title, t.text, entry.areas if t.areas is None else t.areas)
    return alert


def _cap_info(alert: etree._Element, entry: FeedEntry, language: str, title: str, text: str,
              areas: Sequence[tuple[str, str]]) -> None:
    c = f"{{{CAP_NS}}}"
    info = _sub(alert, c + "info")
    _sub(info, c + "language", cap_language(language))
    _sub(info, c + "category", entry.category if entry.category in CAP_CATEGORIES else "Other")
    _sub(info, c + "event", (entry.event if language == entry.language else "") or title)
    _sub(info, c + "urgency", entry.urgency)
    _sub(info, c + "severity", entry.severity)
    _sub(info, c + "certainty", entry.certainty)
    if entry.expires is not None:
        _sub(info, c + "expires", cap_time(entry.expires))
    if entry.sender_name:
        _sub(info, c + "senderName", entry.sender_name)
    _sub(info, c + "headline", display_title(replace(entry, title=title)))
    _sub(info, c + "description", text)
    if entry.link:
        _sub(info, c + "web", entry.link)
    for code, name in areas:
        area = _sub(info, c + "area")
        _sub(area, c + "areaDesc", name)
        geocode = _sub(area, c + "geocode")
        _sub(geocode, c + "valueName", GEOCODE_VALUE_NAME)
        _sub(geocode, c + "value", code)


def cap_alert(entry: FeedEntry) -> bytes:
    """One CAP 1.2 alert document."""
    return _serialize(_cap_element(entry))


def cap_feed(entries: Sequence[FeedEntry], meta: FeedMeta | None = None) -> bytes:
    """An Atom feed whose entries carry their CAP alert inline (the index feed CAP readers poll)."""
    if meta is None:
        sender = entries[0].sender if entries else "bousai-hub.invalid"
        meta = FeedMeta(title="CAP", link="", feed_url="", id=f"urn:bousai-hub:cap:{sender}", author=sender)
    feed = _atom_head(meta, entries)
    for entry in _newest(entries):
        node = _atom_entry(feed, entry)
        content = _sub(node, f"{{{ATOM_NS}}}content", type=CAP_MEDIA_TYPE)
        content.append(_cap_element(entry))
    return _serialize(feed)
