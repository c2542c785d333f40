"""Hypothesis fuzzing of the JMA telegram and feed parsers, from random bytes and mutated real telegrams.

``parse_telegram`` answers a ParsedTelegram or raises TelegramError, and ``parse_feed`` a list or
FeedError: any other exception would stop the poller on one bad telegram. DTDs and entities are
refused however they are smuggled in, so nothing is expanded or fetched. No network is used:
everything is parsed from bytes. HUB_FUZZ_EXAMPLES raises the examples (docs/security.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from triggers.jma.errors import FeedError, TelegramError
from triggers.jma.events import ParsedTelegram
from triggers.jma.feed import FeedEntry, parse_feed
from triggers.jma.parse import parse_telegram

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jma"
TELEGRAMS = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.xml"))
FUZZ = settings(max_examples=int(os.environ.get("HUB_FUZZ_EXAMPLES", "80")), deadline=None,
                derandomize=not os.environ.get("HUB_FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_cache: dict[str, bytes] = {}


def fixture(name: str) -> bytes:
    if name not in _cache:
        _cache[name] = (FIXTURES / name).read_bytes()
    return _cache[name]


def parsed_or_refused(raw: bytes) -> ParsedTelegram | None:
    """The parse, None when refused with TelegramError; anything else fails the test."""
    try:
        result = parse_telegram(raw)
    except TelegramError as exc:
        assert isinstance(exc.message, str) and exc.message
        return None
    assert isinstance(result, ParsedTelegram)
    return result


def test_the_fixtures_are_there_and_parse() -> None:
    # The mutation tests below mean little if they start from nothing parseable.
    assert len(TELEGRAMS) > 100
    assert sum(parsed_or_refused(fixture(name)) is not None for name in TELEGRAMS[::10]) >= len(TELEGRAMS[::10]) - 2


@FUZZ
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_are_parsed_or_refused(raw: bytes) -> None:
    parsed_or_refused(raw)


TEXT_NODE = re.compile(rb">([^<>]*)<")
ATTRIBUTE = re.compile(rb'="([^"]*)"')
LEAF = re.compile(rb"<([A-Za-z:]+)[^<>]*>[^<>]*</\1>")
DIGITS = re.compile(rb"[0-9]+")
NUMBERS = st.sampled_from([b"0", b"9" * 400, b"9" * 5000, b"00000000000000000000", b"1" * 19])
# Values a parser meets in the wild or chokes on: empty, huge, signed, full-width, malformed dates.
TRICKY = st.sampled_from([b"", b"-", b"0", b"-1", b"99999999999999999999999", b"1e400", b"NaN", b"7+", b"5-",
                          "震度７".encode(), "２０２４".encode(), b"2024-13-45T25:61:00+09:00", b"9999-12-31T23:59:59Z",
                          b"0001-01-01T00:00:00+14:00", b"+35.0+139.0-10000/", b"//", b"&amp;", b"\xff\xfe"])
values = TRICKY | st.binary(max_size=12) | st.text(max_size=12).map(str.encode)


@st.composite
def mutated_telegrams(draw: st.DrawFn) -> bytes:
    """A real telegram with one to three edits: text or attribute values replaced, a leaf removed, bytes cut."""
    raw = fixture(draw(st.sampled_from(TELEGRAMS)))
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["text", "attribute", "drop", "number", "truncate", "splice"]))
        pattern = {"text": TEXT_NODE, "attribute": ATTRIBUTE, "drop": LEAF, "number": DIGITS}.get(kind)
        if pattern is not None:
            spans = [m.span(1 if kind in ("text", "attribute") else 0) for m in pattern.finditer(raw)]
            if not spans:
                continue
            start, end = spans[draw(st.integers(0, len(spans) - 1))]
            new = {"drop": st.just(b""), "number": NUMBERS}.get(kind, values)
            raw = raw[:start] + draw(new) + raw[end:]
        elif kind == "truncate":
            raw = raw[:draw(st.integers(0, len(raw)))]
        else:
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.binary(max_size=8)) + raw[at:]
    return raw


SAMPLE = "official/32-35_06_03_240613_VXSE53.xml"


@FUZZ
@given(raw=mutated_telegrams())
# Found by fuzzing: a hypocentre depth of 400 digits was an OverflowError (int / 1000), not a TelegramError.
@example(raw=fixture(SAMPLE).replace(b"+39.0+140.9-10000/", b"+39.0+140.9-" + b"9" * 400 + b"/"))
def test_mutated_real_telegrams_are_parsed_or_refused(raw: bytes) -> None:
    parsed_or_refused(raw)


DTDS = st.sampled_from([
    b'<!DOCTYPE Report [<!ENTITY x "' + b"A" * 50 + b'">]>',
    b'<!DOCTYPE Report [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE Report [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>',
    b'<!DOCTYPE Report SYSTEM "http://127.0.0.1:9/evil.dtd">',
    b"<!DOCTYPE Report>",
])


@FUZZ
@given(name=st.sampled_from(TELEGRAMS), dtd=DTDS, encoding=st.sampled_from(["utf-8", "utf-16", "utf-16-le"]),
       marker_case=st.sampled_from([str.upper, str.lower, str.title]))
def test_dtds_and_entities_are_refused_however_encoded(name: str, dtd: bytes, encoding: str,
                                                       marker_case: object) -> None:
    text = fixture(name).decode("utf-8")
    declaration, sep, rest = text.partition("?>")
    assume(sep)
    dtd_text = dtd.decode()
    # XML keywords are case-sensitive: <!doctype is malformed rather than a DTD; either way, refused.
    dtd_text = dtd_text.replace("DOCTYPE", marker_case("DOCTYPE"))  # type: ignore[operator]
    body = declaration.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"') + sep + "\n" + dtd_text
    raw = (body + rest).encode(encoding)
    result = parsed_or_refused(raw)
    assert result is None, "a telegram with a DTD was accepted"


FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" lang="ja"><title>high frequency</title><id>urn:x</id>
<updated>2024-01-01T00:00:00Z</updated>%s</feed>"""
ENTRY = b"""<entry><title>%s</title><id>%s</id><updated>%s</updated><author><name>%s</name></author>
<link type="application/xml" href="%s"/><content type="text">%s</content></entry>"""
URLS = st.sampled_from([b"https://www.data.jma.go.jp/developer/xml/data/20240101000000_0_VXSE53_270000.xml",
                        b"https://example.jp/a.xml", b"", b"javascript:alert(1)", b"x" * 300])


@FUZZ
@given(entries=st.lists(st.tuples(values, values, TRICKY | values, values, URLS, values), max_size=5))
def test_feeds_are_entries_or_refused(entries: list[tuple[bytes, ...]]) -> None:
    raw = FEED % b"".join(ENTRY % e for e in entries)
    try:
        result = parse_feed(raw)
    except FeedError:
        return
    assert isinstance(result, list) and all(isinstance(e, FeedEntry) for e in result)


@FUZZ
@given(raw=st.binary(max_size=1000))
def test_arbitrary_bytes_as_a_feed_are_refused(raw: bytes) -> None:
    with pytest.raises(FeedError):  # random bytes are never an Atom document
        parse_feed(raw)
