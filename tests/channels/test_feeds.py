"""Atom / RSS 2.0 / CAP 1.2 builders: well-formed, and CAP has what the standard requires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from channels.feeds import (
    ATOM_NS,
    CAP_NS,
    FeedEntry,
    FeedMeta,
    atom_feed,
    cap_alert,
    cap_feed,
    rss2_feed,
    tag_uri,
)

JST = timezone(timedelta(hours=9))
T0 = datetime(2025, 9, 1, 9, 0, tzinfo=JST)
META = FeedMeta(
    title="○○市 防災情報",
    link="https://city.example.jp/bousai/",
    feed_url="https://city.example.jp/feeds/all.atom",
    id="tag:city.example.jp,2025:feed:all",
    author="○○市",
)
CAP = {"cap": CAP_NS}
ATOM = {"a": ATOM_NS}


def entry(message_id: int = 1, **kw: object) -> FeedEntry:
    base: dict[str, object] = {
        "message_id": message_id,
        "title": "避難指示",
        "text": "○○川の水位が上昇しています。<すぐに> 避難 & 身の安全を確保してください。",
        "mode": "actual",
        "msg_type": "alert",
        "published": T0,
        "updated": T0,
        "link": f"https://city.example.jp/m/{message_id}",
        "category": "Met",
        "sender_name": "危機管理課",
        "areas": [("2720500", "○○市北部"), ("2720501", "○○市南部")],
        "entry_id": tag_uri("city.example.jp", 2025, message_id),
        "sender": "city.example.jp",
        "event": "洪水",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Observed",
    }
    base.update(kw)
    return FeedEntry(**base)  # type: ignore[arg-type]


def parse(xml: bytes) -> etree._Element:
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    return etree.fromstring(xml)


def test_atom_feed_is_well_formed_newest_first_and_marks_exercises() -> None:
    first = entry(1)
    drill = entry(2, mode="exercise", updated=T0 + timedelta(hours=1), published=T0 + timedelta(hours=1))
    root = parse(atom_feed(META, [first, drill]))
    assert root.tag == f"{{{ATOM_NS}}}feed"
    assert root.findtext("a:id", namespaces=ATOM) == META.id
    assert root.findtext("a:updated", namespaces=ATOM) == "2025-09-01T10:00:00+09:00"
    titles = [e.findtext("a:title", namespaces=ATOM) for e in root.findall("a:entry", ATOM)]
    assert titles == ["【訓練】避難指示", "避難指示"]
    ids = [e.findtext("a:id", namespaces=ATOM) for e in root.findall("a:entry", ATOM)]
    assert ids == ["tag:city.example.jp,2025:message:2", "tag:city.example.jp,2025:message:1"]
    content = root.find("a:entry/a:content", ATOM)
    assert content is not None and "<すぐに>" in (content.text or "")


def test_rss2_feed_is_well_formed() -> None:
    root = parse(rss2_feed(META, [entry(1), entry(2, mode="test")]))
    assert root.tag == "rss" and root.get("version") == "2.0"
    items = root.findall("channel/item")
    assert [i.findtext("guid") for i in items] == [
        "tag:city.example.jp,2025:message:1",
        "tag:city.example.jp,2025:message:2",
    ]
    assert [i.xpath("string(guid/@isPermaLink)") for i in items] == ["false", "false"]
    assert items[0].findtext("pubDate") == "Mon, 01 Sep 2025 09:00:00 +0900"
    assert any((i.findtext("title") or "").startswith("【試験】") for i in items)


def test_cap_alert_has_the_required_elements() -> None:
    root = parse(cap_alert(entry(1)))
    assert root.tag == f"{{{CAP_NS}}}alert"
    for name in ("identifier", "sender", "sent", "status", "msgType", "scope"):
        assert root.findtext(f"cap:{name}", namespaces=CAP), name
    assert root.findtext("cap:status", namespaces=CAP) == "Actual"
    assert root.findtext("cap:msgType", namespaces=CAP) == "Alert"
    assert root.findtext("cap:sent", namespaces=CAP) == "2025-09-01T09:00:00+09:00"
    assert "," not in (root.findtext("cap:identifier", namespaces=CAP) or ",")
    info = root.find("cap:info", CAP)
    assert info is not None
    for name in ("language", "category", "event", "urgency", "severity", "certainty"):
        assert info.findtext(f"cap:{name}", namespaces=CAP), name
    assert info.findtext("cap:language", namespaces=CAP) == "ja-JP"
    assert info.findtext("cap:category", namespaces=CAP) == "Met"
    assert info.findtext("cap:web", namespaces=CAP) == "https://city.example.jp/m/1"
    areas = info.findall("cap:area", CAP)
    assert [a.findtext("cap:areaDesc", namespaces=CAP) for a in areas] == ["○○市北部", "○○市南部"]
    assert areas[0].findtext("cap:geocode/cap:value", namespaces=CAP) == "2720500"
    # element order matters in CAP's schema
    assert [etree.QName(c).localname for c in root][:6] == [
        "identifier",
        "sender",
        "sent",
        "status",
        "msgType",
        "scope",
    ]


def test_cap_exercise_cancel_references_the_original() -> None:
    original = entry(1, mode="exercise")
    cancel = entry(
        2,
        mode="exercise",
        msg_type="cancel",
        references=original,
        published=datetime(2025, 9, 1, 0, 30, tzinfo=UTC),
    )
    root = parse(cap_alert(cancel))
    assert root.findtext("cap:status", namespaces=CAP) == "Exercise"
    assert root.findtext("cap:msgType", namespaces=CAP) == "Cancel"
    assert (
        root.findtext("cap:sent", namespaces=CAP) == "2025-09-01T00:30:00-00:00"
    )  # CAP: no "Z", UTC is -00:00
    ref = root.findtext("cap:references", namespaces=CAP)
    original_id = parse(cap_alert(original)).findtext("cap:identifier", namespaces=CAP)
    assert ref == f"city.example.jp,{original_id},2025-09-01T09:00:00+09:00"
    assert root.findtext("cap:info/cap:headline", namespaces=CAP) == "【訓練】避難指示"
    assert root.findtext("cap:note", namespaces=CAP)


def test_cap_feed_embeds_alerts_in_atom() -> None:
    root = parse(cap_feed([entry(1), entry(2, msg_type="update", references=entry(1))], META))
    contents = root.findall("a:entry/a:content", ATOM)
    assert len(contents) == 2
    assert all(c.get("type") == "application/cap+xml" for c in contents)
    alerts = [c.find("cap:alert", CAP) for c in contents]
    assert all(a is not None for a in alerts)
    assert parse(cap_feed([])).tag == f"{{{ATOM_NS}}}feed"


def test_control_characters_do_not_break_the_xml() -> None:
    parse(atom_feed(META, [entry(1, text="bad\x00\x07text")]))
    parse(cap_alert(entry(1, title="bad\x1btitle")))
