"""One message, six channels: every recipient gets exactly one copy, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest

from hub.demo.seed import seed_demo
from hub.models import Contact, DeliveryState
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import ALL_CHANNELS, counts, rows, send, wait_for


@pytest.fixture
def town(runtime: Runtime) -> None:
    with runtime.session() as session:
        seed_demo(session, residents=120, staff=10)


def test_one_message_reaches_each_address_once_on_every_channel(
    runtime: Runtime, town: None, sandbox_client: SandboxClient
) -> None:
    message_id = send(runtime, title="断水のお知らせ", body="本日14時から○○地区で断水します。")

    for channel in ["sms", "voice", "email", "line"]:
        sent = [r for r in rows(runtime, message_id, channel) if r.state in ("sent", "delivered")]
        inbox = sandbox_client.inbox(channel)
        copies = Counter(item["to"] for item in inbox)
        assert sent, f"nothing went out on {channel}"
        assert set(copies) == {r.address for r in sent}, channel
        assert max(copies.values()) == 1, f"duplicate copies on {channel}"
        assert all("断水" in item["text"] for item in inbox)
    assert len(sandbox_client.inbox("x")) == 1
    c = counts(runtime, message_id)
    assert c["rss"]["delivered"] == 1
    assert all(v["pending"] == 0 for v in c.values())


def test_status_callbacks_mark_sms_and_calls_delivered(runtime: Runtime, town: None) -> None:
    message_id = send(runtime, channels=["sms", "voice"])

    def all_delivered() -> bool:
        c = counts(runtime, message_id)
        return c["sms"]["sent"] == 0 and c["voice"]["sent"] == 0 and c["sms"]["delivered"] > 0
    wait_for(all_delivered)
    sms = rows(runtime, message_id, "sms")
    assert all(r.provider_id and r.provider_id.startswith("SM") for r in sms if r.state == "delivered")


def test_planning_skips_with_reasons_and_never_duplicates_a_shared_phone(runtime: Runtime) -> None:
    with runtime.session() as session:
        seed_demo(session, residents=0, staff=0)
        session.add_all([
            Contact(kind="staff", name="携帯", phone="+819012345678"),
            Contact(kind="staff", name="同じ携帯の家族", phone="+819012345678"),
            Contact(kind="staff", name="固定電話", phone="+81312345678"),
            Contact(kind="resident", name="同意なし", phone="+819011112222"),
        ])
    message_id = send(runtime, channels=["sms"])
    by_address = {r.address: r for r in rows(runtime, message_id, "sms")}
    assert len(by_address) == 3  # the shared phone is planned once
    assert by_address["+819012345678"].state in ("sent", "delivered")
    assert (by_address["+81312345678"].state, by_address["+81312345678"].reason) == ("skipped", "not_mobile")
    assert (by_address["+819011112222"].state, by_address["+819011112222"].reason) == ("skipped", "no_consent")
    assert "携帯電話番号ではない" in (by_address["+81312345678"].error or "")


def test_exercise_reaches_only_drill_participants_and_says_so_first(
    runtime: Runtime, town: None, sandbox_client: SandboxClient
) -> None:
    message_id = send(runtime, mode="exercise", channels=ALL_CHANNELS)
    with runtime.session() as session:
        participants = {c.phone for c in session.query(Contact).filter(Contact.exercise_participant.is_(True))}
    sms_to = {item["to"] for item in sandbox_client.inbox("sms")}
    assert sms_to and sms_to <= participants
    for channel in ["sms", "voice", "email", "line", "x"]:
        for item in sandbox_client.inbox(channel):
            first = item["subject"] if channel == "email" else item["text"]
            assert first.lstrip().startswith("【訓練】") or (channel == "voice" and "訓練" in item["text"][:20]), item
    assert all(r.state != DeliveryState.PENDING for r in rows(runtime, message_id))
