"""Survey definitions and templates, answer parsing, and the tally's counts, ETA histogram and
expected arrivals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from hub.models.relay import CalloutTarget
from hub.relay import surveys
from hub.relay.answers import record_answers
from hub.relay.clock import ManualClock
from hub.relay.tally import tally
from hub.runtime import Runtime
from tests.relay.support import seed_staff, start
from tests.relay.test_front_doors import _cli


def test_builtin_templates_and_their_questions(runtime: Runtime) -> None:
    with runtime.session() as s:
        surveys.ensure_builtin_surveys(s)
        surveys.ensure_builtin_surveys(s)  # idempotent
        from hub.models.relay import Survey

        found = {x.code: [q.key for q in x.questions] for x in s.query(Survey)}
    assert found == {"anpi": ["safety", "note"], "sanshu": ["attend", "eta", "note"],
                     "anpi_sanshu": ["safety", "attend", "eta", "note"]}


@pytest.mark.parametrize(("question", "message"), [
    ({"key": "q", "kind": "choice", "label": "x", "choices": [{"label": str(i)} for i in range(5)]}, "1〜4個"),
    ({"key": "q", "kind": "choice", "label": "x", "choices": [{"label": "a", "digit": "1"},
                                                               {"label": "b", "digit": "1"}]}, "番号"),
    ({"key": "Q!", "kind": "text", "label": "x"}, "キー"),
    ({"key": "q", "kind": "date", "label": "x"}, "種類"),
    ({"key": "q", "kind": "choice", "label": "x", "choices": [{"label": "あ" * 21}]}, "20文字"),
])
def test_survey_definitions_are_checked_against_what_line_and_phones_can_carry(
    question: dict[str, object], message: str
) -> None:
    with pytest.raises(surveys.SurveyError, match=message):
        surveys.normalise_question(question)


def test_answers_are_parsed_per_kind() -> None:
    snap = {"questions": [surveys.normalise_question(q) for q in surveys.BUILTIN["anpi_sanshu"]["questions"]]}
    safety, eta = surveys.question(snap, "safety"), surveys.question(snap, "eta")
    assert safety is not None and eta is not None
    assert [surveys.parse_value(safety, v) for v in ("safe", "無事", "1", "3")] == ["safe"] * 3 + ["serious"]
    assert [surveys.parse_value(eta, v) for v in ("30", "45#", "９０")] == ["30", "45", "90"]
    for bad in ("abc", "1000", ""):
        with pytest.raises(surveys.SurveyError):
            surveys.parse_value(eta, bad)
    assert surveys.next_question(snap, {"safety": "safe", "attend": "no"}, kinds=("choice", "number")) is None
    assert surveys.next_question(snap, {"safety": "safe", "attend": "yes"})["key"] == "eta"  # type: ignore[index]


def test_a_custom_survey_can_be_defined_from_yaml_and_used(
    app: Flask, runtime: Runtime, clock: ManualClock, tmp_path: Path
) -> None:
    seed_staff(runtime, 2)
    spec = tmp_path / "kitaku.yaml"
    spec.write_text(
        "code: kitaku\ntitle: 帰宅可否確認\nintro: 帰宅できるか教えてください。\nquestions:\n"
        "  - {key: home, kind: choice, label: 帰宅できますか, choices: [{value: ok, label: できる},"
        " {value: ng, label: できない}]}\n", encoding="utf-8")
    code, out, _ = _cli(app, "callout", "surveys", "--define", str(spec))
    assert code == 0 and "kitaku: 帰宅可否確認" in out and "anpi:" in out
    callout_id = start(runtime, survey="kitaku", interval="5m", cycles=1)
    with runtime.session() as s:
        result = tally(s, callout_id)
    assert result is not None and result["questions"][0]["counts"][1]["label"] == "できない"


def test_tally_counts_eta_histogram_and_expected_arrivals(runtime: Runtime, clock: ManualClock) -> None:
    seed_staff(runtime, 6)
    callout_id = start(runtime, interval="5m", cycles=1)
    planned = [("safe", "yes", "10"), ("safe", "yes", "30"), ("minor", "yes", "30"), ("safe", "no", None),
               ("serious", None, None)]
    with runtime.session() as s:
        targets = s.query(CalloutTarget).order_by(CalloutTarget.id).all()
        for target, (safety, attend, eta) in zip(targets, planned, strict=False):
            raw = {"safety": safety, **({"attend": attend} if attend else {}), **({"eta": eta} if eta else {})}
            record_answers(s, target, raw, via="test", actor="test")
        clock.advance(minutes=20)  # a late answer: expected 20 + 60 minutes after the start
        record_answers(s, targets[5], {"safety": "safe", "attend": "yes", "eta": "60"}, via="test", actor="t")
    with runtime.session() as s:
        result = tally(s, callout_id)
    assert result is not None and (result["answered"], result["unreached"]) == (6, 0)
    counts = {q["key"]: {c["value"]: c["count"] for c in q.get("counts", [])} for q in result["questions"]}
    assert counts["safety"] == {"safe": 4, "minor": 1, "serious": 1}
    assert counts["attend"] == {"yes": 4, "no": 1}
    assert [b["count"] for b in result["eta_histogram"]] == [1, 0, 2, 1, 0]
    arrivals = {a["minutes"]: a["count"] for a in result["arrivals"]}
    assert arrivals[15] == 1 and arrivals[30] == 3 and arrivals[75] == 3 and arrivals[90] == 4
    assert sum(d["answered"] for d in result["departments"]) == 6
    assert timedelta(minutes=90) == timedelta(minutes=max(arrivals))
