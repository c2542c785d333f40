"""E-mail (SMTP) and LINE (Messaging API) against the sandbox."""

from __future__ import annotations

import smtplib
from dataclasses import replace

from channels.base import Draft, Outcome, Recipient, Rendered
from channels.email import EmailChannel
from channels.line import LineChannel
from hub.config import Settings
from sandbox import Sandbox

from .helpers import build, by_id, make_batch, recipients

DRAFT = Draft(
    title="避難所開設",
    body="○○小学校に避難所を開設しました。\n\nペットも同行できます。",
    mode="exercise",
    sender_name="危機管理課",
    link="https://city.example.jp/m/1",
)
EMAILS = ["a@example.jp", "b@example.jp", "c@example.jp"]


def user_id(n: int) -> str:
    return f"U{n:032x}"


def test_email_one_copy_each_multipart_utf8(sb: Sandbox, settings: Settings) -> None:
    ch = build("email", settings)
    assert isinstance(ch, EmailChannel)
    connect = ch._connect
    connections: list[object] = []

    def counting_connect() -> smtplib.SMTP:
        connections.append(1)
        return connect()

    ch._connect = counting_connect  # type: ignore[method-assign]
    batch = make_batch(ch, DRAFT, recipients(EMAILS), sender="bousai@city.example.jp")
    results = by_id(ch.deliver(batch))
    assert len(connections) == 1
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    for r, address in zip(batch.recipients, EMAILS, strict=True):
        inbox = sb.inbox("email", address)
        assert len(inbox) == 1
        mail = inbox[0]
        assert mail["subject"] == "【訓練】避難所開設"
        assert mail["text"].startswith("【訓練】避難所開設")
        assert "ペットも同行できます。" in mail["html"]
        assert (
            "危機管理課" in mail["meta"]["header_from"]
            and "bousai@city.example.jp" in mail["meta"]["header_from"]
        )
        expected_id = f"<bousai-hub.m42.d{r.delivery_id}@city.example.jp>"
        assert mail["provider_id"] == results[r.delivery_id].provider_id == expected_id


def test_email_sender_name_from_stored_contents(sb: Sandbox, settings: Settings) -> None:
    ch = build("email", settings)
    rendered = ch.render(Draft(title="健診のお知らせ", body="明日です。"))
    stored = Rendered(
        subject=rendered.subject, text=rendered.text, html=rendered.html, meta={"sender_name": "健康課"}
    )
    batch = make_batch(
        ch, DRAFT, recipients(EMAILS[:1]), contents={"ja": stored}, sender="kenko@city.example.jp"
    )
    assert ch.deliver(batch)[0].outcome is Outcome.SENT
    assert "kenko@city.example.jp" in sb.inbox("email")[0]["meta"]["header_from"]
    assert sb.inbox("email")[0]["meta"]["header_from"].startswith("健康課")


def test_email_long_text_and_refused_data(sb: Sandbox, settings: Settings) -> None:
    ch = build("email", settings)
    long = Draft(title="長文", body="\n".join(["とても長い行です。" * 40] * 30))
    assert {r.outcome for r in ch.deliver(make_batch(ch, long, recipients(EMAILS[:1])))} == {Outcome.SENT}
    assert "とても長い行です。" in sb.inbox("email", EMAILS[0])[0]["text"]

    class Refusing:
        def ehlo_or_helo_if_needed(self) -> None: ...
        def mail(self, sender: str) -> tuple[int, bytes]:
            return 250, b"ok"

        def rcpt(self, to: str) -> tuple[int, bytes]:
            return 250, b"ok"

        def data(self, msg: bytes) -> tuple[int, bytes]:
            return 554, b"5.7.1 spam"

        def rset(self) -> None: ...

    assert isinstance(ch, EmailChannel)
    result, usable = ch._transaction(Refusing(), "a@b.jp", Recipient(1, "x@y.jp"), b"")  # type: ignore[arg-type]
    assert result.outcome is Outcome.FAILED and result.error_code == "554" and usable


def test_email_550_fails_that_recipient_only(sb: Sandbox, settings: Settings) -> None:
    sb.inject_fault("email", "mailbox_550", match=EMAILS[1])
    ch = build("email", settings)
    results = by_id(ch.deliver(make_batch(ch, DRAFT, recipients([*EMAILS, "not-an-address"]))))
    assert results[2].outcome is Outcome.FAILED and results[2].reason == "mailbox_unavailable"
    assert results[1].outcome is Outcome.SENT and results[3].outcome is Outcome.SENT
    assert results[4].outcome is Outcome.SKIPPED and results[4].reason == "invalid_address"
    assert len(sb.inbox("email")) == 2


def test_email_4xx_is_retried(sb: Sandbox, settings: Settings) -> None:
    sb.inject_fault("email", "429", match=EMAILS[0])
    ch = build("email", settings)
    results = by_id(ch.deliver(make_batch(ch, DRAFT, recipients(EMAILS))))
    assert results[1].outcome is Outcome.RETRY
    assert results[2].outcome is Outcome.SENT


