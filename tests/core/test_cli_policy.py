"""Issue 9 through the CLI (``HUB_TOKEN`` names the operator): the same policy as the API, every
refusal a non-zero exit with a clear message and no rows changed."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from flask import Flask

from hub.cli import main
from hub.cli.context import TOKEN_ENV, HubContext
from hub.models import Delivery, Message
from tests.api.policy_support import audit_actions, count, seed_operators, snapshot
from tests.api.support import TOKENS, seed

SEND = ("send", "--title", "避難指示", "--body", "高台へ避難してください。", "--channels", "sms,email",
        "--audience", "residents")


@pytest.fixture
def team(app: Flask) -> Flask:
    seed(app)
    seed_operators(app)
    return app


def hub(app: Flask, who: str, *args: str) -> tuple[int, str]:
    context = HubContext()
    context._app = app
    token = TOKENS.get(who, f"{who}-token")
    result = CliRunner().invoke(main, list(args), obj=context, env={TOKEN_ENV: token})
    return result.exit_code, result.output


def sent_message(app: Flask) -> int:
    """A live message of 防災 that went out: sent by bousai1, approved by bousai2."""
    code, out = hub(app, "bousai1", *SEND, "--mode", "actual", "--json")
    assert code == 0, out
    message_id = int(json.loads(out)["message_id"])
    code, out = hub(app, "bousai2", "approve", str(message_id), "--json")
    assert code == 0, out
    return message_id


def _state(app: Flask, message_id: int) -> str:
    with app.extensions["hub"].session() as s:
        message = s.get(Message, message_id)
        assert message is not None
        return message.state


def test_send_without_category_waits_for_a_second_person(team: Flask) -> None:
    code, out = hub(team, "bousai1", *SEND, "--mode", "actual", "--json")
    assert code == 0, out
    message_id = json.loads(out)["message_id"]
    assert _state(team, message_id) == "awaiting_approval"
    assert count(team, Delivery, Delivery.message_id == message_id) == 0


def test_viewer_cannot_send(team: Flask) -> None:
    before = snapshot(team)
    code, out = hub(team, "viewer", *SEND, "--mode", "exercise")
    assert code == 1 and "権限" in out
    assert snapshot(team) == before


def test_follow_ups_obey_the_original_department_and_the_approval_rule(team: Flask) -> None:
    original = sent_message(team)
    before = snapshot(team)
    for command in (("cancel", str(original)), ("correct", str(original), "--body", "訂正します")):
        code, out = hub(team, "kenko1", *command)
        assert code == 1 and "他の部署" in out, command
    assert snapshot(team) == before

    code, out = hub(team, "bousai1", "correct", str(original), "--body", "避難先は第二小学校です。", "--json")
    assert code == 0, out
    corrected = json.loads(out)
    assert corrected["msg_type"] == "update" and _state(team, corrected["message_id"]) == "awaiting_approval"
    assert count(team, Delivery, Delivery.message_id == corrected["message_id"]) == 0

    second = sent_message(team)
    code, out = hub(team, "bousai1", "cancel", str(second), "--body", "誤りでした。別途お知らせします。", "--json")
    assert code == 0 and json.loads(out)["state"] == "awaiting_approval", out
    third = sent_message(team)
    code, out = hub(team, "bousai1", "cancel", str(third), "--json")
    assert code == 0, out
    cancel = json.loads(out)
    assert cancel["state"] in ("queued", "done") and cancel["msg_type"] == "cancel"
    assert count(team, Delivery, Delivery.message_id == cancel["message_id"]) > 0, "the prepared text went at once"


def test_override_only_for_its_holder_and_with_a_reason(team: Flask) -> None:
    before = snapshot(team)
    code, out = hub(team, "bousai1", *SEND, "--mode", "actual", "--override", "--reason", "緊急")
    assert code == 1 and "オーバーライド" in out
    code, out = hub(team, "hero", *SEND, "--mode", "actual", "--override")
    assert code == 2 and "--reason" in out
    assert snapshot(team) == before
    code, out = hub(team, "hero", *SEND, "--mode", "actual", "--override", "--reason", "承認者不在", "--json")
    assert code == 0, out
    assert json.loads(out)["state"] in ("queued", "done")
    [entry] = audit_actions(team, "message.override")
    assert entry.detail["reason"] == "承認者不在"


def test_viewer_exports_masked_addresses(team: Flask) -> None:
    message_id = sent_message(team)
    code, full = hub(team, "bousai1", "export", "deliveries", str(message_id))
    assert code == 0
    code, masked = hub(team, "viewer", "export", "deliveries", str(message_id))
    assert code == 0
    addresses = [r["address"] for r in csv.DictReader(io.StringIO(full.lstrip("\ufeff")))]
    hidden = [r["address"] for r in csv.DictReader(io.StringIO(masked.lstrip("\ufeff")))]
    assert addresses and len(hidden) == len(addresses) and set(hidden).isdisjoint(addresses)
    code, out = hub(team, "kenko1", "status", str(message_id))
    assert code == 1 and "権限" in out


def test_callouts_are_bounded_and_limited_to_callable_departments(team: Flask) -> None:
    before = snapshot(team)
    start = ("callout", "start", "--survey", "anpi", "--mode", "exercise", "--steps", "line,email")
    code, out = hub(team, "bousai1", *start, "--departments", "kenko")
    assert code == 1 and "権限" in out
    code, out = hub(team, "bousai1", *start, "--departments", "bousai", "--cycles", "10")
    assert code == 1 and "繰り返し回数" in out
    code, out = hub(team, "bousai1", *start, "--departments", "bousai", "--interval", "10s")
    assert code == 1 and "間隔" in out
    assert snapshot(team) == before
    code, out = hub(team, "bousai1", *start, "--departments", "bousai", "--json")
    assert code == 0, out
    callout_id = json.loads(out)["callout"]["id"]
    code, out = hub(team, "kenko1", "callout", "close", str(callout_id))
    assert code == 1 and "権限" in out
    code, out = hub(team, "kenko1", "callout", "status", str(callout_id))
    assert code == 1 and "権限" in out
    code, out = hub(team, "bousai1", "callout", "close", str(callout_id))
    assert code == 0, out


def test_only_an_approver_of_the_messages_department_approves_or_rejects_from_the_cli(team: Flask) -> None:
    code, out = hub(team, "bousai1", *SEND, "--mode", "actual", "--json")
    message_id = str(json.loads(out)["message_id"])
    for who, command in (("kenko2", "approve"), ("kenko2", "reject"), ("roamer", "approve")):
        code, out = hub(team, who, command, message_id, *(("--reason", "不要") if command == "reject" else ()))
        assert code != 0 and "権限がありません" in out, (who, command, out)
        assert _state(team, int(message_id)) == "awaiting_approval"
    code, out = hub(team, "bousai2", "reject", message_id, "--reason", "文面を見直してください")
    assert code == 0 and "却下しました" in out
    assert _state(team, int(message_id)) == "withdrawn"
