"""Named expectations of the issue, each through the same pipeline as the poller (出典：気象庁)."""

from __future__ import annotations

import threading

from flask import Flask
from sqlalchemy import select

from hub.models import Contact, Delivery
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.triggers.support import (
    KANEGASAKI,
    LIVE_SEQUENCE,
    OKINOSHIMA,
    OSHU,
    QUAKE_6PLUS,
    QUAKE_CANCELLED,
    QUAKE_EXERCISE,
    RAIN_CLEARED,
    RAIN_LEVEL4,
    WAKKANAI,
    add_rules,
    message,
    messages,
    prepare,
    raw,
    received,
    replay,
    telegram_rows,
    wakkanai_level4_cleared,
)
from triggers.engine import process
from triggers.jma.parse import parse_telegram
from triggers.jma.source import JmaSource

QUAKE_RULE = {"when": "earthquake", "min_intensity": "5弱", "template": "jma-earthquake"}


def test_six_upper_fires_for_oshu_and_for_a_city_with_only_unreceived_intensity(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    prepare(runtime)
    ids = add_rules(
        runtime,
        {**QUAKE_RULE, "name": "奥州市 震度5弱以上", "municipalities": [OSHU], "audience": f"area:{OSHU}"},
        {**QUAKE_RULE, "name": "金ケ崎町 震度5弱以上", "municipalities": [KANEGASAKI], "channels": ["rss"]},
    )

    decision = replay(runtime, QUAKE_6PLUS)

    assert decision.outcome == "matched"
    by_rule = {r.rule_id: r for r in decision.rules}
    assert set(by_rule) == set(ids.values())
    oshu = message(runtime, by_rule[ids["奥州市 震度5弱以上"]].message_id)
    assert (oshu.mode, oshu.msg_type, oshu.source) == ("actual", "alert", f"trigger:jma:{ids['奥州市 震度5弱以上']}")
    assert oshu.title == "地震情報（震度６強）"
    assert "奥州市（震度６強）" in oshu.body and "岩手県内陸南部" in oshu.body and "6月14日 8時43分" in oshu.body
    kanegasaki = message(runtime, by_rule[ids["金ケ崎町 震度5弱以上"]].message_id)
    assert "金ケ崎町（震度５弱以上）" in kanegasaki.body
    sms = sandbox_client.inbox("sms")
    with runtime.session() as session:
        in_oshu = set(session.scalars(select(Contact.phone).where(Contact.areas.any(code=OSHU))))
        japanese = set(session.scalars(select(Contact.phone).where(Contact.language == "ja")))
    # Residents reading another language get the template's reviewed text (tests/triggers/test_languages.py).
    assert sms and all(item["text"].startswith("8時43分ごろ地震。奥州市（震度６強）")
                       for item in sms if item["to"] in japanese)
    assert {item["to"] for item in sms} <= in_oshu


def test_exercise_telegram_never_creates_a_live_message(runtime: Runtime, sandbox_client: SandboxClient) -> None:
    prepare(runtime)
    cities = [city.code for city in parse_telegram(raw(QUAKE_EXERCISE)).event.cities]  # type: ignore[union-attr]
    add_rules(runtime, {**QUAKE_RULE, "name": "訓練の地域", "municipalities": cities, "min_intensity": "1"})

    decision = replay(runtime, QUAKE_EXERCISE)

    assert decision.outcome == "matched" and decision.status == "exercise"
    assert {m.mode for m in messages(runtime)} == {"exercise"}
    texts = [i["text"] for i in sandbox_client.inbox("sms")] + [i["text"] for i in sandbox_client.inbox("line")]
    assert texts and all(text.startswith("【訓練】") for text in texts)
    assert all(i["subject"].startswith("【訓練】") for i in sandbox_client.inbox("email"))
    with runtime.session() as session:
        reached = set(session.scalars(select(Delivery.contact_id).where(Delivery.state.in_(("sent", "delivered")))))
        drill = set(session.scalars(select(Contact.id).where(Contact.exercise_participant.is_(True))))
    assert reached and reached <= drill


def test_exercise_policy_ignore_creates_nothing(runtime: Runtime) -> None:
    from dataclasses import replace

    prepare(runtime)
    cities = [city.code for city in parse_telegram(raw(QUAKE_EXERCISE)).event.cities]  # type: ignore[union-attr]
    add_rules(runtime, {**QUAKE_RULE, "name": "訓練の地域", "municipalities": cities, "min_intensity": "1"})
    runtime.settings = replace(runtime.settings, jma_exercise_policy="ignore")

    decision = replay(runtime, QUAKE_EXERCISE)

    assert decision.outcome == "ignored" and "訓練" in decision.reason
    assert messages(runtime) == []


def test_cancellation_after_issue_reaches_the_same_channels_and_recipients(
    runtime: Runtime, sandbox_client: SandboxClient
) -> None:
    prepare(runtime)
    add_rules(runtime, {**QUAKE_RULE, "name": "奥州市", "municipalities": [OSHU],
                        "channels": ["sms", "email", "line", "x", "rss"]})
    original_id = replay(runtime, QUAKE_6PLUS).rules[0].message_id
    assert original_id is not None
    before = received(runtime, original_id)
    sandbox_client.clear()

    decision = replay(runtime, QUAKE_CANCELLED)

    assert decision.outcome == "matched" and decision.info_kind == "cancelled"
    (outcome,) = decision.rules
    cancel = message(runtime, outcome.message_id)
    assert (cancel.msg_type, cancel.references_id, cancel.mode) == ("cancel", original_id, "actual")
    assert sorted(cancel.channels) == ["email", "line", "rss", "sms", "x"]
    assert received(runtime, cancel.id) == before
    assert "気象庁が情報を取り消した" in cancel.body
    for channel in ("sms", "line", "x"):
        inbox = sandbox_client.inbox(channel)
        assert inbox and all(item["text"].startswith("【取消】") for item in inbox)
    assert {("sms", i["to"]) for i in sandbox_client.inbox("sms")} == {p for p in before if p[0] == "sms"}


def test_rain_level4_issued_then_cleared_rules(runtime: Runtime) -> None:
    prepare(runtime)
    warning = {"when": "warning", "hazards": ["大雨"], "channels": ["rss"]}
    ids = add_rules(
        runtime,
        {**warning, "name": "稚内 レベル4", "municipalities": [WAKKANAI], "min_level": 4,
         "template": "jma-evacuation-level4"},
        {**warning, "name": "稚内 レベル4 解除", "municipalities": [WAKKANAI], "min_level": 4, "on": ["cleared"],
         "template": "jma-cleared"},
        {**warning, "name": "隠岐の島 注意報 解除", "municipalities": [OKINOSHIMA], "min_level": 2,
         "on": ["cleared"], "template": "jma-cleared"},
    )

    issued = replay(runtime, RAIN_LEVEL4)
    assert [(r.rule_id, r.action) for r in issued.rules] == [(ids["稚内 レベル4"], "alert")]
    alert = message(runtime, issued.rules[0].message_id)
    assert alert.title == "【警戒レベル４】稚内市 危険な場所から全員避難"
    assert "レベル４大雨危険警報" in alert.body

    cleared = replay(runtime, wakkanai_level4_cleared())
    assert [(r.rule_id, r.action) for r in cleared.rules] == [(ids["稚内 レベル4 解除"], "alert")]
    assert message(runtime, cleared.rules[0].message_id).title == "【解除】稚内市"

    real_clear = replay(runtime, RAIN_CLEARED)
    assert [(r.rule_id, r.action) for r in real_clear.rules] == [(ids["隠岐の島 注意報 解除"], "alert")]
    assert "隠岐の島町のレベル２大雨注意報は解除されました" in message(runtime, real_clear.rules[0].message_id).body


def test_live_vxse51_52_53_of_one_event_id_are_one_incident(runtime: Runtime) -> None:
    prepare(runtime)
    ids = add_rules(
        runtime,
        {**QUAKE_RULE, "name": "宮城県中部", "regions": ["222"], "min_intensity": "3", "channels": ["rss"]},
        {**QUAKE_RULE, "name": "宮城県中部と石巻市", "regions": ["222"], "municipalities": ["0420200"],
         "min_intensity": "3", "channels": ["rss"]},
    )

    decisions = [replay(runtime, name) for name in LIVE_SEQUENCE]

    rows = telegram_rows(runtime)
    assert [r.type_code for r in rows] == ["VXSE51", "VXSE52", "VXSE53"]
    assert len({r.incident_id for r in rows}) == 1 and rows[0].incident_id is not None
    actions = [{r.rule_id: r.action for r in d.rules} for d in decisions]
    region, city = ids["宮城県中部"], ids["宮城県中部と石巻市"]
    assert actions[0] == {region: "alert", city: "alert"}  # 震度速報 first: the early warning
    assert actions[1] == {}  # VXSE52 carries no intensities
    # VXSE53 repeats the region (no news for the first rule) and adds 石巻市 for the second: one 続報.
    assert actions[2] == {region: "unchanged", city: "update"}
    update = message(runtime, decisions[2].rules[1].message_id)
    assert update.msg_type == "update" and update.references_id == decisions[0].rules[1].message_id
    assert len(messages(runtime)) == 3


def test_the_same_telegram_arriving_twice_at_once_acts_once(app: Flask, runtime: Runtime) -> None:
    """Two workers handle one telegram fetched by two ways (two feeds, a replay): one message."""
    prepare(runtime)
    add_rules(runtime, {**QUAKE_RULE, "name": "奥州市", "municipalities": [OSHU], "channels": ["rss"]})
    body = raw(QUAKE_6PLUS)
    start = threading.Barrier(2)
    decisions: list[str] = []

    def run(key: str) -> None:
        with app.app_context():
            start.wait()
            decisions.append(process(runtime, JmaSource(runtime.settings), body, item_key=key).outcome)

    threads = [threading.Thread(target=run, args=(f"https://example.invalid/{n}.xml",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(decisions) == ["ignored", "matched"]
    assert len(messages(runtime)) == 1
