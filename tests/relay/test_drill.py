"""A 500-staff exercise call-out with simulated people (LINE after a delay, phone only, e-mail only,
never): it completes, the tally equals what the people answered, and the unreached list is
exactly those who never answer.

500 staff on PostgreSQL, production's database; the embedded SQLite runs the same drill with 150
(the same code at a third of the suite's longest test).
"""

from __future__ import annotations

from collections import Counter

import pytest
from flask import Flask

from hub.cli.relay import staff_for_callout
from hub.relay import tally
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import Sandbox, SandboxClient
from sandbox.staff import StaffSimulator
from tests.relay.support import DEPARTMENTS, attempts, seed_staff, start, tick
from tests.support.hubtools import ALL_CHANNELS, send

MIX = {"line": 40, "phone": 20, "email": 20, "never": 20}
STAFF = {"postgresql": 500, "sqlite": 150}


@pytest.mark.long
def test_500_staff_drill_tally_matches_the_simulated_answers(
    app: Flask, runtime: Runtime, clock: ManualClock, sandbox: Sandbox, sandbox_client: SandboxClient
) -> None:
    with runtime.session() as s:
        size = STAFF[s.get_bind().dialect.name]
    seed_staff(runtime, size, exercise=True)
    outsiders = seed_staff(runtime, 8, exercise=False, start=size)  # not signed up for drills
    callout_id = start(runtime, survey="anpi_sanshu", departments="all", mode="exercise", interval="5m",
                       cycles=1)
    with runtime.session() as s:
        people = staff_for_callout(s, callout_id, seed=11, mix=MIX)
    assert len(people) == size
    sim = StaffSimulator(sandbox.http_url, people, now=clock.now, inbox=sandbox.inbox)
    for _ in range(20):  # LINE at 0, phone at 5, e-mail at 10 minutes; answers within 90 s
        sim.step()
        clock.advance(60)
        tick(runtime)
    sim.step()

    with runtime.session() as s:
        result = tally.tally(s, callout_id)
    assert result is not None
    assert result["callout"]["state"] == "done"
    answering = [p for p in people if p.behaviour != "never"]
    never = {p.name for p in people if p.behaviour == "never"}
    assert result["total"] == size and result["answered"] == len(answering)
    assert {p["name"] for p in result["unreached_list"]} == never
    assert all([a["channel"] for a in p["attempts"]] == ["line", "voice", "email"]
               for p in result["unreached_list"]), "the whole chain was tried"

    for q in result["questions"]:
        if q["kind"] == "choice":
            expected = Counter(p.answers[q["key"]] for p in answering if q["key"] in p.answers)
            assert {c["value"]: c["count"] for c in q["counts"] if c["count"]} == dict(expected), q["key"]
    by_dept = {d["code"]: d for d in result["departments"]}
    for code, _name in DEPARTMENTS:
        members = [p for p in people if by_dept[code]["total"] and p.email and p.email.startswith("staff")
                   and int(p.email[5:10]) % len(DEPARTMENTS) == [c for c, _ in DEPARTMENTS].index(code)]
        assert by_dept[code]["answered"] == sum(p.behaviour != "never" for p in members), code
        assert by_dept[code]["answers"].get("safety", {}) == dict(
            Counter(p.answers["safety"] for p in members if p.behaviour != "never"))
    etas = [int(p.answers["eta"]) for p in answering if "eta" in p.answers]
    assert sum(b["count"] for b in result["eta_histogram"]) == len(etas)
    assert result["eta_histogram"][0]["count"] == sum(1 for m in etas if m < 15)
    assert result["arrivals"][-1]["count"] == len(etas)

    via = Counter(p.behaviour for p in answering)
    assert sim.actions["phone"] == via["phone"] and sim.actions["email"] == via["email"]
    contacted = {item["to"] for item in sandbox_client.inbox("line")}
    assert not contacted & {o.line for o in outsiders}, "an exercise reached a non-participant"
    tried = Counter(a.channel for a in attempts(runtime, callout_id))
    assert tried == {"line": size, "voice": size - via["line"], "email": len(never) + via["email"]}


def test_drill_right_after_an_ordinary_broadcast_answers_only_the_callout(
    app: Flask, runtime: Runtime, clock: ManualClock, sandbox: Sandbox, sandbox_client: SandboxClient
) -> None:
    """The README's quick-start send (voice, LINE, e-mail to staff too) precedes the drill."""
    people_rows = seed_staff(runtime, 30, exercise=True)
    send(runtime, title="避難所開設", body="○○小学校を開設しました。", channels=ALL_CHANNELS, audience="all",
         mode="exercise")
    assert sandbox_client.inbox("voice"), "the ordinary broadcast rang the staff too"
    callout_id = start(runtime, survey="anpi_sanshu", departments="all", mode="exercise", interval="5m",
                       cycles=1)
    with runtime.session() as s:
        people = staff_for_callout(s, callout_id, seed=3, mix={"line": 10, "phone": 10, "email": 10})
    sim = StaffSimulator(sandbox.http_url, people, now=clock.now, inbox=sandbox.inbox)
    for _ in range(20):
        sim.step()
        clock.advance(60)
        tick(runtime)
    sim.step()

    assert sim.failures == [], "a simulated person tried to answer the broadcast"
    via = Counter(p.behaviour for p in people)
    assert set(via) == {"line", "phone", "email"}, "every behaviour is in the drill"
    assert sim.actions["phone"] == via["phone"] and sim.actions["email"] == via["email"]
    assert sim.actions["line"] >= via["line"]
    with runtime.session() as s:
        result = tally.tally(s, callout_id)
    assert result is not None and result["answered"] == 30 == len(people_rows)
