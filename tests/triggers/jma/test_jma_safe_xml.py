"""Hostile and broken input must end as TelegramError, fast, without leaking local files."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from triggers.jma.errors import TelegramError
from triggers.jma.feed import parse_feed
from triggers.jma.parse import parse_telegram
from triggers.jma.safe_xml import parse_xml

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jma"
SAMPLE = FIXTURES / "official" / "32-35_06_03_240613_VXSE53.xml"

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Report [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>&xxe;</Title></Control></Report>"""

XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE Report [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>"""

XXE_EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Report SYSTEM "http://127.0.0.1:9/evil.dtd">
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>"""


def _billion_laughs() -> bytes:
    lines = [b'<?xml version="1.0"?>', b"<!DOCTYPE Report [", b'<!ENTITY lol0 "lol">']
    lines += [b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1)) * 10) for i in range(1, 10)]
    lines += [b"]>", b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">&lol9;</Report>']
    return b"\n".join(lines)


def _utf16(document: bytes) -> bytes:
    text = document.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    return text.encode("utf-16")


def _passwd_markers() -> list[str]:
    try:
        first = Path("/etc/passwd").read_text().splitlines()[0]
    except (OSError, IndexError):
        return ["root:x:0:0"]
    return [first, first.split(":")[0] + ":x:"]


HOSTILE = {
    "xxe": XXE,
    "xxe-parameter-entity": XXE_PARAMETER,
    "xxe-external-dtd": XXE_EXTERNAL_DTD,
    "billion-laughs": _billion_laughs(),
    "xxe-utf16": _utf16(XXE),
    "billion-laughs-utf16": _utf16(_billion_laughs()),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_xml_is_rejected_quickly_without_leaking(name: str) -> None:
    started = time.perf_counter()
    with pytest.raises(TelegramError) as caught:
        parse_telegram(HOSTILE[name])
    assert time.perf_counter() - started < 1.0
    rendered = f"{caught.value!s} {caught.value!r} {caught.value.__cause__!r} {caught.value.__context__!r}"
    for marker in _passwd_markers():
        assert marker not in rendered


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_feed_is_rejected(name: str) -> None:
    with pytest.raises(TelegramError):
        parse_feed(HOSTILE[name])


def test_truncated_telegram_is_rejected() -> None:
    raw = SAMPLE.read_bytes()
    with pytest.raises(TelegramError, match="malformed XML"):
        parse_telegram(raw[: len(raw) // 2])


def test_oversize_is_rejected_before_parsing() -> None:
    raw = SAMPLE.read_bytes()
    with pytest.raises(TelegramError, match="too large"):
        parse_telegram(raw, max_bytes=len(raw) - 1)
    with pytest.raises(TelegramError, match="too large"):
        parse_xml(b"<a/>" + b" " * 2_000_001)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \n",
        b"not xml at all",
        b"<Report>",
        b'<?xml version="1.0"?><other/>',
        b"\xff\xfe\x00garbage",
        b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"/>',
        b'<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control/><Head '
        b'xmlns="http://xml.kishou.go.jp/jmaxml1/informationBasis1/"/></Report>',
    ],
)
def test_garbage_is_rejected(raw: bytes) -> None:
    with pytest.raises(TelegramError):
        parse_telegram(raw)


def test_non_bytes_is_rejected() -> None:
    with pytest.raises(TelegramError, match="expected bytes"):
        parse_telegram("<Report/>")  # type: ignore[arg-type]


def _replace(raw: bytes, old: str, new: str) -> bytes:
    assert old.encode() in raw
    return raw.replace(old.encode(), new.encode(), 1)


def test_unknown_status_is_never_guessed() -> None:
    raw = _replace(SAMPLE.read_bytes(), "<Status>通常</Status>", "<Status>本番</Status>")
    with pytest.raises(TelegramError, match="unknown Control/Status"):
        parse_telegram(raw)


def test_bad_datetime_is_rejected() -> None:
    raw = _replace(
        SAMPLE.read_bytes(),
        "<ReportDateTime>2008-06-14T08:47:00+09:00</ReportDateTime>",
        "<ReportDateTime>yesterday</ReportDateTime>",
    )
    with pytest.raises(TelegramError, match="bad datetime"):
        parse_telegram(raw)


def test_missing_body_part_is_rejected() -> None:
    raw = SAMPLE.read_bytes()
    start, end = raw.index(b"<Earthquake>"), raw.index(b"</Earthquake>") + len(b"</Earthquake>")
    with pytest.raises(TelegramError, match="missing Earthquake"):
        parse_telegram(raw[:start] + raw[end:])
