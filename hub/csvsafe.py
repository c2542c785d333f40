"""CSV that is safe to open in Excel: no cell is ever read as a formula.

Exports carry text that outsiders wrote (contact names, provider error texts, free-text survey
answers). A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab / carriage return that
Excel strips before looking) would run as a formula when an officer opens the file, so such
cells get a leading ``'``, which Excel shows as plain text. One helper for every export.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, s: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def read_cell(value: str) -> str:
    """What :func:`safe_cell` guarded, unguarded: a file exported here imports again as it was
    (``'+81 90-1234-5678`` is the phone number, not a malformed one)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


class SafeWriter:
    """``csv.writer`` whose rows pass through :func:`safe_cell`."""

    def __init__(self, out: _Writable) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])
