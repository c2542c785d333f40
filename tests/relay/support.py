"""Seeding staff and reading what the relay did, shared by the relay tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from hub.models import Contact, ContactKind, Department
from hub.models.relay import ContactAttempt, SurveyAnswer
from hub.relay import engine
from hub.relay.callouts import start_callout
from hub.relay.tasks import enqueue, release_callout
from hub.runtime import Runtime

DEPARTMENTS = [("bousai", "防災危機管理課"), ("soumu", "総務課"), ("doboku", "土木課"), ("kenko", "健康推進課")]


@dataclass(frozen=True)
class Person:
    contact_id: int
    name: str
    line: str | None
    phone: str | None
    email: str | None
    department: str


def line_id(i: int) -> str:
    return f"U{i:032x}"


def phone(i: int) -> str:
    return f"+8190{10000000 + i:08d}"


def seed_staff(runtime: Runtime, n: int, *, exercise: bool = True, without: Sequence[str] = (),
               start: int = 0) -> list[Person]:
    """``n`` staff spread over four departments, each with LINE, phone and e-mail (minus ``without``)."""
    with runtime.session() as s:
        depts = {d.code: d for d in s.scalars(select(Department))}
        for code, name in DEPARTMENTS:
            if code not in depts:
                depts[code] = Department(code=code, name=name, voice_sender="+815011110001",
                                         sms_sender="+815011110001", email_sender=f"{code}@city.example.jp",
                                         email_sender_name=f"○○市 {name}")
                s.add(depts[code])
        s.flush()
        rows: list[dict[str, Any]] = []
        for i in range(start, start + n):
            code = DEPARTMENTS[i % len(DEPARTMENTS)][0]
            rows.append({
                "external_id": f"S{i:05d}", "kind": ContactKind.STAFF, "name": f"職員{i:04d}",
                "department_id": depts[code].id, "position": "主事",
                "line_user_id": None if "line" in without else line_id(i),
                "phone": None if "voice" in without else phone(i),
                "email": None if "email" in without else f"staff{i:05d}@city.example.jp",
                "exercise_participant": exercise, "active": True, "language": "ja",
            })
        if not rows:  # an empty executemany would insert one row of defaults
            return []
        ids = list(s.scalars(insert(Contact).returning(Contact.id, sort_by_parameter_order=True), rows))
        return [Person(cid, r["name"], r["line_user_id"], r["phone"], r["email"],
                       DEPARTMENTS[(start + k) % len(DEPARTMENTS)][0])
                for k, (cid, r) in enumerate(zip(ids, rows, strict=True))]


def start(runtime: Runtime, departments: str = "all", **kwargs: Any) -> int:
    kwargs.setdefault("mode", "exercise")
    kwargs.setdefault("interval", "5m")
    kwargs.setdefault("cycles", 2)
    survey = kwargs.pop("survey", "anpi_sanshu")
    with runtime.session() as s:
        callout = start_callout(s, runtime, survey, departments, source="test", **kwargs)
        s.flush()
        callout_id = callout.id
    release_callout(callout_id)
    return callout_id


def tick(runtime: Runtime) -> int:
    with runtime.session() as s:
        dispatches = engine.tick(s, runtime)
    return enqueue(dispatches)


def attempts(runtime: Runtime, callout_id: int) -> list[ContactAttempt]:
    with runtime.session() as s:
        return list(s.scalars(select(ContactAttempt).where(ContactAttempt.callout_id == callout_id)
                              .order_by(ContactAttempt.at, ContactAttempt.id)))


def answers(runtime: Runtime, callout_id: int) -> list[SurveyAnswer]:
    with runtime.session() as s:
        return list(s.scalars(select(SurveyAnswer).where(SurveyAnswer.callout_id == callout_id)
                              .order_by(SurveyAnswer.id)))
