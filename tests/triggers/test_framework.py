"""A second source is a small addition: a webhook-style JSON source gets dedupe, safety and 取消 for free."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

import pytest

from hub.models.triggers import TriggerRule
from hub.runtime import Runtime
from tests.conftest import _empty
from tests.triggers.support import message, messages, prepare
from triggers.base import (
    Envelope,
    Finding,
    InfoKind,
    RuleError,
    RuleKind,
    RuleSpec,
    Source,
    SourceInputError,
    Status,
    available,
)
from triggers.engine import process
from triggers.jma.source import JmaSource


class WebhookSource(Source):
    """What a manual webhook (or a CAP feed) plugin looks like: about forty lines."""

    name: ClassVar[str] = "webhook"
    label: ClassVar[str] = "手動Webhook"
    kinds: ClassVar[Mapping[str, RuleKind]] = {
        "notice": RuleKind("notice", "お知らせ", frozenset({"issued"}), frozenset({"issued"})),
    }

    def decode(self, raw: bytes, hint: str | None = None) -> Envelope:
        try:
            data = json.loads(raw)
            return Envelope(
                source=self.name, type_code="notice", status=Status(data.get("status", "actual")),
                info_kind=InfoKind(data.get("kind", "issued")), unit_key=("notice", data["id"]),
                version=f"{data['version']}|{data.get('kind', 'issued')}",
                reported_at=datetime.fromisoformat(data["at"]), incident_key=f"notice|{data['id']}",
                title=data.get("title", ""), headline=data.get("text", ""), payload=data,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceInputError(f"JSONを読めません（{exc}）") from None

    def parse_conditions(self, kind: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        if not raw.get("areas"):
            raise RuleError("areas が必要です")
        return {"areas": list(raw["areas"])}

    def evaluate(self, rule: RuleSpec, envelope: Envelope, prepared: Any) -> Finding | None:
        areas = set(envelope.payload.get("areas", [])) & set(rule.conditions["areas"])
        if not areas:
            return None
        return Finding(changes=frozenset({"issued"}), active=True,
                       told=frozenset(("area", a) for a in areas), variables={"area_names": sorted(areas)})


@pytest.fixture
def database_url(sqlite_url: str) -> Iterator[str]:
    _empty(sqlite_url)
    yield sqlite_url


def notice(**fields: Any) -> bytes:
    data = {"id": "n1", "version": 1, "at": "2026-11-24T03:00:00+09:00", "areas": ["0321500"],
            "title": "断水", "text": "奥州市の一部で断水しています。", **fields}
    return json.dumps(data, ensure_ascii=False).encode()


def test_the_jma_source_is_found_through_the_entry_point() -> None:
    assert available()["jma"] is JmaSource


def test_a_second_source_uses_the_same_engine(runtime: Runtime) -> None:
    prepare(runtime, residents=20, staff=2)
    with runtime.session() as session:
        session.add(TriggerRule(name="断水", source="webhook", kind="notice", conditions={"areas": ["0321500"]},
                                on=["issued"], template_code="jma-cleared", audience="all", channels=["rss"]))
    source = WebhookSource(runtime.settings)

    first = process(runtime, source, notice(), item_key="webhook:1")
    twice = process(runtime, source, notice(), item_key="webhook:2")  # the same notice posted again
    drill = process(runtime, source, notice(id="n2", status="test"), item_key="webhook:3")
    broken = process(runtime, source, b"{not json", item_key="webhook:4")
    cancelled = process(runtime, source, notice(kind="cancelled", version=2), item_key="webhook:5")

    assert first.outcome == "matched" and first.rules[0].mode == "actual"
    assert twice.outcome == "ignored" and "処理済み" in twice.reason
    assert drill.outcome == "ignored" and "試験" in drill.reason
    assert broken.outcome == "quarantined"
    assert cancelled.rules[0].action == "cancel"
    cancel = message(runtime, cancelled.rules[0].message_id)
    assert (cancel.msg_type, cancel.references_id) == ("cancel", first.rules[0].message_id)
    assert cancel.source.startswith("trigger:webhook:") and len(messages(runtime)) == 2
