"""``hub rules``, ``hub templates`` and ``hub jma poll/status`` as an operator uses them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import select

from hub.accounts import issue_token
from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.demo.seed import DEMO_TOKEN
from hub.models import AuditLog, Operator
from hub.runtime import Runtime
from hub.templating import jst
from tests.conftest import _empty
from tests.triggers.feedserver import FeedServer
from tests.triggers.support import QUAKE_6PLUS, jma_name, prepare, raw

RULES_YAML = """\
rules:
  - name: 奥州市 震度5弱以上
    when: earthquake
    municipalities: ["0321500"]
    min_intensity: 5弱
    template: jma-earthquake
    audience: all
    channels: all
  - name: 奥州市 土砂・大雨 レベル4
    when: warning
    hazards: [大雨, 土砂災害]
    municipalities: ["0321500"]
    min_level: 4
    template: jma-evacuation-level4
    audience: area:0321500
    channels: [sms, email, line, voice]
    hold_minutes: 5
    approval: required
  - name: 奥州市 レベル4 解除
    when: warning
    on: [cleared]
    hazards: [大雨]
    municipalities: ["0321500"]
    min_level: 4
    template: jma-cleared
    audience: area:0321500
    channels: [sms]
"""
RULES_TOML = """\
[[rules]]
name = "奥州市 警報 解除"
when = "warning"
on = ["cleared"]
hazards = ["大雨", "土砂災害"]
municipalities = ["0321500"]
min_level = 4
template = "jma-cleared"
audience = "area:0321500"
channels = ["sms", "line"]
"""


@pytest.fixture
def database_url(sqlite_url: str) -> Iterator[str]:
    """Command-line behaviour does not depend on the database: SQLite alone keeps it fast."""
    _empty(sqlite_url)
    yield sqlite_url


@pytest.fixture
def hub(app: Flask) -> HubContext:
    context = HubContext()
    context._app = app
    return context


def run(hub: HubContext, *args: str, token: str = DEMO_TOKEN) -> Result:
    """As the demo admin by default: rules and templates are administration."""
    return CliRunner().invoke(main, list(args), obj=hub, env={TOKEN_ENV: token})


def test_rules_load_list_remove(hub: HubContext, runtime: Runtime, tmp_path: Path) -> None:
    prepare(runtime, residents=5, staff=1)
    (tmp_path / "rules.yaml").write_text(RULES_YAML, encoding="utf-8")
    (tmp_path / "rules.toml").write_text(RULES_TOML, encoding="utf-8")

    assert "追加: 奥州市 震度5弱以上" in run(hub, "rules", "load", str(tmp_path / "rules.yaml")).output
    assert "追加: 奥州市 警報 解除" in run(hub, "rules", "load", str(tmp_path / "rules.toml")).output
    assert "変更なし" in run(hub, "rules", "load", str(tmp_path / "rules.yaml")).output

    rules = json.loads(run(hub, "rules", "list", "--json").output)
    names = ["奥州市 震度5弱以上", "奥州市 土砂・大雨 レベル4", "奥州市 レベル4 解除", "奥州市 警報 解除"]
    assert [r["name"] for r in rules] == names
    first, second, yaml_clear, third = rules
    assert yaml_clear["on"] == ["cleared"]  # a bare YAML ``on:`` key is not read as true
    assert first["min_intensity"] == "5-" and first["on"] == ["observed"]
    assert sorted(first["channels"]) == ["email", "line", "rss", "sms", "voice", "x"]
    assert (second["approval"], second["hold_minutes"], second["on"]) == ("required", 5, ["issued", "upgraded"])
    assert third["on"] == ["cleared"] and third["scheme"] == "r06"

    assert "削除しました" in run(hub, "rules", "remove", "奥州市 警報 解除").output
    assert len(json.loads(run(hub, "rules", "list", "--json").output)) == 3


def test_rule_mistakes_are_explained_in_japanese(hub: HubContext, runtime: Runtime, tmp_path: Path) -> None:
    prepare(runtime, residents=5, staff=1)
    path = tmp_path / "bad.yaml"
    for text, expected in [
        (RULES_YAML.replace('"0321500"]\n    min_intensity', '"321500"]\n    min_intensity'), "7桁"),
        (RULES_YAML.replace("5弱", "5.5"), "震度"),
        (RULES_YAML.replace("jma-earthquake", "no-such"), "テンプレート「no-such」がありません"),
        (RULES_YAML.replace("channels: all", "channels: [fax]"), "チャネル fax"),
        (RULES_YAML.replace("hazards: [大雨, 土砂災害]", "hazards: [台風]"), "現象 台風"),
        (RULES_YAML.replace("audience: all", "audience: everybody"), "宛先"),
    ]:
        path.write_text(text, encoding="utf-8")
        result = run(hub, "rules", "load", str(path))
        assert result.exit_code != 0 and expected in result.output, (expected, result.output)
    assert json.loads(run(hub, "rules", "list", "--json").output) == []  # nothing half-stored


def test_rules_add_and_templates(hub: HubContext, runtime: Runtime) -> None:
    prepare(runtime, residents=5, staff=1)
    result = run(hub, "rules", "add", "--name", "浅間山", "--when", "volcano", "--volcanoes", "306",
                 "--min-level", "3", "--template", "jma-volcano", "--channels", "sms,line")
    assert result.exit_code == 0 and "追加: 浅間山" in result.output
    assert "jma-volcano: 噴火警報" in run(hub, "templates", "list").output
    assert "変更なし: jma-earthquake" in run(hub, "templates", "load").output


def test_only_an_admin_changes_rules_and_templates_and_each_change_is_audited(
        hub: HubContext, runtime: Runtime, tmp_path: Path) -> None:
    """A rule sends live alerts later with nobody at the desk: a sender may not write one."""
    prepare(runtime, residents=5, staff=1)
    (tmp_path / "rules.yaml").write_text(RULES_YAML, encoding="utf-8")
    with runtime.session() as session:
        sender = session.scalar(select(Operator).where(Operator.username == "bousai1"))
        assert sender is not None
        sender_token = issue_token(session, sender, "cli", expires_at=None, actor="test")
    for args in (("rules", "load", str(tmp_path / "rules.yaml")), ("templates", "load"),
                 ("rules", "add", "--name", "x", "--when", "volcano", "--volcanoes", "306",
                  "--template", "jma-volcano")):
        refused = run(hub, *args, token=sender_token)
        assert refused.exit_code != 0 and "権限" in refused.output, args
        assert run(hub, *args, token="").exit_code != 0
    assert json.loads(run(hub, "rules", "list", "--json").output) == []

    assert run(hub, "rules", "load", str(tmp_path / "rules.yaml")).exit_code == 0
    assert run(hub, "rules", "remove", "奥州市 震度5弱以上").exit_code == 0
    with runtime.session() as session:
        entries = [(a.actor, a.action) for a in session.scalars(
            select(AuditLog).where(AuditLog.action.like("rule.%")).order_by(AuditLog.id))]
    assert entries.count(("admin", "rule.create")) == 3 and entries[-1] == ("admin", "rule.remove")


def test_poll_once_and_status(hub: HubContext, runtime: Runtime) -> None:
    prepare(runtime, residents=5, staff=1)
    with FeedServer() as feeds:
        feeds.publish(jma_name("20080613234700", "VXSE53"), raw(QUAKE_6PLUS))
        polled = run(hub, "jma", "poll", "--once", "--feed", feeds.feed_url(), "--json")
        assert polled.exit_code == 0, polled.output
        summary = json.loads(polled.output)
        assert summary["feeds"][0]["status"] == "ok" and summary["decisions"][0]["outcome"] == "ignored"

        status = run(hub, "jma", "status", "--json")
        assert status.exit_code == 0
        data = json.loads(status.output)
        assert data["feeds"][0]["silent"] is False and data["feeds"][0]["entries_seen"] == 1
        # JSON carries the time itself (for scripts); the text says it in Japan time, in words.
        last_success = datetime.fromisoformat(data["feeds"][0]["last_success_at"])
        text = run(hub, "jma", "status").output
        assert "[正常]" in text and f"最終成功={jst(last_success)}" in text and "時" in jst(last_success)
