"""Fixtures for the JMA trigger tests: real telegrams under tests/fixtures/jma (出典：気象庁)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from triggers.jma.events import ParsedTelegram
from triggers.jma.parse import parse_telegram

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jma"


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


@pytest.fixture
def telegram() -> Callable[[str], ParsedTelegram]:
    """Parse a fixture by its path relative to tests/fixtures/jma, e.g. ``official/…_VXSE53.xml``."""

    def load(relative: str) -> ParsedTelegram:
        return parse_telegram(fixture_bytes(relative))

    return load


@pytest.fixture
def raw_fixture() -> Callable[[str], bytes]:
    """Bytes of a fixture, for tests that derive a variant of a real telegram."""
    return fixture_bytes
