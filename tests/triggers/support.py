"""Helpers for the trigger tests: real telegrams (出典：気象庁), rules, the pipeline, what was sent."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.demo.seed import seed_demo
from hub.models import Delivery, Message
from hub.models.triggers import TriggerTelegram
from hub.runtime import Runtime
from hub.templating import load_templates
from triggers.engine import Decision, process
from triggers.jma.source import JmaSource
from triggers.rulebook import save_rules

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jma"
RECEIVED = ("sent", "delivered")

QUAKE_6PLUS = "official/32-35_06_03_240613_VXSE53.xml"  # 奥州市 6+, 金ケ崎町 「震度５弱以上未入電」 only
QUAKE_CANCELLED = "official/32-35_06_06_100915_VXSE53.xml"  # 取消 of the same information unit
QUAKE_EXERCISE = "official/32-35_01_03_240613_VXSE53.xml"  # Status 訓練
RAIN_LEVEL4 = "official/15_16_03_241226_VPWW55.xml"  # 稚内市 レベル４大雨危険警報 発表
RAIN_CLEARED = "official/15_17_01_241226_VPWW55.xml"  # 隠岐の島町 レベル２大雨注意報 解除
LIVE_SEQUENCE = ("live/20210217140808_0_VXSE51_010000.xml", "live/20210217140847_0_VXSE52_010000.xml",
                 "live/20210217140958_0_VXSE53_010000.xml")
OSHU, KANEGASAKI, WAKKANAI, OKINOSHIMA = "0321500", "0338100", "0121400", "3252800"


def raw(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def derived(relative: str, *replacements: tuple[str, str]) -> bytes:
    """A variant of a real telegram (e.g. its 解除) made by exact text replacement."""
    text = raw(relative).decode("utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode("utf-8")


def wakkanai_level4_cleared() -> bytes:
    """JMA publishes no 解除 for 稚内市's level-4 sample: the same telegram, later, with Status 解除."""
    text = raw(RAIN_LEVEL4).decode("utf-8")
    head, marker, municipal = text.partition('<Warning type="気象警報・注意報（市町村等）">')
    issued = ("<Code>43</Code>\n<Status>発表</Status>\n<LastKind>\n"
              "<Name>レベル３大雨警報</Name>\n<Code>03</Code>")
    assert marker and issued in municipal
    municipal = municipal.replace(issued, issued.replace("発表", "解除").replace("レベル３大雨警報", "レベル４大雨危険警報")
                                  .replace("<Code>03</Code>", "<Code>43</Code>"), 1)
    head = head.replace("<ReportDateTime>2020-06-22T23:00:00+09:00", "<ReportDateTime>2020-06-23T05:00:00+09:00")
    return (head + marker + municipal).encode("utf-8")


def replay(runtime: Runtime, data: bytes | str, **options: Any) -> Decision:
    body = raw(data) if isinstance(data, str) else data
    key = f"sha256:{hashlib.sha256(body).hexdigest()}"
    return process(runtime, JmaSource(runtime.settings), body, item_key=key, **options)


def prepare(runtime: Runtime, residents: int = 60, staff: int = 5) -> None:
    with runtime.session() as session:
        seed_demo(session, residents=residents, staff=staff)
        load_templates(session)


def add_rules(runtime: Runtime, *rules: dict[str, Any]) -> dict[str, int]:
    """Store rules (defaults: SMS + e-mail + LINE, automatic); returns name → id."""
    from hub.models.triggers import TriggerRule

    items = [{"audience": "all", "channels": ["sms", "email", "line"], "approval": "auto", **rule}
             for rule in rules]
    with runtime.session() as session:
        save_rules(session, runtime, items)
        return {r.name: r.id for r in session.scalars(select(TriggerRule))}


def message(runtime: Runtime, message_id: int | None) -> Message:
    assert message_id is not None
    with runtime.session() as session:
        found = session.get(Message, message_id)
        assert found is not None
        session.expunge(found)
        return found


def messages(runtime: Runtime) -> list[Message]:
    with runtime.session() as session:
        found = list(session.scalars(select(Message).order_by(Message.id)))
        for item in found:
            session.expunge(item)
        return found


def received(runtime: Runtime, message_id: int) -> set[tuple[str, str]]:
    with runtime.session() as session:
        return {(channel, address) for channel, address in session.execute(
            select(Delivery.channel, Delivery.address)
            .where(Delivery.message_id == message_id, Delivery.state.in_(RECEIVED)))}


def telegram_rows(runtime: Runtime) -> list[TriggerTelegram]:
    with runtime.session() as session:
        found = list(session.scalars(select(TriggerTelegram).order_by(TriggerTelegram.id)))
        for item in found:
            session.expunge(item)
        return found


def jma_name(stamp: str, type_code: str, office: str = "010000") -> str:
    """A telegram file name as JMA's feed links it: ``<UTC yyyymmddhhmmss>_0_<TYPE>_<office>.xml``."""
    assert re.fullmatch(r"\d{14}", stamp)
    return f"{stamp}_0_{type_code}_{office}.xml"
