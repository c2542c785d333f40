"""Every real telegram through the full pipeline, and ``hub jma replay --json`` (出典：気象庁)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.demo.seed import DEMO_TOKEN
from hub.models import MessageBody
from hub.runtime import Runtime
from tests.conftest import _empty
from tests.triggers.support import FIXTURES, OSHU, QUAKE_6PLUS, QUAKE_CANCELLED, add_rules, prepare, replay

CORPUS = sorted(FIXTURES.glob("*/*.xml"))


@pytest.fixture
def database_url(sqlite_url: str) -> Iterator[str]:
    """The corpus is about parsing and decisions, not the database: SQLite alone keeps it fast."""
    _empty(sqlite_url)
    yield sqlite_url


def test_every_fixture_goes_through_the_pipeline_without_error(runtime: Runtime) -> None:
    prepare(runtime, residents=20, staff=2)
    broad = {"channels": ["rss"], "max_per_hour": 60}
    add_rules(
        runtime,
        {**broad, "name": "地震", "when": "earthquake", "municipalities": [OSHU, "0420200"], "regions": ["222", "213"],
         "min_intensity": "3", "template": "jma-earthquake"},
        {**broad, "name": "津波", "when": "tsunami", "tsunami_areas": ["320", "321", "100", "210"],
         "template": "jma-tsunami"},
        {**broad, "name": "津波解除", "when": "tsunami", "tsunami_areas": ["320", "321"], "on": ["cleared"],
         "template": "jma-cleared"},
        {**broad, "name": "大雨R06", "when": "warning", "municipalities": ["0121400", "3252800"], "min_level": 2,
         "template": "jma-evacuation-level4"},
        {**broad, "name": "警報旧", "when": "warning", "scheme": "legacy", "municipalities": ["2920100"],
         "template": "jma-evacuation-level4"},
        {**broad, "name": "土砂", "when": "landslide", "municipalities": ["0133100", "1420600"],
         "template": "jma-evacuation-level4"},
        {**broad, "name": "記録的大雨", "when": "record_rain", "forecast_areas": ["270000"], "template": "jma-record-rain"},
        {**broad, "name": "噴火", "when": "volcano", "volcanoes": ["306"], "template": "jma-volcano"},
    )

    outcomes: Counter[str] = Counter()
    for path in CORPUS:
        decision = replay(runtime, path.read_bytes())
        assert decision.outcome in ("matched", "ignored"), (path.name, decision)
        assert decision.outcome == "matched" or decision.reason, path.name
        outcomes[decision.outcome] += 1

    assert sum(outcomes.values()) == 228
    assert outcomes["matched"] >= 20  # every family of rule fired somewhere in the corpus
    # JMA's Japanese words reach English and Chinese readers translated (place names stay as they are).
    untranslated = {"en": ("震度", "警報", "注意報", "発表", "ごろ", "ミリ", "ありません"),
                    "zh": ("警報", "注意報", "発表", "ごろ", "ミリ", "ありません")}
    with runtime.session() as session:
        bodies = list(session.scalars(select(MessageBody).where(MessageBody.language.in_(("en", "zh")))))
    assert len(bodies) > 40
    for body in bodies:
        words = untranslated[body.language]
        assert not [w for w in words if w in body.text], (body.language, body.text)


def test_replay_command_prints_one_decision_per_telegram(app: Flask, runtime: Runtime, tmp_path: Path) -> None:
    prepare(runtime, residents=20, staff=2)
    add_rules(runtime, {"name": "奥州市", "when": "earthquake", "municipalities": [OSHU], "min_intensity": "5弱",
                        "template": "jma-earthquake", "channels": ["rss"]})
    broken = tmp_path / "20080613234800_0_VXSE53_010000.xml"
    broken.write_bytes((FIXTURES / QUAKE_6PLUS).read_bytes()[:500])
    files = [str(FIXTURES / QUAKE_6PLUS), str(broken), str(FIXTURES / "official/32-35_09_01_191111_VXSE56.xml"),
             str(FIXTURES / QUAKE_CANCELLED)]
    hub = HubContext()
    hub._app = app

    assert CliRunner().invoke(main, ["jma", "replay", *files], obj=hub, env={TOKEN_ENV: ""}).exit_code != 0
    result = CliRunner().invoke(main, ["jma", "replay", *files, "--json"], obj=hub, env={TOKEN_ENV: DEMO_TOKEN})

    assert result.exit_code == 0, result.output
    decisions = json.loads(result.output)
    assert [d["outcome"] for d in decisions] == ["matched", "quarantined", "ignored", "matched"]
    first = decisions[0]
    assert (first["rule"], first["mode"]) == ("奥州市", "actual") and isinstance(first["message_id"], int)
    assert "XML" in decisions[1]["error"]
    assert "VXSE56" in decisions[2]["reason"]
    assert decisions[3]["rules"][0]["action"] == "cancel"

    again = CliRunner().invoke(main, ["jma", "replay", files[0]], obj=hub, env={TOKEN_ENV: DEMO_TOKEN})
    assert "ignored（配信なし）: 処理済み" in again.output
