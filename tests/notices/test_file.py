"""The file is read as the contacts importer reads it: Shift_JIS, UTF-8 with or without BOM; and the
placeholders are names only, an empty one an error."""

from __future__ import annotations

import pytest

from hub.notices.check import CsvSendError, read_rows
from hub.notices.placeholders import PlaceholderError, fill

TEXT = "phone,氏名,予約日時\r\n090-1234-0001,山田 花子,12月2日 14:30\r\n\r\n090-1234-0002,\"佐藤, 一郎\",12月3日\r\n"


@pytest.mark.parametrize("encoding", ["cp932", "utf-8", "utf-8-sig"])
def test_every_encoding_gives_the_same_rows_and_lines(encoding: str) -> None:
    header, rows = read_rows(TEXT.encode(encoding))
    assert header == ["phone", "氏名", "予約日時"]
    assert [(line, row["氏名"]) for line, row in rows] == [(2, "山田 花子"), (4, "佐藤, 一郎")]


def test_an_unreadable_file_is_refused_whole() -> None:
    with pytest.raises(CsvSendError, match="文字コード"):
        read_rows(b"phone\n\x80\x81\n")


@pytest.mark.parametrize("template", ["{{氏名.__class__}}", "{{氏名[0]}}", "{{氏名.upper()}}", "{{ range(9) }}"])
def test_placeholders_are_names_only(template: str) -> None:
    with pytest.raises(PlaceholderError):
        fill(template, {"氏名": "山田"})


def test_an_empty_value_is_an_error_not_an_empty_string() -> None:
    assert fill("{{氏名}}様", {"氏名": "山田"}) == "山田様"
    with pytest.raises(PlaceholderError, match="氏名"):
        fill("{{氏名}}様", {"氏名": " "})
