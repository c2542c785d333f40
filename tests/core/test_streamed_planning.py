"""Planning in pages: the first batches leave before the audience is fully planned, a planner that
dies is resumed without a second row, and a 取消 during planning stops the pages not yet written."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import datetime

import pytest
from flask import current_app
from sqlalchemy import select

from hub.compose.corrections import follow_up
from hub.compose.messages import Composition, approve, create_message
from hub.config import Settings
from hub.dispatch.planning import plan_page
from hub.dispatch.tasks import plan_message
from hub.models import Contact, Delivery, DeliveryState, Message, MessageState, Mode
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.e2e.guarantees import add_residents, phone
from tests.support.hubtools import rows, second_person, send

FIRST_PAGE, PAGE = 20, 50
AUDIENCE = FIRST_PAGE + PAGE + 17  # three pages: the small first one, then the rest


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, plan_first_page=FIRST_PAGE, plan_page=PAGE)


def _queued(runtime: Runtime, channels: list[str]) -> int:
    """A live message, approved, not yet released to the workers."""
    with runtime.session() as session:
        message = create_message(session, runtime, Composition(
            title="避難情報", body="避難指示を発令しました。", channels=channels, audience="residents",
            mode=Mode.ACTUAL), actor="test")
        if message.state == MessageState.AWAITING_APPROVAL:
            approve(session, message, second_person(session))
        return message.id


def test_the_first_sms_leaves_before_planning_ends(runtime: Runtime, sandbox_client: SandboxClient) -> None:
    add_residents(runtime, AUDIENCE)
    message_id = send(runtime, channels=["sms", "line"], audience="residents")

    with runtime.session() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.planned_at is not None
        planned_at = message.planned_at
    first_sms = datetime.fromisoformat(sandbox_client.inbox("sms")[0]["received_at"])
    first_line = datetime.fromisoformat(sandbox_client.inbox("line")[0]["received_at"])
    assert first_sms < planned_at, "the first batch went out while later pages were still being planned"
    assert first_line < planned_at, "LINE did not wait for every SMS page either"
    assert Counter(i["to"] for i in sandbox_client.inbox("sms")) == {phone(n): 1 for n in range(AUDIENCE)}
    assert all(r.state in (DeliveryState.SENT, DeliveryState.DELIVERED) for r in rows(runtime, message_id))


def test_a_page_releases_only_whole_batches_and_the_next_page_never_adds_to_them(runtime: Runtime) -> None:
    add_residents(runtime, AUDIENCE)
    message_id = _queued(runtime, ["sms", "line"])
    with runtime.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        first = plan_page(session, runtime, message)
    assert not first.done
    assert first.counts == {"sms": FIRST_PAGE, "line": FIRST_PAGE}
    # Batch 0 of every channel comes before batch 1 of any: a slow channel's backlog never goes first.
    assert [b for _c, b in first.batches] == sorted(b for _c, b in first.batches)
    assert {c for c, b in first.batches if b == 0} == {"sms", "line"}
    with runtime.session() as session:
        first_rows = session.scalars(select(Delivery).where(Delivery.message_id == message_id)).all()
    released = {(r.channel, r.batch_no) for r in first_rows}
    assert released == set(first.batches)

    plan_message.run(message_id)
    later = [r for r in rows(runtime, message_id) if r.id not in {f.id for f in first_rows}]
    assert len(later) == 2 * (AUDIENCE - FIRST_PAGE)
    assert not {(r.channel, r.batch_no) for r in later} & released, "a later page wrote into a released batch"


def test_a_planner_that_died_after_a_page_is_resumed_without_a_second_row(runtime: Runtime) -> None:
    add_residents(runtime, AUDIENCE)
    # Two contacts share one phone across the page boundary: still one copy.
    with runtime.session() as session:
        last = session.scalar(select(Contact).order_by(Contact.id.desc()).limit(1))
        assert last is not None
        last.phone = phone(0)
    message_id = _queued(runtime, ["sms"])
    with runtime.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        plan_page(session, runtime, message)  # committed; then the worker died before the next page

    plan_message.run(message_id)
    plan_message.run(message_id)  # a redelivered task finds the message planned and does nothing

    final = rows(runtime, message_id, "sms")
    assert len(final) == AUDIENCE - 1
    assert Counter(r.address for r in final).most_common(1)[0][1] == 1
    with runtime.session() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.planned_at is not None


def test_a_cancellation_during_planning_withdraws_the_pages_not_yet_written(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    add_residents(runtime, AUDIENCE)
    message_id = _queued(runtime, ["sms"])
    with runtime.session() as session:
        message = session.get(Message, message_id)
        assert message is not None
        plan_page(session, runtime, message)
    with runtime.session() as session:
        follow_up(session, runtime, message_id, kind="cancel", actor="test")

    plan_message.run(message_id)
    by_state = Counter(r.state for r in rows(runtime, message_id, "sms"))
    assert by_state == {DeliveryState.SKIPPED: AUDIENCE}, "nothing of the cancelled message is left to send"
    assert sandbox_client.inbox("sms") == []


def test_a_correction_before_the_first_page_reaches_the_whole_audience_with_the_corrected_text_only(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    add_residents(runtime, AUDIENCE)
    message_id = _queued(runtime, ["sms"])  # released, not one row written yet
    with runtime.session() as session:
        correction = follow_up(session, runtime, message_id, kind="correction", actor="test",
                               body="避難所は○○小学校です。")
        correction_id = correction.id
        if correction.state == MessageState.AWAITING_APPROVAL:
            approve(session, correction, second_person(session))
    assert correction_id != message_id, "the correction is a message of its own"

    plan_message.run(message_id)  # (the correction's planner waits for this: hub.dispatch.tasks)
    plan_message.run(correction_id)

    assert {r.state for r in rows(runtime, message_id, "sms")} == {DeliveryState.SKIPPED}
    inbox = sandbox_client.inbox("sms")
    assert len(inbox) == AUDIENCE == len({i["to"] for i in inbox}), "each resident once"
    assert all("小学校" in i["text"] and "避難指示を発令しました" not in i["text"] for i in inbox)


def test_two_planners_at_once_write_each_row_once(runtime: Runtime, sandbox_client: SandboxClient) -> None:
    add_residents(runtime, AUDIENCE)
    message_id = _queued(runtime, ["sms"])
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def plan() -> None:
        with app.app_context():
            plan_message.run(message_id)
    planners = [threading.Thread(target=plan) for _ in range(2)]
    for planner in planners:
        planner.start()
    for planner in planners:
        planner.join(timeout=120)

    final = rows(runtime, message_id, "sms")
    assert sorted(r.address for r in final) == sorted(phone(n) for n in range(AUDIENCE))
    assert Counter(i["to"] for i in sandbox_client.inbox("sms")) == {phone(n): 1 for n in range(AUDIENCE)}
