"""A CSV send obeys the residents' own choices, even when they change after the file was checked;
LINE gets one push per person; public channels are refused; a rebuilt batch says the same words."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from channels.base import Recipient
from hub.config import Settings
from hub.dispatch.batches import build_batch
from hub.dispatch.sweeper import sweep_once
from hub.models import Category, Consent, Contact, Delivery, Message
from hub.notices.check import CsvSendError
from hub.relay.clock import ManualClock
from hub.residents.choices import choose
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.notices.support import checked, csv_bytes, request, send
from tests.support.hubtools import rows

LINE_A = "U" + "a" * 32
LINE_B = "U" + "b" * 32


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Status callbacks go nowhere: what the hub knows comes from its requests and from asking Twilio."""
    return replace(settings, public_url="http://127.0.0.1:9")


def _residents(runtime: Runtime) -> None:
    with runtime.session() as s:
        s.add_all([Category(code="kenko", name="健康"), Category(code="bousai", name="防災")])
        s.flush()
        for ext, phone, wants in (("R1", "+819011110001", ["kenko"]), ("R2", "+819011110002", ["bousai"]),
                                  ("R3", "+819011110003", ["kenko"]), ("R4", "+819011110004", ["kenko"])):
            contact = Contact(external_id=ext, kind="resident", name=ext, phone=phone)
            contact.consents.append(Consent(channel="sms", source="test"))
            s.add(contact)
            s.flush()
            choose(s, contact, categories=wants, source="test")


def test_an_opted_out_category_is_never_sent(runtime: Runtime, sandbox_client: SandboxClient,
                                              clock: ManualClock) -> None:
    _residents(runtime)
    data = csv_bytes(["external_id,氏名,予約日時", "R1,一,2026-12-02 14:00", "R2,二,2026-12-02 14:00",
                      "R3,三,2026-12-02 14:00", "R4,四,2026-12-02 14:00"])
    req = request(data, category_code="kenko", reminder="day_before@10:00", date_column="予約日時")
    report = checked(runtime, req)
    assert [(e.line, "健康" in e.reason or "kenko" in e.reason) for e in report.errors] == [(3, True)]
    sandbox_client.clear()
    _send_id, [message_id] = send(runtime, req)
    with runtime.session() as s:  # after the check, R3 chooses 防災 only, R1 stops SMS, R4 is deactivated
        r3 = s.scalar(select(Contact).where(Contact.external_id == "R3"))
        assert r3 is not None
        choose(s, r3, categories=["bousai"], source="test")
        r1 = s.scalar(select(Contact).where(Contact.external_id == "R1"))
        assert r1 is not None
        r1.consents[0].revoked_at = r1.created_at
        r4 = s.scalar(select(Contact).where(Contact.external_id == "R4"))
        assert r4 is not None
        r4.active = False
    clock.advance(days=2)
    sweep_once(runtime)
    assert sandbox_client.inbox(channel="sms") == []
    assert {(r.address, r.reason) for r in rows(runtime, message_id)} == {
        ("+819011110001", "opted_out"), ("+819011110003", "category_unwanted"), ("+819011110004", "inactive")}


def test_line_gets_one_push_per_person(runtime: Runtime, sandbox_client: SandboxClient,
                                       clock: ManualClock) -> None:
    data = csv_bytes(["line_user_id,氏名,consent", f"{LINE_A},あ,line", f"{LINE_B},い,all"], "utf-8-sig")
    req = request(data, channels=["line"], body="{{氏名}}さんへ")
    sandbox_client.clear()
    _send_id, [message_id] = send(runtime, req)
    texts = {i["to"]: i["text"].split("\n\n")[0] for i in sandbox_client.inbox(channel="line")}  # before the hint
    assert texts == {LINE_A: "健診のご案内\nあさんへ", LINE_B: "健診のご案内\nいさんへ"}
    assert sandbox_client.stats().get("line.push") == 2 and not sandbox_client.stats().get("line.multicast")
    # The sweeper rebuilding the batch after a crash renders exactly the same words.
    with runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None
        found = list(s.scalars(select(Delivery).where(Delivery.message_id == message_id)))
        recipients = [Recipient(d.id, d.address, d.language, d.contact_id) for d in found]
        first = build_batch(s, message, runtime.channel("line"), 0, recipients, attempt=1)
        again = build_batch(s, message, runtime.channel("line"), 0, recipients, attempt=2)
        assert first.personal == again.personal
        assert {first.content_for(r).text.split("\n\n")[0] for r in recipients} == {
            "健診のご案内\nあさんへ", "健診のご案内\nいさんへ"}


