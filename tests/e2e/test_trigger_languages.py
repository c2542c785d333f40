"""A JMA quake telegram through real workers: each resident reads it in their own language (出典：気象庁)."""

from __future__ import annotations

import pytest

from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import wait_for
from tests.support.worker import WorkerProcess
from tests.triggers.support import OSHU, QUAKE_6PLUS, add_rules, prepare, replay
from tests.triggers.test_languages import QUAKE_RULE, RESIDENTS, _residents

pytestmark = pytest.mark.slow


def test_a_quake_alert_reaches_english_chinese_and_easy_japanese_residents_through_workers(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess]
) -> None:
    prepare(stack_runtime, residents=0, staff=0)
    _residents(stack_runtime, OSHU)
    add_rules(stack_runtime, {**QUAKE_RULE, "name": "奥州市 震度5弱以上", "municipalities": [OSHU],
                              "audience": f"area:{OSHU}"})
    worker_factory().start()

    assert replay(stack_runtime, QUAKE_6PLUS).outcome == "matched"

    def sms_of(language: str) -> str | None:
        items = sandbox_client.inbox("sms", to=RESIDENTS[language].phone)
        return str(items[0]["text"]) if items else None

    wait_for(lambda: all(sms_of(language) for language in RESIDENTS), timeout=60, interval=0.5)
    assert str(sms_of("en")).startswith("Earthquake at about 8:43 AM (Japan time). 奥州市 (Seismic intensity 6 Upper)")
    assert str(sms_of("zh")).startswith("8:43左右发生地震。奥州市（震度6强）")
    assert str(sms_of("ja-easy")).startswith("8時43分ごろ 大きい 地震が ありました。")
    assert str(sms_of("ja")).startswith("8時43分ごろ地震。奥州市（震度６強）")
    wait_for(lambda: len(sandbox_client.inbox("line")) == len(RESIDENTS), timeout=30, interval=0.5)
    line = {item["to"]: item["text"] for item in sandbox_client.inbox("line")}
    assert "请首先确保自身安全" in line[RESIDENTS["zh"].line]
    assert "自分の 体を 守って ください" in line[RESIDENTS["ja-easy"].line]
