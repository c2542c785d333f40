"""The sandbox's own surface: JSON inbox, faults, stats, the inbox page and the CLI."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner
from linebot.v3.messaging import MessagingApi
from twilio.rest import Client as TwilioClient

from sandbox import Sandbox, SandboxClient, SandboxError
from sandbox.cli import sandbox_cli
from sandbox.faults import parse_fault_spec
from sandbox.server import parse_form
from sandbox.twilio_common import classify_number, sms_segments


def test_inbox_filters_and_limit(twilio: TwilioClient, client: SandboxClient) -> None:
    for n in range(3):
        twilio.messages.create(to="+819011110000", from_="+815000000000", body=f"a{n}")
    twilio.messages.create(to="+819022220000", from_="+815000000000", body="b")
    assert len(client.inbox()) == 4
    assert [i["text"] for i in client.inbox(to="+819011110000")] == ["a0", "a1", "a2"]
    assert [i["text"] for i in client.inbox(channel="sms", limit=2)] == ["a2", "b"]
    assert client.inbox(channel="line") == []
    keys = set(client.inbox()[0])
    assert keys == {"channel", "to", "from", "text", "subject", "html", "provider_id", "received_at", "meta"}


def test_faults_are_listed_cleared_and_validated(client: SandboxClient) -> None:
    client.inject_fault("line", "429", count=3, match="U1")
    [fault] = client.faults()
    assert (fault["channel"], fault["kind"], fault["remaining"], fault["match"]) == ("line", "429", 3, "U1")
    client.clear_faults()
    assert client.faults() == []
    with pytest.raises(SandboxError, match="does not apply"):
        client.inject_fault("email", "queue_full")
    with pytest.raises(SandboxError, match="unknown channel"):
        client.inject_fault("fax", "500")


def test_stats_count_requests_per_endpoint(twilio: TwilioClient, client: SandboxClient) -> None:
    for _ in range(3):
        twilio.messages.create(to="+819011110000", from_="+815000000000", body="x")
    twilio.messages.list(limit=1)
    stats = client.stats()
    assert stats["twilio.messages.create"] == 3 and stats["twilio.messages.list"] == 1
    client.clear()
    assert client.stats().get("twilio.messages.create") is None


def test_inbox_page_is_japanese_and_marks_drills(sb: Sandbox, twilio: TwilioClient) -> None:
    twilio.messages.create(to="+819011110000", from_="+815000000000", body="【訓練】避難指示")
    twilio.messages.create(to="+819011110001", from_="+815000000000", body="<script>alert(1)</script>")
    page = requests.get(f"{sb.http_url}/sandbox/?channel=sms", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "サンドボックス（実際には送信されていません）" in html
    assert 'class="item drill"' in html and "【訓練】避難指示" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_unknown_paths_and_methods(sb: Sandbox) -> None:
    assert requests.get(f"{sb.http_url}/v2/bot/nothing", timeout=5).status_code == 404
    assert requests.put(f"{sb.http_url}/v2/bot/message/push", timeout=5).status_code == 405


def test_stop_and_restart_on_the_same_instance() -> None:
    sandbox = Sandbox()
    with sandbox:
        url = sandbox.http_url
        assert SandboxClient(url).health()["smtp_port"] == sandbox.smtp_port
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{url}/sandbox/health", timeout=2)


def test_cli_against_a_running_sandbox(sb: Sandbox, twilio: TwilioClient) -> None:
    runner = CliRunner()
    twilio.messages.create(to="+819011110000", from_="+815000000000", body="【訓練】CLI")
    result = runner.invoke(sandbox_cli, ["inbox", "--channel", "sms", "--url", sb.http_url])
    assert result.exit_code == 0 and "【訓練】CLI" in result.output and "[訓練]" in result.output
    result = runner.invoke(sandbox_cli, ["inbox", "--json"], env={"HUB_SANDBOX_URL": sb.http_url})
    assert result.exit_code == 0 and '"provider_id"' in result.output
    result = runner.invoke(sandbox_cli, ["fault", "sms", "500", "--count", "2", "--url", sb.http_url])
    assert result.exit_code == 0 and sb.ctx.faults.list()[0]["count"] == 2
    result = runner.invoke(sandbox_cli, ["clear", "--url", sb.http_url])
    assert result.exit_code == 0 and sb.inbox() == [] and sb.ctx.faults.list() == []
    result = runner.invoke(sandbox_cli, ["inbox", "--url", "http://127.0.0.1:9"])
    assert result.exit_code != 0 and "cannot reach the sandbox" in result.output
    assert runner.invoke(sandbox_cli, ["run", "--help"]).exit_code == 0


def test_helpers() -> None:
    assert parse_fault_spec("sms:429:3") == ("sms", "429", 3)
    assert parse_fault_spec("email:mailbox_550") == ("email", "mailbox_550", 1)
    with pytest.raises(ValueError):
        parse_fault_spec("sms")
    assert classify_number("+819012345678") == "mobile"
    assert classify_number("+816012345678") == "mobile"
    assert classify_number("+81312345678") == "other"
    assert classify_number("+14155552345") == "mobile"  # US numbers can be either: Twilio accepts
    assert sms_segments("€" * 80) == ("GSM-7", 1)
    assert sms_segments("€" * 81) == ("GSM-7", 2)  # escape characters count twice
    assert sms_segments("😀" * 35) == ("UCS-2", 1)  # surrogate pairs count as two units
    body = b"To=%2B8190&Body=%E3%80%90%E8%A8%93%E7%B7%B4%E3%80%91+a%26b&Empty="
    assert parse_form(body) == {"To": ["+8190"], "Body": ["【訓練】 a&b"], "Empty": [""]}


def test_a_storm_fault_hits_about_its_share_of_requests_until_cleared(
    twilio: TwilioClient, client: SandboxClient
) -> None:
    client.inject_fault("sms", "500", probability=0.3)
    failed = 0
    for n in range(200):
        try:
            twilio.messages.create(to=f"+8190{30000000 + n}", from_="+815000000000", body="storm")
        except Exception:
            failed += 1
    assert 30 <= failed <= 90, failed  # 60 expected; independent per request
    assert client.faults()[0]["probability"] == 0.3
    client.clear_faults()
    twilio.messages.create(to="+819039999999", from_="+815000000000", body="calm")
    with pytest.raises(SandboxError, match="probability"):
        client.inject_fault("sms", "500", probability=1.5)


def test_inbox_page_shows_a_line_messages_buttons(sb: Sandbox, line: MessagingApi) -> None:
    """What a resident would see under the message: a survey's choices are part of what was sent."""
    from linebot.v3.messaging import (
        MulticastRequest,
        PostbackAction,
        QuickReply,
        QuickReplyItem,
        TextMessage,
    )

    buttons = QuickReply(items=[QuickReplyItem(action=PostbackAction(label=label, data=f"ans:1:{key}",
                                                                     display_text=f"{key}:{label}"))
                                for key, label in (("1", "はい"), ("2", "<b>いいえ</b>"))])
    line.multicast(MulticastRequest(to=["U" + "1" * 32], messages=[
        TextMessage(text="避難していますか", quick_reply=buttons)]))
    html = requests.get(f"{sb.http_url}/sandbox/?channel=line", timeout=5).text
    assert '<div class="buttons" aria-label="ボタン"><span>はい</span><span>&lt;b&gt;いいえ&lt;/b&gt;</span></div>' in html
