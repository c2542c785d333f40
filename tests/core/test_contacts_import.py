"""CSV import: every bad row is reported with its line number and reason; good rows land; nothing is lost."""

from __future__ import annotations

from click.testing import CliRunner

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.contacts.importer import import_contacts
from hub.demo.seed import DEMO_TOKEN, seed_demo
from hub.models import Consent, Contact
from hub.runtime import Runtime

CSV = """external_id,kind,name,phone,email,line_user_id,areas,categories,consent,consent_date,exercise
R1,resident,山田 太郎,090-1234-5678,taro@example.jp,,0321500,bousai;kenko,sms;email,2026-04-01,yes
R2,resident,番号誤り,090-12,,,,,sms,,
R3,resident,地域誤り,080-1111-2222,,,9999999,,sms,,
R4,resident,連絡先なし,,,,,,,,
R5,resident,同意誤り,070-3333-4444,,,,,fax,,
S1,staff,職員 一郎,+819055556666,ichiro@city.example.jp,U0123456789abcdef0123456789abcdef,,,,,
"""


def test_bad_rows_are_reported_by_line_and_good_rows_imported(runtime: Runtime) -> None:
    with runtime.session() as session:
        seed_demo(session, residents=0, staff=0)
        report = import_contacts(session, CSV.encode(), secret_key="test", source="csv:test.csv")
    assert (report.created, report.updated) == (2, 0)
    reasons = {e.line: e.reason for e in report.errors}
    assert set(reasons) == {3, 4, 5, 6}
    assert "電話番号" in reasons[3] and "9999999" in reasons[4] and "連絡先" in reasons[5] and "fax" in reasons[6]
    with runtime.session() as session:
        taro = session.query(Contact).filter_by(external_id="R1").one()
        assert taro.phone == "+819012345678" and taro.exercise_participant
        assert sorted(c.channel for c in taro.consents) == ["email", "sms"]
        assert {c.source for c in taro.consents} == {"csv:test.csv"}


def test_reimport_updates_instead_of_duplicating_and_reads_shift_jis(runtime: Runtime) -> None:
    with runtime.session() as session:
        seed_demo(session, residents=0, staff=0)
        import_contacts(session, CSV.encode(), secret_key="test", source="csv:a.csv")
        again = import_contacts(session, CSV.replace("山田 太郎", "山田 太朗").encode("cp932"), secret_key="test", source="csv:b.csv")
    assert (again.created, again.updated) == (0, 2)
    with runtime.session() as session:
        assert session.query(Contact).count() == 2
        assert session.query(Contact).filter_by(external_id="R1").one().name == "山田 太朗"
        assert session.query(Consent).count() == 2, "consent already on record is not duplicated"


def test_cli_import_prints_line_numbers(runtime: Runtime, tmp_path: object, app: object) -> None:
    from pathlib import Path

    with runtime.session() as session:
        seed_demo(session, residents=0, staff=0)
    path = Path(str(tmp_path)) / "people.csv"
    path.write_text(CSV, encoding="utf-8-sig")
    hub = HubContext()
    hub._app = app  # type: ignore[assignment]
    result = CliRunner().invoke(main, ["contacts", "import", str(path)], obj=hub, env={TOKEN_ENV: DEMO_TOKEN})
    assert result.exit_code == 2  # some rows failed, others imported
    assert "people.csv:3:" in result.output and "新規 2 件" in result.output


def test_large_import_commits_in_chunks_and_a_bad_row_spoils_nothing(runtime: Runtime, monkeypatch: object) -> None:
    """The write lock is held for one chunk at a time, so alerts are never stuck behind an import."""
    import pytest

    from hub.contacts import importer

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setattr(importer, "CHUNK_ROWS", 3)
    rows = [f"R{i},住民{i},090-2222-{i:04d}" for i in range(7)]
    rows.insert(4, "RX,誤り,090-12")  # a bad row inside the second chunk
    data = ("external_id,name,phone\n" + "\n".join(rows) + "\n").encode()
    commits: list[int] = []


    with runtime.session() as session:
        seed_demo(session, residents=0, staff=0)
        session.commit()
        # The importer's own COMMITs: not the savepoint of each row, nor another thread's commits
        # on the same engine (a status applier's, say).
        commit = session.commit

        def counted() -> None:
            commits.append(1)
            commit()
        monkeypatch.setattr(session, "commit", counted)
        report = import_contacts(session, data, secret_key="test", source="csv:big.csv")
        monkeypatch.undo()
        assert len(commits) == 2, "rows 3 and 6 ended a chunk before the caller's own commit"
    assert (report.created, [e.line for e in report.errors]) == (7, [6])
    with runtime.session() as session:
        assert session.query(Contact).count() == 7


def test_a_row_matching_two_contacts_updates_the_oldest_on_every_database(runtime: Runtime) -> None:
    """A row without an external id whose phone is one contact's and whose e-mail is another's:
    the older contact takes it, on SQLite and PostgreSQL alike (the older one is edited after the
    newer was added: PostgreSQL may then keep its row after the newer one's)."""
    header = "kind,name,phone,email\n"
    with runtime.session() as session:
        seed_demo(session, residents=0, staff=0)
        import_contacts(session, (header + "resident,甲,090-1111-0001,\nresident,乙,,otsu@example.jp\n").encode(),
                        secret_key="test", source="csv:a.csv")
        import_contacts(session, (header + "resident,甲（改）,090-1111-0001,\n").encode(), secret_key="test",
                        source="csv:b.csv")
        both = import_contacts(session, (header + "resident,丙,090-1111-0001,otsu@example.jp\n").encode(),
                               secret_key="test", source="csv:c.csv")
    assert (both.created, both.updated) == (0, 1)
    with runtime.session() as session:
        oldest, newer = session.query(Contact).order_by(Contact.id).all()
        assert (oldest.name, oldest.phone, oldest.email) == ("丙", "+819011110001", "otsu@example.jp")
        assert (newer.name, newer.email) == ("乙", "otsu@example.jp")
