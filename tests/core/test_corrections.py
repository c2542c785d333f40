"""Every sent alert can be cancelled or corrected on every channel that carried it, in one action."""

from __future__ import annotations

from collections import Counter

from hub.compose.corrections import follow_up
from hub.compose.messages import approve
from hub.demo.seed import seed_demo
from hub.dispatch.tasks import release
from hub.models import Message, MessageState
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import rows, second_person, send


def _cancel(runtime: Runtime, message_id: int, kind: str = "cancel", body: str | None = None) -> int:
    """The follow-up; new words wait for a second person, who approves them here at once."""
    with runtime.session() as session:
        message = follow_up(session, runtime, message_id, kind=kind, body=body, actor="test")
        if message.state == MessageState.AWAITING_APPROVAL:
            approve(session, message, second_person(session))
        new_id, state = message.id, message.state
    release(new_id, state)
    return new_id


def test_cancel_reaches_exactly_the_original_recipients_on_the_same_channels(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    with runtime.session() as session:
        seed_demo(session, residents=80, staff=5)
    original = send(runtime, title="津波警報", body="直ちに高台へ避難してください。", channels=["sms", "email", "line", "x", "rss"])
    received = {(r.channel, r.address) for r in rows(runtime, original) if r.state in ("sent", "delivered")}
    sandbox_client.clear()

    cancel = _cancel(runtime, original)

    with runtime.session() as session:
        message = session.get(Message, cancel)
        assert message is not None
        assert (message.msg_type, message.references_id) == ("cancel", original)
        assert sorted(message.channels) == ["email", "line", "rss", "sms", "x"]
    got = {(r.channel, r.address) for r in rows(runtime, cancel)}
    assert got == received
    for channel in ["sms", "line", "x"]:
        inbox = sandbox_client.inbox(channel)
        assert inbox and all(item["text"].startswith("【取消】") for item in inbox)
        assert max(Counter(i["to"] for i in inbox).values()) == 1
    assert all(i["subject"].startswith("【取消】") for i in sandbox_client.inbox("email"))


def test_exercise_correction_keeps_the_exercise_marker_first(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    with runtime.session() as session:
        seed_demo(session, residents=40, staff=5)
    original = send(runtime, mode="exercise", channels=["sms"])
    sandbox_client.clear()
    correction = _cancel(runtime, original, kind="correction", body="避難所は○○小学校です。")
    texts = [i["text"] for i in sandbox_client.inbox("sms")]
    assert texts and all(t.startswith("【訓練】【訂正】") for t in texts)
    assert {r.address for r in rows(runtime, correction)} == {
        r.address for r in rows(runtime, original) if r.state in ("sent", "delivered")}


def test_correction_reaches_those_whose_original_was_still_queued(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    from hub.models import Contact

    phones = [f"+8190{20000000 + i}" for i in range(4)]
    with runtime.session() as session:
        session.add_all(Contact(kind="staff", name=f"職員{i}", phone=p) for i, p in enumerate(phones))
    sandbox_client.inject_fault("sms", "500", count=0)  # the provider is down: everything waits
    original = send(runtime, channels=["sms"], body="避難所は○○中学校です。")
    assert {r.state for r in rows(runtime, original)} == {"pending"}
    sandbox_client.clear_faults()

    _cancel(runtime, original, kind="correction", body="避難所は○○小学校です。")

    assert {(r.state, r.reason) for r in rows(runtime, original)} == {("skipped", "withdrawn")}
    inbox = sandbox_client.inbox("sms")
    assert sorted(i["to"] for i in inbox) == sorted(phones), "each gets the corrected text, once"
    assert all("小学校" in i["text"] and "中学校" not in i["text"] for i in inbox)
