"""Trigger messages under the one policy: the rule's department (else HUB_TRIGGER_DEPARTMENT), created
by the system, held only when the rule says ``approval: required``."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from hub.models import AuditLog, Department, MessageState
from hub.models.triggers import TriggerRule
from hub.runtime import Runtime
from tests.triggers.support import OSHU, QUAKE_6PLUS, add_rules, message, prepare, replay
from triggers.base import RuleError

RULE = {"name": "奥州市", "when": "earthquake", "municipalities": [OSHU], "min_intensity": "5弱",
        "template": "jma-earthquake", "channels": ["sms", "line"]}


def _department_id(runtime: Runtime, code: str) -> int:
    with runtime.session() as s:
        found = s.scalar(select(Department.id).where(Department.code == code))
        assert found is not None
        return found


def _create_actor(runtime: Runtime, message_id: int) -> str:
    with runtime.session() as s:
        entry = s.scalar(select(AuditLog).where(AuditLog.action == "message.create",
                                                AuditLog.subject_id == str(message_id)))
        assert entry is not None
        return entry.actor


def test_rule_department_system_creator_and_required_approval(runtime: Runtime) -> None:
    prepare(runtime)
    add_rules(runtime, {**RULE, "department": "kenko", "approval": "required"})

    decision = replay(runtime, QUAKE_6PLUS)

    held = message(runtime, decision.rules[0].message_id)
    assert held.department_id == _department_id(runtime, "kenko")
    assert held.created_by_id is None and _create_actor(runtime, held.id) == "system"
    assert held.state == MessageState.AWAITING_APPROVAL and held.planned_at is None


def test_rule_without_department_uses_the_configured_one_and_auto_goes_out(runtime: Runtime) -> None:
    prepare(runtime)
    add_rules(runtime, RULE)  # approval: auto, no department

    decision = replay(runtime, QUAKE_6PLUS)

    sent = message(runtime, decision.rules[0].message_id)
    assert runtime.settings.trigger_department == "bousai"
    assert sent.department_id == _department_id(runtime, "bousai")
    assert sent.state != MessageState.AWAITING_APPROVAL, "an automatic rule follows its rule, not the department"


def test_a_staff_only_rule_never_posts_on_the_public_channels(runtime: Runtime) -> None:
    """X and the feeds are read by anyone: a rule for staff may not name them, and "all" leaves them out."""
    prepare(runtime)
    with pytest.raises(RuleError, match="rss"):
        add_rules(runtime, {**RULE, "name": "職員", "audience": "staff", "channels": ["email", "rss"]})
    ids = add_rules(runtime, {**RULE, "name": "職員", "audience": "staff", "channels": "all"})
    with runtime.session() as s:
        rule = s.get(TriggerRule, ids["職員"])
        assert rule is not None
        assert "email" in rule.channels and not {"rss", "x"} & set(rule.channels)
        # A rule stored before the check: the alert still goes, without the public channels.
        s.execute(update(TriggerRule).where(TriggerRule.id == rule.id).values(channels=["email", "rss", "x"]))

    decision = replay(runtime, QUAKE_6PLUS)

    sent = message(runtime, decision.rules[0].message_id)
    assert sent.channels == ["email"]
