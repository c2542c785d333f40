"""Atom feed entries: URL → type code, filtering before download, hostile feeds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from triggers.jma.errors import FeedError
from triggers.jma.feed import parse_feed, type_code_from_url, wanted

BASE = "https://www.data.jma.go.jp/developer/xml/data/"


def _entry(name: str, title: str, updated: str = "2024-01-16T00:39:13Z") -> str:
    return f"""  <entry>
    <title>{title}</title>
    <id>{BASE}{name}</id>
    <updated>{updated}</updated>
    <author><name>気象庁</name></author>
    <link type="application/xml" href="{BASE}{name}"/>
    <content type="text">【震度３】１６日０９時３６分ころ、地震がありました。</content>
  </entry>
"""


def _feed(*entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" lang="ja">\n'
        "  <title>高頻度（地震火山）</title>\n"
        "  <updated>2024-01-16T09:42:30+09:00</updated>\n"
        "  <id>https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml</id>\n"
        '  <link href="https://www.data.jma.go.jp/developer/xml/feed/eqvol.xml" rel="self"/>\n'
        + "".join(entries)
        + "</feed>\n"
    ).encode()


def test_entries_carry_type_code_and_aware_time() -> None:
    raw = _feed(
        _entry("20240116003915_0_VXSE53_010000.xml", "震源・震度に関する情報"),
        _entry("20240116004012_0_VFVO51_010000.xml", "噴火に関する火山観測報"),
        _entry(
            "20240116004100_0_VPWW55_011000.xml",
            "気象警報・注意報（Ｒ０６）（大雨）",
            "2024-01-16T09:41:00+09:00",
        ),
    )
    entries = parse_feed(raw)
    assert [e.type_code for e in entries] == ["VXSE53", "VFVO51", "VPWW55"]
    first = entries[0]
    assert first.url == BASE + "20240116003915_0_VXSE53_010000.xml"
    assert first.updated == datetime(2024, 1, 16, 0, 39, 13, tzinfo=UTC)
    assert (first.title, first.author, first.office_code) == ("震源・震度に関する情報", "気象庁", "010000")
    assert first.content.startswith("【震度３】")
    assert entries[2].updated is not None and entries[2].updated.utcoffset() is not None
    assert [e.type_code for e in entries if wanted(e, {"VXSE53", "VPWW55"})] == ["VXSE53", "VPWW55"]


def test_url_pattern() -> None:
    assert type_code_from_url(BASE + "20231009064018_0_VTSE41_010000.xml") == "VTSE41"
    assert type_code_from_url("https://example.org/other.xml") is None


def test_unknown_url_is_kept_but_never_wanted() -> None:
    raw = _feed(
        _entry("20240116003915_0_VXSE53_010000.xml", "ok"),
    ).replace(b"20240116003915_0_VXSE53_010000.xml", b"strange.xml")
    (entry,) = parse_feed(raw)
    assert entry.type_code is None and not wanted(entry, {"VXSE53"})


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"<feed>",
        b'<?xml version="1.0"?><rss version="2.0"/>',
        _feed(_entry("20240116003915_0_VXSE53_010000.xml", "x"))[:200],
    ],
)
def test_bad_feeds_raise_feed_error(raw: bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(raw)


def test_oversize_feed_is_refused() -> None:
    with pytest.raises(FeedError, match="too large"):
        parse_feed(_feed(), max_bytes=100)