def test_email_timeout_after_data_is_unknown(sb: Sandbox, settings: Settings) -> None:
    # The answer to DATA comes after 3 s; every step before it has 1 s, room on a loaded machine
    # (with 0.5 s a slow handshake timed out first, which is a clean retry, not a doubt).
    sb.inject_fault("email", "timeout", match=EMAILS[0], delay=3.0)
    ch = build("email", settings, timeout=1.0)
    results = by_id(ch.deliver(make_batch(ch, DRAFT, recipients(EMAILS))))
    assert results[1].outcome is Outcome.UNKNOWN
    assert results[2].outcome is Outcome.SENT and results[3].outcome is Outcome.SENT  # on a new connection


def test_line_batch_of_500_is_one_multicast_and_a_retry_is_409(sb: Sandbox, settings: Settings) -> None:
    ch = build("line", settings)
    assert isinstance(ch, LineChannel)
    people = [Recipient(delivery_id=i, address=user_id(i)) for i in range(1, 501)]
    batch = make_batch(ch, DRAFT, people, key="msg42-batch1")
    results = by_id(ch.deliver(batch))
    assert {r.outcome for r in results.values()} == {Outcome.SENT}
    assert sb.ctx.stats.snapshot()["line.multicast"] == 1
    assert len(sb.inbox("line")) == 500
    assert [m["text"] for m in sb.inbox("line", user_id(377))] == [batch.contents["ja"].text]

    again = by_id(ch.deliver(replace(batch, attempt=2)))
    assert {r.outcome for r in again.values()} == {Outcome.SENT}
    assert again[1].provider_id == results[1].provider_id  # x-line-accepted-request-id
    assert sb.ctx.stats.snapshot()["line.multicast"] == 2
    assert len(sb.inbox("line")) == 500  # still one copy each


def test_line_retry_key_depends_on_the_batch_and_language_only(sb: Sandbox, settings: Settings) -> None:
    """A retry that carries fewer rows (some were settled meanwhile) is still the same request."""
    ch = build("line", settings)
    people = [Recipient(delivery_id=i, address=user_id(i)) for i in range(1, 11)]
    batch = make_batch(ch, DRAFT, people, key="msg7-batch3")
    ch.deliver(batch)
    fewer = by_id(ch.deliver(replace(batch, recipients=people[3:], attempt=2)))
    assert {r.outcome for r in fewer.values()} == {Outcome.SENT}
    assert len(sb.inbox("line")) == 10, "LINE recognised the retry key: no second copy for anyone"


def test_line_batch_planned_before_the_500_cap_is_sent_in_stable_requests(sb: Sandbox, settings: Settings) -> None:
    ch = build("line", settings)
    people = [Recipient(delivery_id=i, address=user_id(i)) for i in range(1, 1201)]
    batch = make_batch(ch, DRAFT, people, key="old-batch")
    assert {r.outcome for r in ch.deliver(batch)} == {Outcome.SENT}
    assert sb.ctx.stats.snapshot()["line.multicast"] == 3
    assert {r.outcome for r in ch.deliver(replace(batch, attempt=2))} == {Outcome.SENT}
    assert len(sb.inbox("line")) == 1200, "the same requests again: LINE answered 409"


def test_line_groups_by_language(sb: Sandbox, settings: Settings) -> None:
    ch = build("line", settings)
    en = ch.render(Draft(title="Evacuation", body="Shelter open.", mode="exercise"))
    people = [
        *recipients([user_id(1), user_id(2)]),
        *recipients([user_id(3)], start=3, language="en"),
        Recipient(4, user_id(4), language="pt"),
    ]
    batch = make_batch(ch, DRAFT, people, contents={"ja": ch.render(DRAFT), "en": en})
    assert {r.outcome for r in ch.deliver(batch)} == {Outcome.SENT}
    assert sb.ctx.stats.snapshot()["line.multicast"] == 2
    assert sb.inbox("line", user_id(3))[0]["text"].startswith("【訓練】Evacuation")
    assert sb.inbox("line", user_id(4))[0]["text"].startswith("【訓練】避難所開設")  # no pt: Japanese
    keys = {m["meta"]["retry_key"] for m in sb.inbox("line")}
    assert len(keys) == 2


def test_line_errors(sb: Sandbox, settings: Settings) -> None:
    ch = build("line", settings)
    batch = make_batch(ch, DRAFT, recipients([user_id(1), user_id(2), "bogus"]))
    sb.inject_fault("line", "429")
    limited = by_id(ch.deliver(batch))
    assert limited[1].outcome is Outcome.RETRY and limited[1].retry_after
    assert limited[3].outcome is Outcome.SKIPPED
    sb.inject_fault("line", "500")
    assert {r.outcome for r in ch.deliver(batch)} == {Outcome.RETRY, Outcome.SKIPPED}
    assert sb.inbox("line") == []
    assert {r.outcome for r in ch.reconcile(batch.recipients, batch)} == {Outcome.NOT_SENT}


def test_line_timeout_is_a_retry_and_the_retry_key_prevents_a_second_copy(
    sb: Sandbox, settings: Settings
) -> None:
    sb.inject_fault("line", "timeout", delay=1.5)
    ch = build("line", settings, timeout=0.5)
    batch = make_batch(ch, DRAFT, recipients([user_id(1), user_id(2)]))
    first = ch.deliver(batch)
    assert {r.outcome for r in first} == {Outcome.RETRY}
    assert {r.error_code for r in first} == {"timeout"}
    assert {r.outcome for r in ch.deliver(replace(batch, attempt=2))} == {Outcome.SENT}
    assert len(sb.inbox("line", user_id(1))) == 1, "the stalled request was accepted; the retry got 409"