def test_personal_texts_never_go_to_public_channels(runtime: Runtime) -> None:
    data = csv_bytes(["phone,氏名,consent", "090-1234-0001,あ,all"])
    with pytest.raises(CsvSendError) as raised:
        checked(runtime, request(data, channels=["sms", "x", "rss"]))
    assert len(raised.value.problems["channels"]) == 2
    assert "公開のチャネル" in raised.value.problems["channels"][0]


def test_a_placeholder_the_file_lacks_stops_the_send(runtime: Runtime) -> None:
    data = csv_bytes(["phone,氏名,consent", "090-1234-0001,あ,all"])
    with pytest.raises(CsvSendError, match="予約日時"):
        checked(runtime, request(data))
    with pytest.raises(CsvSendError, match="書き方"):
        checked(runtime, request(data, body="{{氏名"))


def test_a_lost_answer_is_asked_with_the_persons_own_text(runtime: Runtime, sandbox_client: SandboxClient,
                                                          clock: ManualClock) -> None:
    """Twilio is asked for a message with this row's own body: found, so never sent twice."""
    phones = ["+819012340001", "+819012340002"]
    data = csv_bytes(["phone,氏名,consent", "090-1234-0001,あ,all", "090-1234-0002,い,all"])
    sandbox_client.clear()
    sandbox_client.inject_fault("sms", "timeout", count=1, match=phones[1], delay=4.0)
    _send_id, [message_id] = send(runtime, request(data, body="{{氏名}}さんへ"))
    assert {r.address: r.state for r in rows(runtime, message_id)}[phones[1]] == "checking"
    deadline = time.monotonic() + 20
    while {r.state for r in rows(runtime, message_id)} - {"sent", "delivered"}:
        assert time.monotonic() < deadline, [(r.address, r.state) for r in rows(runtime, message_id)]
        time.sleep(0.3)
        sweep_once(runtime)
    time.sleep(3.5)  # the stalled request finishes at the provider
    assert sorted((i["to"], i["text"]) for i in sandbox_client.inbox(channel="sms")) == [
        (phones[0], "健診のご案内\nあさんへ"), (phones[1], "健診のご案内\nいさんへ")]


def test_a_cancellation_never_repeats_a_template_title(runtime: Runtime, sandbox_client: SandboxClient,
                                                       clock: ManualClock) -> None:
    from hub.compose.corrections import follow_up
    from hub.dispatch.tasks import release

    data = csv_bytes(["phone,氏名,consent", "090-1234-0001,あ,all"])
    sandbox_client.clear()
    _send_id, [message_id] = send(runtime, request(data, title="{{氏名}}様へ", body="健診のご案内です。"))
    with runtime.session() as s:
        cancel = follow_up(s, runtime, message_id, kind="cancel", actor="test")
        cancel_id, state = cancel.id, cancel.state
    release(cancel_id, state)
    texts = [i["text"] for i in sandbox_client.inbox(channel="sms")]
    assert texts[0] == "あ様へ\n健診のご案内です。"
    assert texts[1] == "【取消】先日のお知らせ\n先ほどお送りした「先日のお知らせ」は誤りのため取り消します。"
