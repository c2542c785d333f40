"""Answers from every path stop the person's chain: LINE buttons, phone keys, the e-mail page.
Answering twice updates the one stored answer."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from hub.models.relay import CalloutTarget
from hub.relay import engine
from hub.relay.answers import record_answers
from hub.relay.clock import ManualClock
from hub.runtime import Runtime
from sandbox import SandboxClient
from sandbox.staff import postback_choices
from tests.relay.support import answers, attempts, seed_staff, start, tick


def _run(runtime: Runtime, clock: ManualClock, minutes: int) -> None:
    for _ in range(minutes):
        clock.advance(60)
        tick(runtime)


def _press(sandbox_client: SandboxClient, user: str, item: dict[str, Any], value: str) -> None:
    data = next(d for d in postback_choices(item) if d.endswith(f"|{value}"))
    reply = sandbox_client.emit_line_event({"type": "postback", "postback": {"data": data},
                                            "source": {"type": "user", "userId": user}})
    assert reply["status"] == 200


def _answered(runtime: Runtime) -> dict[str, tuple[str, str]]:
    with runtime.session() as s:
        target = s.query(CalloutTarget).one()
        assert target.state == "answered" and target.active_task_id is None
    return {a.question_key: (a.value, a.via) for a in answers(runtime, target.callout_id)}


def test_line_buttons_answer_every_question_and_no_further_step_follows(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    assert person.line
    callout_id = start(runtime, interval="5m", cycles=3)
    _run(runtime, clock, 2)
    _press(sandbox_client, person.line, sandbox_client.inbox("line", to=person.line)[-1], "safe")
    _press(sandbox_client, person.line, sandbox_client.inbox("line", to=person.line)[-1], "yes")
    _press(sandbox_client, person.line, sandbox_client.inbox("line", to=person.line)[-1], "30")
    _run(runtime, clock, 60)

    assert _answered(runtime) == {"safety": ("safe", "line"), "attend": ("yes", "line"), "eta": ("30", "line")}
    assert [a.channel for a in attempts(runtime, callout_id)] == ["line"]
    assert not sandbox_client.inbox("voice") and not sandbox_client.inbox("email")
    texts = [item["text"] for item in sandbox_client.inbox("line", to=person.line)]
    assert len(texts) == 4, texts  # the call-out, two follow-up questions, the thank-you
    assert "参集できますか" in texts[1] and "何分で到着できますか" in texts[2]
    assert texts[3].startswith("【訓練】回答を受け付けました") and "無事" in texts[3] and "30分" in texts[3]


def test_phone_keys_answer_and_no_further_step_follows(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    callout_id = start(runtime, interval="5m", cycles=3)
    _run(runtime, clock, 5)
    call = sandbox_client.inbox("voice", to=person.phone)[0]
    replies = [sandbox_client.press_digits(call["provider_id"], keys) for keys in ("3", "1", "45#")]
    assert all(r["status"] == 200 for r in replies)
    assert "参集できますか" in replies[0]["body"] and "シャープ" in replies[1]["body"]
    assert "ありがとうございます" in replies[2]["body"] and "<Gather" not in replies[2]["body"]
    _run(runtime, clock, 60)

    assert _answered(runtime) == {"safety": ("serious", "voice"), "attend": ("yes", "voice"),
                                  "eta": ("45", "voice")}
    assert [a.channel for a in attempts(runtime, callout_id)] == ["line", "voice"]
    assert not sandbox_client.inbox("email")


def test_wrong_key_is_asked_again_and_stores_nothing(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    callout_id = start(runtime, interval="5m", cycles=1)
    _run(runtime, clock, 5)
    reply = sandbox_client.press_digits(sandbox_client.inbox("voice", to=person.phone)[0]["provider_id"], "9")
    assert "もう一度" in reply["body"] and "安否" in reply["body"]
    assert answers(runtime, callout_id) == []


def test_email_page_answer_stops_the_chain(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    callout_id = start(runtime, interval="5m", cycles=3)
    _run(runtime, clock, 11)
    mail = sandbox_client.inbox("email", to=person.email)[0]
    match = re.search(r"http://\S+/relay/a/\S+", mail["text"])
    assert match is not None
    http = requests.Session()
    http.trust_env = False
    page = http.get(match.group(0), timeout=10)
    assert page.status_code == 200 and "【訓練】" in page.text and person.name in page.text
    done = http.post(match.group(0), timeout=10,
                     data={"q_safety": "minor", "q_attend": "no", "q_note": "足をけがしました"})
    assert done.status_code == 200 and "回答を受け付けました" in done.text
    _run(runtime, clock, 60)

    assert _answered(runtime) == {"safety": ("minor", "page:email"), "attend": ("no", "page:email"),
                                  "note": ("足をけがしました", "page:email")}
    assert [a.channel for a in attempts(runtime, callout_id)] == ["line", "voice", "email"]
    assert len(sandbox_client.inbox("line", to=person.line)) == 1


def test_answering_twice_updates_and_a_repeated_postback_changes_nothing(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    assert person.line
    callout_id = start(runtime, interval="5m", cycles=1)
    first = sandbox_client.inbox("line", to=person.line)[0]
    _press(sandbox_client, person.line, first, "safe")
    _press(sandbox_client, person.line, first, "safe")  # LINE redelivers, or a double tap
    assert [(a.question_key, a.value) for a in answers(runtime, callout_id)] == [("safety", "safe")]
    assert len(sandbox_client.inbox("line", to=person.line)) == 2, "one follow-up question, not two"
    _press(sandbox_client, person.line, first, "minor")  # a changed mind
    stored = answers(runtime, callout_id)
    assert [(a.question_key, a.value) for a in stored] == [("safety", "minor")]


def test_answer_while_a_step_is_with_the_provider_stops_the_chain_within_that_step(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = seed_staff(runtime, 1)[0]
    callout_id = start(runtime, interval="5m", cycles=3)
    real_send = engine.send_step

    def answer_then_send(rt: Runtime, step: Any) -> Any:
        with rt.session() as s:
            target = s.get(CalloutTarget, step.target_id)
            assert target is not None and target.state == "contacting"
            record_answers(s, target, {"safety": "safe"}, via="page:email", actor="test")
        return real_send(rt, step)

    monkeypatch.setattr(engine, "send_step", answer_then_send)
    _run(runtime, clock, 5)  # the phone step is claimed, then the answer lands, then the call goes out
    monkeypatch.setattr(engine, "send_step", real_send)
    _run(runtime, clock, 60)
    assert [(a.channel, a.state) for a in attempts(runtime, callout_id)] == [("line", "sent"), ("voice", "sent")]
    assert len(sandbox_client.inbox("voice", to=person.phone)) == 1
    assert not sandbox_client.inbox("email")


def test_sms_step_links_to_the_answer_page(
    runtime: Runtime, clock: ManualClock, sandbox_client: SandboxClient
) -> None:
    person = seed_staff(runtime, 1)[0]
    callout_id = start(runtime, survey="anpi", steps="sms,voice", interval="5m", cycles=1)
    sms = sandbox_client.inbox("sms", to=person.phone)[0]
    assert sms["text"].startswith("【訓練】安否確認")
    match = re.search(r"http://\S+/relay/a/\S+", sms["text"])
    assert match is not None
    http = requests.Session()
    http.trust_env = False
    assert http.post(match.group(0), data={"q_safety": "safe"}, timeout=10).status_code == 200
    _run(runtime, clock, 20)
    assert _answered(runtime) == {"safety": ("safe", "page:sms")}
    assert [a.channel for a in attempts(runtime, callout_id)] == ["sms"]
