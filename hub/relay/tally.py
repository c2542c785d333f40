"""The live tally: answered / unreached per department, counts per answer, expected arrivals,
and who nobody has reached yet with everything that was tried. Also the CSV export.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.csvsafe import SafeWriter
from hub.models import Contact, Department
from hub.models.relay import Callout, CalloutTarget, ContactAttempt, SurveyAnswer, TargetState
from hub.relay import surveys
from hub.relay.callouts import describe
from hub.relay.clock import aware

JST = timezone(timedelta(hours=9), "JST")
ETA_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 15, "〜15分"), (15, 30, "15〜30分"), (30, 60, "30〜60分"), (60, 120, "60〜120分"),
    (120, None, "120分〜"),
)
ARRIVAL_SLOT_MINUTES = 15
CHANNEL_LABELS = {"line": "LINE", "voice": "電話", "email": "メール", "sms": "SMS"}
STATE_LABELS = {
    TargetState.WAITING: "連絡中", TargetState.CONTACTING: "連絡中", TargetState.RECOVERING: "連絡中",
    TargetState.ANSWERED: "回答済み", TargetState.EXHAUSTED: "未到達（連絡終了）",
    TargetState.CLOSED: "未回答（締切）",
}
VIA_LABELS = {"line": "LINE", "voice": "電話", "page:email": "回答ページ（メール）",
              "page:sms": "回答ページ（SMS）", "page:line": "回答ページ（LINE）"}
ATTEMPT_LABELS = {"sending": "送信中", "sent": "送信", "failed": "失敗", "skipped": "宛先なし",
                  "unknown": "不明", "no_answer": "不在・応答なし"}


def _iso(value: datetime | None) -> str | None:
    return aware(value).isoformat() if value else None


def jst(value: datetime | None) -> str:
    return aware(value).astimezone(JST).strftime("%m/%d %H:%M") if value else ""


def tally(session: Session, callout_id: int) -> dict[str, Any] | None:
    callout = session.get(Callout, callout_id)
    if callout is None:
        return None
    snap = callout.survey_snapshot
    depts = {d.id: d for d in session.scalars(select(Department))}
    people = session.execute(
        select(CalloutTarget.id, CalloutTarget.department_id, CalloutTarget.state, CalloutTarget.answered_at,
               CalloutTarget.answered_via, CalloutTarget.cycle, Contact.name, Contact.position,
               Contact.external_id)
        .join(Contact, Contact.id == CalloutTarget.contact_id)
        .where(CalloutTarget.callout_id == callout_id).order_by(CalloutTarget.department_id, Contact.name)
    ).all()
    answers: dict[int, dict[str, tuple[str, datetime]]] = defaultdict(dict)
    for target_id, key, value, said_at in session.execute(
            select(SurveyAnswer.target_id, SurveyAnswer.question_key, SurveyAnswer.value,
                   SurveyAnswer.updated_at).where(SurveyAnswer.callout_id == callout_id)):
        answers[target_id][key] = (value, said_at)  # the latest answer counts for arrivals

    by_dept: dict[int | None, dict[str, Any]] = {}
    per_question: dict[str, Counter[str]] = {q["key"]: Counter() for q in surveys.questions(snap)}
    states: Counter[str] = Counter()
    unreached_ids = []
    for p in people:
        dept = by_dept.setdefault(p.department_id, _dept_entry(depts.get(p.department_id), snap))
        dept["total"] += 1
        states[p.state] += 1
        if p.answered_at is not None:
            dept["answered"] += 1
        else:
            dept["unreached"] += 1
            unreached_ids.append(p.id)
        for key, (value, _at) in answers.get(p.id, {}).items():
            if key in per_question and _countable(snap, key):
                per_question[key][value] += 1
                dept["answers"].setdefault(key, Counter())[value] += 1
    total = len(people)
    answered = sum(d["answered"] for d in by_dept.values())
    return {
        "callout": describe(callout),
        "total": total, "answered": answered, "unreached": total - answered,
        "states": dict(states),
        "departments": [{**d, "answers": {k: dict(v) for k, v in d["answers"].items()}}
                        for d in by_dept.values()],
        "questions": [_question_counts(q, per_question[q["key"]], answers) for q in surveys.questions(snap)],
        "eta_histogram": eta_histogram(snap, answers),
        "arrivals": arrivals(callout, snap, answers),
        "unreached_list": unreached_list(session, people, unreached_ids, depts),
    }


def _dept_entry(dept: Department | None, snap: dict[str, Any]) -> dict[str, Any]:
    return {"code": dept.code if dept else None, "name": dept.name if dept else "（部署なし）",
            "total": 0, "answered": 0, "unreached": 0, "answers": {}}


def _countable(snap: dict[str, Any], key: str) -> bool:
    q = surveys.question(snap, key)
    return q is not None and q["kind"] == "choice"


def _question_counts(q: surveys.Question, counts: Counter[str],
                     answers: dict[int, dict[str, tuple[str, datetime]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"key": q["key"], "label": q["label"], "kind": q["kind"]}
    if q["kind"] == "choice":
        out["counts"] = [{"value": c["value"], "label": c["label"], "count": counts.get(c["value"], 0)}
                         for c in q["choices"]]
    else:
        out["answered"] = sum(1 for a in answers.values() if q["key"] in a)
    return out


def _eta_question(snap: dict[str, Any]) -> surveys.Question | None:
    q = surveys.question(snap, "eta")
    return q if q is not None and q["kind"] == "number" else None


Answers = dict[int, dict[str, tuple[str, datetime]]]


def eta_histogram(snap: dict[str, Any], answers: Answers) -> list[dict[str, Any]]:
    if _eta_question(snap) is None:
        return []
    minutes = [int(a["eta"][0]) for a in answers.values() if "eta" in a and a["eta"][0].isdigit()]
    return [{"label": label, "min": low, "max": high,
             "count": sum(1 for m in minutes if m >= low and (high is None or m < high))}
            for low, high, label in ETA_BUCKETS]


def arrivals(callout: Callout, snap: dict[str, Any],
             answers: dict[int, dict[str, tuple[str, datetime]]]) -> list[dict[str, Any]]:
    """Expected arrivals over time: how many will be there by each 15-minute mark after the start."""
    if _eta_question(snap) is None:
        return []
    start = aware(callout.started_at)
    expected = sorted(aware(a["eta"][1]) + timedelta(minutes=int(a["eta"][0]))
                      for a in answers.values() if "eta" in a and a["eta"][0].isdigit()
                      and a.get("attend", ("yes",))[0] == "yes")
    if not expected:
        return []
    slots, out = int((expected[-1] - start) / timedelta(minutes=ARRIVAL_SLOT_MINUTES)) + 1, []
    for i in range(1, slots + 1):
        mark = start + timedelta(minutes=ARRIVAL_SLOT_MINUTES * i)
        out.append({"minutes": ARRIVAL_SLOT_MINUTES * i, "at": mark.isoformat(),
                    "count": sum(1 for e in expected if e <= mark)})
    return out


def unreached_list(session: Session, people: Sequence[Any], ids: list[int],
                   depts: dict[int, Department]) -> list[dict[str, Any]]:
    tried: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for chunk in (ids[i:i + 1000] for i in range(0, len(ids), 1000)):
        for a in session.scalars(select(ContactAttempt).where(ContactAttempt.target_id.in_(chunk))
                                 .order_by(ContactAttempt.at, ContactAttempt.id)):
            tried[a.target_id].append({"channel": a.channel, "state": a.state, "at": _iso(a.at),
                                       "cycle": a.cycle, "reason": a.reason, "error": a.error})
    wanted = set(ids)
    return [{"target_id": p.id, "name": p.name, "external_id": p.external_id, "position": p.position,
             "department": depts[p.department_id].name if p.department_id in depts else None,
             "state": p.state, "attempts": tried.get(p.id, [])}
            for p in people if p.id in wanted]


def attempts_summary(attempts: list[dict[str, Any]]) -> str:
    return " / ".join(
        f"{CHANNEL_LABELS.get(a['channel'], a['channel'])} {jst(datetime.fromisoformat(a['at']))} "
        f"{ATTEMPT_LABELS.get(a['state'], a['state'])}" for a in attempts)


def export_csv(session: Session, callout_id: int) -> str | None:
    """One row per person, for Excel: UTF-8 with BOM, answers as their labels, the contact history."""
    callout = session.get(Callout, callout_id)
    if callout is None:
        return None
    snap = callout.survey_snapshot
    qs = surveys.questions(snap)
    depts = {d.id: d for d in session.scalars(select(Department))}
    rows = session.execute(
        select(CalloutTarget, Contact).join(Contact, Contact.id == CalloutTarget.contact_id)
        .where(CalloutTarget.callout_id == callout_id).order_by(CalloutTarget.department_id, Contact.name)
    ).all()
    answers: dict[int, dict[str, str]] = defaultdict(dict)
    for target_id, key, value in session.execute(
            select(SurveyAnswer.target_id, SurveyAnswer.question_key, SurveyAnswer.value)
            .where(SurveyAnswer.callout_id == callout_id)):
        answers[target_id][key] = value
    history: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in session.scalars(select(ContactAttempt).where(ContactAttempt.callout_id == callout_id)
                             .order_by(ContactAttempt.at, ContactAttempt.id)):
        history[a.target_id].append({"channel": a.channel, "state": a.state, "at": _iso(a.at)})
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(["部署", "職員番号", "氏名", "役職", "状態", "回答日時", "回答経路",
                     *[q["label"] for q in qs], "連絡履歴"])
    for target, contact in rows:
        dept = depts.get(target.department_id) if target.department_id else None
        mine = answers.get(target.id, {})
        writer.writerow([
            dept.name if dept else "", contact.external_id or "", contact.name, contact.position or "",
            STATE_LABELS.get(TargetState(target.state), target.state), jst(target.answered_at),
            VIA_LABELS.get(target.answered_via or "", target.answered_via or ""),
            *[surveys.label_for(q, mine[q["key"]]) if q["key"] in mine else "" for q in qs],
            attempts_summary(history.get(target.id, [])),
        ])
    return "\ufeff" + out.getvalue()
