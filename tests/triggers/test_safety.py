"""Safety around automatic sends: 試験, the pre-send check, hold window, approval, ceiling, 訂正."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.compose.messages import approve
from hub.dispatch.tasks import release
from hub.models import AuditLog, Delivery, Message, MessageState, Operator, utcnow
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.triggers.support import (
    OSHU,
    QUAKE_6PLUS,
    QUAKE_CANCELLED,
    QUAKE_EXERCISE,
    add_rules,
    derived,
    message,
    messages,
    prepare,
    raw,
    received,
    replay,
)
from triggers.jma.parse import parse_telegram

OSHU_RULE = {"name": "奥州市", "when": "earthquake", "municipalities": [OSHU], "min_intensity": "5弱",
             "template": "jma-earthquake", "channels": ["sms", "line"]}
OSHU_CITY = "<City><Name>奥州市</Name><Code>0321500</Code><MaxInt>6+</MaxInt>"


def corrected(max_int: str) -> bytes:
    """JMA's 訂正 of the 6強 telegram, with 奥州市's intensity changed."""
    return derived(
        QUAKE_6PLUS,
        ("<InfoType>発表</InfoType>", "<InfoType>訂正</InfoType>"),
        ("<ReportDateTime>2008-06-14T08:47:00+09:00", "<ReportDateTime>2008-06-14T08:50:00+09:00"),
        (OSHU_CITY, OSHU_CITY.replace("6+", max_int)),
    )


def test_test_status_is_never_sent(runtime: Runtime) -> None:
    prepare(runtime)
    add_rules(runtime, OSHU_RULE)

    decision = replay(runtime, derived(QUAKE_6PLUS, ("<Status>通常</Status>", "<Status>試験</Status>")))

    assert decision.outcome == "ignored" and "試験" in decision.reason and messages(runtime) == []


def test_pre_send_check_stops_a_drill_message_turned_live(runtime: Runtime, sandbox_client: SandboxClient) -> None:
    prepare(runtime)
    cities = [city.code for city in parse_telegram(raw(QUAKE_EXERCISE)).event.cities]  # type: ignore[union-attr]
    add_rules(runtime, {**OSHU_RULE, "municipalities": cities, "min_intensity": "1", "approval": "required"})
    message_id = replay(runtime, QUAKE_EXERCISE).rules[0].message_id
    assert message_id is not None
    with runtime.session() as session:
        drill = session.get(Message, message_id)
        assert drill is not None and drill.state == MessageState.AWAITING_APPROVAL and drill.mode == "exercise"
        drill.mode = "actual"  # a bug, or a hand edit, between creation and sending
        approve(session, drill, session.scalars(select(Operator).where(Operator.username == "bousai2")).one())
        state = drill.state

    release(message_id, state)

    with runtime.session() as session:
        blocked = session.get(Message, message_id)
        assert blocked is not None and blocked.state == MessageState.WITHDRAWN
        sent = session.scalars(select(Delivery).where(Delivery.message_id == message_id,
                                                      Delivery.state.in_(("sent", "delivered")))).all()
        assert sent == []
        assert session.scalars(select(AuditLog.action).where(AuditLog.action == "message.blocked")).all()
    assert sandbox_client.inbox("sms") == [] and sandbox_client.inbox("line") == []


def test_hold_window_then_cancellation_withdraws_without_sending(runtime: Runtime,
                                                                   sandbox_client: SandboxClient) -> None:
    prepare(runtime)
    add_rules(runtime, {**OSHU_RULE, "hold_minutes": 10})

    held_id = replay(runtime, QUAKE_6PLUS).rules[0].message_id
    held = message(runtime, held_id)
    assert held.state == MessageState.SCHEDULED and held.scheduled_at is not None
    assert timedelta(minutes=9) < held.scheduled_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None) \
        <= timedelta(minutes=10)

    decision = replay(runtime, QUAKE_CANCELLED)

    assert [r.action for r in decision.rules] == ["withdrawn"]
    assert message(runtime, held_id).state == MessageState.WITHDRAWN
    assert len(messages(runtime)) == 1 and sandbox_client.inbox("sms") == []


def test_approval_required_waits_for_a_second_person(runtime: Runtime) -> None:
    prepare(runtime)
    add_rules(runtime, {**OSHU_RULE, "approval": "required"})

    decision = replay(runtime, QUAKE_6PLUS)

    waiting = message(runtime, decision.rules[0].message_id)
    assert waiting.state == MessageState.AWAITING_APPROVAL and waiting.planned_at is None


def test_rate_ceiling_per_rule_and_hour(runtime: Runtime) -> None:
    prepare(runtime)
    add_rules(runtime, {**OSHU_RULE, "max_per_hour": 1, "channels": ["rss"]})
    second_quake = derived(QUAKE_6PLUS, ("<EventID>20080614084350", "<EventID>20080614094350"))

    first, second = replay(runtime, QUAKE_6PLUS), replay(runtime, second_quake)

    assert first.outcome == "matched"
    assert second.outcome == "ignored" and [r.action for r in second.rules] == ["suppressed"]
    assert "上限" in second.reason and len(messages(runtime)) == 1


def test_correction_reaches_the_original_recipients_with_the_prepared_text(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    prepare(runtime)
    add_rules(runtime, OSHU_RULE)
    original = replay(runtime, QUAKE_6PLUS).rules[0].message_id
    assert original is not None
    sandbox_client.clear()

    decision = replay(runtime, corrected("6-"))

    (outcome,) = decision.rules
    fix = message(runtime, outcome.message_id)
    assert (outcome.action, fix.msg_type, fix.references_id) == ("correction", "update", original)
    assert "訂正があります" in fix.body and "奥州市（震度６弱）" in fix.body
    assert received(runtime, fix.id) == received(runtime, original)
    assert all(item["text"].startswith("【訂正】") for item in sandbox_client.inbox("sms"))


def test_correction_below_the_threshold_cancels(runtime: Runtime) -> None:
    prepare(runtime)
    add_rules(runtime, OSHU_RULE)
    original = replay(runtime, QUAKE_6PLUS).rules[0].message_id

    decision = replay(runtime, corrected("4"))

    (outcome,) = decision.rules
    cancel = message(runtime, outcome.message_id)
    assert (outcome.action, cancel.msg_type, cancel.references_id) == ("cancel", "cancel", original)


def test_an_older_telegram_of_the_unit_does_not_undo_a_newer_one(runtime: Runtime) -> None:
    prepare(runtime)
    add_rules(runtime, {**OSHU_RULE, "channels": ["rss"]})
    replay(runtime, "official/32-35_06_05_240613_VXSE53.xml")  # Serial 3 arrives first (catch-up order)

    older = replay(runtime, "official/32-35_06_04_240613_VXSE53.xml")

    assert older.outcome == "ignored" and "より新しい電文" in older.reason


def test_a_broken_rule_does_not_stop_the_others(runtime: Runtime) -> None:
    from sqlalchemy import update

    from hub.models.triggers import TriggerRule

    prepare(runtime)
    ids = add_rules(runtime, {**OSHU_RULE, "name": "壊れたルール"}, {**OSHU_RULE, "channels": ["rss"]})
    with runtime.session() as session:  # e.g. a channel uninstalled after the rule was written
        session.execute(update(TriggerRule).where(TriggerRule.id == ids["壊れたルール"]).values(channels=["fax"]))

    decision = replay(runtime, QUAKE_6PLUS)

    assert {r.rule: r.action for r in decision.rules} == {"壊れたルール": "error", "奥州市": "alert"}
    assert [m.state for m in messages(runtime)] == ["done"]
