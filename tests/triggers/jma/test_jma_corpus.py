"""Every real telegram parses into an event or a deliberate Ignored; truncation always fails cleanly."""

from __future__ import annotations

import contextlib
import copy
import random
import re
from pathlib import Path

import pytest
from lxml import etree

from triggers.jma.errors import TelegramError
from triggers.jma.events import Cancellation, Ignored, InfoType, ParsedTelegram
from triggers.jma.parse import SUPPORTED_TYPES, TITLE_TYPE_CODES, parse_telegram

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jma"
FILES = sorted(FIXTURES.glob("*/*.xml"))
IDS = [f"{path.parent.name}/{path.name}" for path in FILES]
_TYPE_IN_NAME = re.compile(r"_(V[A-Z]{3}\d{2})(?:_\d{6})?\.xml$")


def _type_from_name(path: Path) -> str:
    found = _TYPE_IN_NAME.search(path.name)
    assert found, path.name
    return found.group(1)


def test_corpus_is_complete() -> None:
    assert len(list((FIXTURES / "official").glob("*.xml"))) == 156
    assert len(list((FIXTURES / "live").glob("*.xml"))) == 72
    assert "出典：気象庁" in (FIXTURES / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_every_fixture_parses_or_is_deliberately_ignored(path: Path) -> None:
    expected_type = _type_from_name(path)
    parsed = parse_telegram(path.read_bytes(), type_code=expected_type)
    assert isinstance(parsed, ParsedTelegram)
    head = parsed.head
    assert head.type_code == expected_type
    assert head.report_datetime.tzinfo is not None
    assert head.target_datetime is None or head.target_datetime.tzinfo is not None
    if expected_type not in SUPPORTED_TYPES:
        assert isinstance(parsed.event, Ignored)
        assert parsed.event.reason
    elif head.info_type is InfoType.CANCELLED:
        assert isinstance(parsed.event, Cancellation)
        assert parsed.event.text
    else:
        assert not isinstance(parsed.event, Ignored | Cancellation)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_type_code_is_detected_from_the_xml_alone(path: Path) -> None:
    parsed = parse_telegram(path.read_bytes())
    if parsed.head.title in TITLE_TYPE_CODES:
        assert parsed.head.type_code == _type_from_name(path)
    else:
        assert parsed.head.type_code is None
        assert isinstance(parsed.event, Ignored)


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_truncated_fixture_fails_cleanly(path: Path) -> None:
    raw = path.read_bytes()
    with pytest.raises(TelegramError):
        parse_telegram(raw[: len(raw) // 2])


_JUNK = (
    "",
    "NaN",
    "-1",
    "9999-99-99T99:99:99+09:00",
    "５",
    "5-",
    "+1+2/",
    "解除",
    "震度５弱以上未入電",
    "²",
    "1e309",
)


def test_structurally_mutated_telegrams_never_crash() -> None:
    """Well-formed XML with junk values, missing or doubled elements: a result or TelegramError."""
    rnd = random.Random(20231009)
    sources = [path for path in FILES if path.stat().st_size < 60_000]
    for _ in range(300):
        root = etree.fromstring(rnd.choice(sources).read_bytes())
        elements = list(root.iter())
        for _ in range(rnd.randint(1, 5)):
            element = rnd.choice(elements)
            parent = element.getparent()
            roll = rnd.random()
            if roll < 0.5 or parent is None:
                element.text = rnd.choice(_JUNK)
            elif roll < 0.8:
                parent.remove(element)
            else:
                element.addnext(copy.deepcopy(element))
        with contextlib.suppress(TelegramError):
            parse_telegram(etree.tostring(root))
