"""Template filling: sandboxed, Japanese times in JST, place lists shortened for SMS and X."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.models import Template
from hub.templating import SHIPPED, TemplateError, fill, jst, listing, read_template_file, render_text, template_files


def test_times_are_japanese_and_in_jst() -> None:
    assert jst(datetime(2021, 2, 17, 14, 6, tzinfo=UTC)) == "2月17日 23時06分"
    assert jst("2008-06-14T08:43:00+09:00", "H時mm分") == "8時43分"
    assert jst(None) == "" and jst("not a time") == ""


def test_place_lists_are_shortened_with_a_count() -> None:
    places = [{"name": f"町{i}", "intensity": "震度５弱"} for i in range(12)]
    assert listing(places, 2, "intensity", "市町村") == "町0（震度５弱）、町1（震度５弱）ほか10市町村"
    assert listing(["奥州市"]) == "奥州市"
    assert listing([f"長い名前の区域{i}" for i in range(5)], 5, max_chars=24) == "長い名前の区域0、長い名前の区域1ほか3か所"
    assert listing([]) == ""


def test_the_sandbox_refuses_to_reach_python_internals() -> None:
    text, problems = render_text("{{ places.__class__.__mro__[1].__subclasses__() }}", {"places": []})
    assert text == "" and "SecurityError" in problems[0]


def test_missing_values_render_empty_and_are_reported() -> None:
    text, missing = render_text("震源：{{ hypocentre }}／{{ nothing }}", {"hypocentre": "岩手県内陸南部"})
    assert text == "震源：岩手県内陸南部／" and missing == ["nothing"]


def test_every_shipped_template_has_correction_and_cancellation() -> None:
    files = template_files([SHIPPED])
    codes = {read_template_file(path)["code"] for path in files}
    assert codes == {"jma-earthquake", "jma-tsunami", "jma-evacuation-level4", "jma-cleared", "jma-record-rain",
                     "jma-volcano", "manual-shelter-open", "manual-water-outage"}
    for path in files:
        record = read_template_file(path)
        template = Template(**record)
        for part in ("body", "correction", "cancellation"):
            assert fill(template, {}, part=part).body, (path.name, part)


def test_a_template_without_prepared_cancellation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("code: x\nname: x\ntitle: t\nbody: b\ncorrection: c\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="cancellation"):
        read_template_file(path)
    path.write_text("code: x\nname: x\ntitle: '{{ a'\nbody: b\ncorrection: c\ncancellation: d\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="書き方"):
        read_template_file(path)
