"""A rule can start the staff call-out (安否・参集) together with the residents' alert (出典：気象庁)."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.models import Contact
from hub.models.relay import Callout, CalloutTarget
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.triggers.support import OSHU, QUAKE_6PLUS, QUAKE_EXERCISE, add_rules, prepare, raw, replay
from triggers.jma.parse import parse_telegram

RULE = {"when": "earthquake", "min_intensity": "5弱", "template": "jma-earthquake", "channels": ["rss"],
        "callout": {"survey": "anpi_sanshu", "departments": "all", "steps": ["line", "email"], "cycles": 1}}


def test_quake_rule_starts_the_staff_callout_with_its_alert(runtime: Runtime, sandbox_client: SandboxClient) -> None:
    prepare(runtime, residents=20, staff=12)
    add_rules(runtime, {**RULE, "name": "奥州市 震度5弱以上 参集", "municipalities": [OSHU]})

    decision = replay(runtime, QUAKE_6PLUS)

    [outcome] = decision.rules
    assert outcome.action == "alert" and outcome.callout_id is not None
    with runtime.session() as session:
        callout = session.get(Callout, outcome.callout_id)
        assert callout is not None and callout.mode == "actual" and callout.source.startswith("trigger:")
        staff = session.scalar(select(func.count()).select_from(Contact).where(Contact.kind == "staff"))
        targets = session.scalar(select(func.count()).select_from(CalloutTarget)
                                 .where(CalloutTarget.callout_id == callout.id))
        staff_line = set(session.scalars(select(Contact.line_user_id).where(
            Contact.kind == "staff", Contact.line_user_id.is_not(None))))
    assert targets == staff
    # The first step (LINE) went out at once to every staff member who has LINE.
    assert staff_line and staff_line <= {item["to"] for item in sandbox_client.inbox("line")}


def test_exercise_telegram_starts_only_a_drill(runtime: Runtime, sandbox_client: SandboxClient) -> None:
    prepare(runtime, residents=20, staff=12)
    cities = [c.code for c in parse_telegram(raw(QUAKE_EXERCISE)).event.cities]  # type: ignore[union-attr]
    add_rules(runtime, {**RULE, "name": "訓練", "municipalities": cities, "min_intensity": "1"})

    [outcome] = replay(runtime, QUAKE_EXERCISE).rules

    with runtime.session() as session:
        callout = session.get(Callout, outcome.callout_id)
        assert callout is not None and callout.mode == "exercise"
    inbox = sandbox_client.inbox("line")
    assert inbox and all(item["text"].startswith("【訓練】") for item in inbox)
