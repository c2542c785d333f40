"""Hypothesis fuzzing of the contacts CSV importer.

Whatever the bytes, ``import_contacts`` returns a report or raises its one documented error,
ValueError (an unreadable file: the caller's transaction rolls back and nothing is imported).
Every data row is accounted for (created, updated or reported with its line), and rows that are
refused leave no contact, consent or membership behind. HUB_FUZZ_EXAMPLES raises the examples.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub.config import Settings
from hub.contacts.importer import import_contacts
from hub.demo.seed import seed_demo
from hub.models import Consent, Contact, RecipientList
from hub.models.contacts import contact_areas, contact_categories
from hub.runtime import Runtime

FUZZ = settings(max_examples=int(os.environ.get("HUB_FUZZ_EXAMPLES", "60")), deadline=None,
                derandomize=not os.environ.get("HUB_FUZZ_RANDOM"), database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
COLUMNS = ["external_id", "kind", "name", "language", "phone", "email", "line_user_id", "department",
           "position", "areas", "categories", "consent", "consent_source", "consent_date", "exercise"]


@pytest.fixture
def rt(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    # No app: the importer is plain Python over a session. Both databases: PostgreSQL refuses
    # text longer than its column, which SQLite stores.
    runtime = Runtime(Settings(database_url=database_url, data_dir=str(tmp_path)).resolved())
    with runtime.session() as session:
        seed_demo(session, residents=3, staff=1)
    yield runtime


def counts(rt: Runtime) -> tuple[int, ...]:
    with rt.session() as s:
        return tuple(int(s.scalar(select(func.count()).select_from(t)) or 0)
                     for t in (Contact, Consent, RecipientList, contact_areas, contact_categories))


def run(rt: Runtime, data: bytes, list_name: str | None = None) -> tuple[object, tuple[int, ...]]:
    """(the report or the ValueError, counts after); the session commits or rolls back as in the API."""
    outcome: object
    try:
        with rt.session() as session:
            outcome = import_contacts(session, data, secret_key="test", source="fuzz", list_name=list_name)
    except ValueError as exc:
        outcome = exc
    return outcome, counts(rt)  # after the commit or the rollback


@FUZZ
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_give_a_report_or_a_value_error_that_imports_nothing(rt: Runtime, data: bytes) -> None:
    before = counts(rt)
    outcome, after = run(rt, data, list_name="fuzz")
    if isinstance(outcome, ValueError):
        assert str(outcome) and after == before


# Values that are sometimes right (so rows get imported) and often wrong.
values = {
    "kind": st.sampled_from(["resident", "staff", "", "alien"]),
    "phone": st.sampled_from(["090-1234-5678", "+819011112222", "03-1234-5678", "090-12", ""]) | st.text(max_size=15),
    "email": st.sampled_from(["a@example.jp", "bad@", ""]) | st.text(max_size=15),
    "line_user_id": st.sampled_from(["U" + "0" * 32, "U123", ""]),
    "areas": st.sampled_from(["0321500", "9999999", "", "0321500;0321500"]) | st.text(max_size=10),
    "categories": st.sampled_from(["bousai", "kenko;bousai", "nosuch", ""]),
    "department": st.sampled_from(["bousai", "nosuch", ""]),
    "consent": st.sampled_from(["all", "sms;email", "fax", "", "はい"]) | st.text(max_size=10),
    "consent_date": st.sampled_from(["2026-04-01", "2026-13-01", "", "yesterday"]),
    "exercise": st.sampled_from(["yes", "no", "", "○"]),
}
# Sometimes longer than the column (PostgreSQL refuses those at flush; SQLite stores them).
free_text = st.text(max_size=12) | st.text(min_size=60, max_size=130)
values["email"] = values["email"] | st.just("a" * 250 + "@example.jp")
rows = st.fixed_dictionaries({c: values.get(c, free_text) for c in COLUMNS})


@FUZZ
@given(header=st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=8, unique=True) | st.just(COLUMNS),
       records=st.lists(rows, max_size=6), cp932=st.booleans())
def test_every_row_is_imported_or_reported_and_refused_rows_leave_nothing(
        rt: Runtime, header: list[str], records: list[dict[str, str]], cp932: bool) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for record in records:
        writer.writerow([record[c] for c in header])
    text = out.getvalue()
    try:
        data = text.encode("cp932") if cp932 else text.encode("utf-8")
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    before = counts(rt)
    report, after = run(rt, data)
    if isinstance(report, ValueError):  # a file csv.writer wrote is readable unless it holds NUL
        assert "\x00" in text and after == before, report
        return
    if not {"phone", "email", "line_user_id", "external_id"} & set(header):
        assert [e.line for e in report.errors] == [1] and after == before  # type: ignore[attr-defined]
        return
    parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig") if not cp932 else text, newline="")))
    lines = sorted(e.line for e in report.errors)  # type: ignore[attr-defined]
    assert report.created + report.updated + len(lines) == len(parsed)  # type: ignore[attr-defined]
    assert len(set(lines)) == len(lines) and all(2 <= n <= len(text.splitlines()) for n in lines)
    if report.created + report.updated == 0:  # type: ignore[attr-defined]
        assert after == before


def test_a_bare_carriage_return_is_a_line_break_not_a_crash(rt: Runtime) -> None:
    # Found by the API fuzzer: csv.Error ("new-line character seen in unquoted field") was a 500.
    report, _ = run(rt, b"name,phone\r\xe5\xb1\xb1\xe7\x94\xb0,09012345678\rx,\r")
    assert not isinstance(report, ValueError)
    assert report.created == 1 and [e.line for e in report.errors] == [3]  # type: ignore[attr-defined]


def test_a_file_csv_cannot_split_is_a_value_error_and_imports_nothing(rt: Runtime) -> None:
    before = counts(rt)
    huge_field = b"name,phone\n" + b"a,09012345678\n" + b'"' + b"x" * 200_000 + b'",1\n'
    outcome, after = run(rt, huge_field)
    assert isinstance(outcome, ValueError) and "3" in str(outcome)
    assert after == before  # the good first row was rolled back with the rest


def test_found_by_the_fuzzer_a_line_id_twice_or_an_area_twice_is_a_row_error(rt: Runtime) -> None:
    # Both were IntegrityErrors at flush: the whole file was lost (a 500 at the API).
    line_id = "U" + "a" * 32
    data = (f"external_id,phone,line_user_id,areas,categories\n"
            f"A1,09011112222,{line_id},0321500;0321500,kenko;kenko\n"
            f",09033334444,{line_id},,\n").encode()
    before = counts(rt)
    report, after = run(rt, data)
    assert not isinstance(report, ValueError)
    assert report.created == 1 and [e.line for e in report.errors] == [3]  # type: ignore[attr-defined]
    assert "line_user_id" in report.errors[0].reason  # type: ignore[attr-defined]
    assert (after[0], after[3], after[4]) == (before[0] + 1, before[3] + 1, before[4] + 1), (before, after)


def test_found_by_the_fuzzer_a_nul_byte_is_a_value_error_not_a_database_error(rt: Runtime) -> None:
    # PostgreSQL stores no NUL in text: the flush failed and the whole import was a 500.
    before = counts(rt)
    outcome, after = run(rt, b"name,phone\n\x00,09012345678\n")
    assert isinstance(outcome, ValueError) and "NUL" in str(outcome)
    assert after == before


def test_found_by_the_fuzzer_text_longer_than_its_column_is_a_row_error(rt: Runtime) -> None:
    # PostgreSQL refused it at flush and the whole file was lost (SQLite stored it).
    data = ("name,phone,language\n" + "あ" * 101 + ",09012345678,ja\n正常,09012345679,ja\n"
            + "x,09012345670,japanese-ja\n").encode()
    report, _ = run(rt, data, list_name=None)
    assert not isinstance(report, ValueError)
    assert report.created == 1 and {e.line for e in report.errors} == {2, 4}  # type: ignore[attr-defined]
    # A long file name is the audit entry's subject: it is cut, not a reason to lose the import.
    with rt.session() as session:
        assert import_contacts(session, b"name,phone\nx,09011119999\n", secret_key="test", source="csv:" + "長" * 200).created == 1
