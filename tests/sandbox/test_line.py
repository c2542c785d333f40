"""LINE Messaging API through line-bot-sdk v3, and webhook emission checked by its parser."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
import urllib3
from linebot.v3 import WebhookParser
from linebot.v3.messaging import (
    ApiException,
    BroadcastRequest,
    ButtonsTemplate,
    MessagingApi,
    MulticastRequest,
    NarrowcastRequest,
    PostbackAction,
    PushMessageRequest,
    ReplyMessageRequest,
    TemplateMessage,
    TextMessage,
)
from linebot.v3.webhooks import FollowEvent, PostbackEvent

from channels.clients import make_line_api
from sandbox import SANDBOX_LINE_ACCESS_TOKEN, SANDBOX_LINE_CHANNEL_SECRET, Sandbox, SandboxClient
from tests.sandbox.conftest import Receiver

USER = "U" + "1" * 32


def user(number: int) -> str:
    return f"U{number:032x}"


def test_push_returns_sent_messages_and_request_id(line: MessagingApi, client: SandboxClient) -> None:
    response = line.push_message_with_http_info(
        PushMessageRequest(to=USER, messages=[TextMessage(text="【訓練】避難所開設")])
    )
    assert response.status_code == 200
    request_id = response.headers["x-line-request-id"]
    [sent] = response.data.sent_messages
    assert sent.id.isdigit() and sent.quote_token
    [item] = client.inbox(channel="line", to=USER)
    assert item["text"] == "【訓練】避難所開設"
    assert item["provider_id"] == request_id and item["meta"]["request_id"] == request_id
    assert item["meta"]["sent_message_ids"] == [sent.id]


def test_multicast_to_500_users_makes_500_copies(line: MessagingApi, client: SandboxClient) -> None:
    users = [user(n) for n in range(500)]
    key = str(uuid.uuid4())
    response = line.multicast_with_http_info(
        MulticastRequest(to=users, messages=[TextMessage(text="断水のお知らせ")]), x_line_retry_key=key
    )
    assert response.status_code == 200
    items = client.inbox(channel="line")
    assert sorted(i["to"] for i in items) == sorted(users)
    assert {i["meta"]["retry_key"] for i in items} == {key}
    assert {i["meta"]["request_id"] for i in items} == {response.headers["x-line-request-id"]}
    assert client.stats()["line.multicast"] == 1


def test_retry_key_already_accepted_gets_409_and_no_second_copy(
    line: MessagingApi, client: SandboxClient
) -> None:
    key = str(uuid.uuid4())
    request = MulticastRequest(to=[user(1), user(2)], messages=[TextMessage(text="一回だけ")])
    first = line.multicast_with_http_info(request, x_line_retry_key=key)
    with pytest.raises(ApiException) as caught:
        line.multicast(request, x_line_retry_key=key)
    assert caught.value.status == 409
    assert caught.value.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert "already accepted" in caught.value.body
    assert len(client.inbox(channel="line")) == 2
    client.clear()  # clearing forgets retry keys too
    line.multicast(request, x_line_retry_key=key)
    assert len(client.inbox(channel="line")) == 2


def test_failed_request_does_not_burn_the_retry_key(line: MessagingApi, client: SandboxClient) -> None:
    key = str(uuid.uuid4())
    client.inject_fault("line", "500")
    request = PushMessageRequest(to=USER, messages=[TextMessage(text="再送")])
    with pytest.raises(ApiException) as caught:
        line.push_message(request, x_line_retry_key=key)
    assert caught.value.status == 500
    line.push_message(request, x_line_retry_key=key)
    assert len(client.inbox(channel="line")) == 1


def test_buttons_template_is_stored_with_full_json(line: MessagingApi, client: SandboxClient) -> None:
    template = TemplateMessage(
        alt_text="安否確認",
        template=ButtonsTemplate(
            text="無事ですか？",
            actions=[PostbackAction(label="確認しました", data="ack=tok123", display_text="確認しました")],
        ),
    )
    line.push_message(PushMessageRequest(to=USER, messages=[template]))
    [item] = client.inbox(channel="line")
    assert item["text"] == "安否確認\n無事ですか？"
    action = item["meta"]["messages"][0]["template"]["actions"][0]
    assert action == {
        "type": "postback",
        "label": "確認しました",
        "data": "ack=tok123",
        "displayText": "確認しました",
    }


def test_validation_errors_use_line_format(sb: Sandbox, client: SandboxClient) -> None:
    headers = {"Authorization": f"Bearer {SANDBOX_LINE_ACCESS_TOKEN}"}
    body: dict[str, Any] = {"to": USER, "messages": [{"type": "text", "text": "あ" * 5001}]}
    response = requests.post(f"{sb.http_url}/v2/bot/message/push", json=body, headers=headers, timeout=5)
    assert response.status_code == 400
    assert response.json()["details"] == [
        {"message": "Length must be between 1 and 5000", "property": "messages[0].text"}
    ]
    assert response.headers["x-line-request-id"]
    body = {"to": ["not-a-user"], "messages": [{"type": "text", "text": "x"}] * 6}
    response = requests.post(f"{sb.http_url}/v2/bot/message/multicast", json=body, headers=headers, timeout=5)
    assert {d["property"] for d in response.json()["details"]} == {"to[0]", "messages"}
    assert client.inbox() == []


def test_bad_token_is_401(sb: Sandbox) -> None:
    api = make_line_api("wrong-token", sb.http_url, timeout=5.0)
    with pytest.raises(ApiException) as caught:
        api.push_message(PushMessageRequest(to=USER, messages=[TextMessage(text="x")]))
    assert caught.value.status == 401


def test_broadcast_narrowcast_progress_and_quota(line: MessagingApi, client: SandboxClient) -> None:
    line.broadcast(BroadcastRequest(messages=[TextMessage(text="全員へ")]))
    response = line.narrowcast_with_http_info(NarrowcastRequest(messages=[TextMessage(text="一部へ")]))
    assert response.status_code == 202
    progress = line.get_narrowcast_progress(request_id=response.headers["x-line-request-id"])
    assert progress.phase == "succeeded"
    assert [i["to"] for i in client.inbox(channel="line")] == ["broadcast", "narrowcast"]
    assert line.get_message_quota().type == "none"
    assert line.get_message_quota_consumption().total_usage == 2


@pytest.mark.parametrize(("kind", "status"), [("429", 429), ("500", 500), ("duplicate", 409)])
def test_line_faults_surface_as_api_exceptions(
    line: MessagingApi, client: SandboxClient, kind: str, status: int
) -> None:
    client.inject_fault("line", kind)
    with pytest.raises(ApiException) as caught:
        line.push_message(PushMessageRequest(to=USER, messages=[TextMessage(text="x")]))
    assert caught.value.status == status
    assert client.inbox() == []


def test_timeout_fault_is_a_urllib3_timeout(sb: Sandbox, client: SandboxClient) -> None:
    api = make_line_api(SANDBOX_LINE_ACCESS_TOKEN, sb.http_url, timeout=0.3)
    client.inject_fault("line", "timeout", delay=1.0)
    key = str(uuid.uuid4())
    request = PushMessageRequest(to=USER, messages=[TextMessage(text="遅い")])
    with pytest.raises(urllib3.exceptions.TimeoutError):
        api.push_message(request, x_line_retry_key=key)
    # Retrying with the same key is safe: it was accepted, so LINE answers 409 instead of re-sending.
    with pytest.raises(ApiException) as caught:
        api.push_message(request, x_line_retry_key=key)
    assert caught.value.status == 409
    assert len(client.inbox(channel="line")) == 1


def test_emitted_webhook_events_parse_with_the_sdk(client: SandboxClient, receiver: Receiver) -> None:
    client.set_line_webhook_url(f"{receiver.url}/line/webhook")
    result = client.emit_line_event({"type": "follow", "source": {"type": "user", "userId": USER}})
    assert result["status"] == 200
    client.emit_line_event(
        {"type": "postback", "source": {"type": "user", "userId": USER}, "postback": {"data": "ack=tok123"}}
    )
    parser = WebhookParser(SANDBOX_LINE_CHANNEL_SECRET)
    parsed = []
    for request in receiver.wait_for(2):
        assert request.path == "/line/webhook"
        parsed += parser.parse(request.body.decode("utf-8"), request.headers["X-Line-Signature"])
    follow, postback = parsed
    assert isinstance(follow, FollowEvent) and follow.source.user_id == USER
    assert isinstance(postback, PostbackEvent) and postback.postback.data == "ack=tok123"


def test_a_reply_token_answers_its_own_event_once(
    line: MessagingApi, client: SandboxClient, receiver: Receiver
) -> None:
    client.set_line_webhook_url(f"{receiver.url}/line/webhook")
    client.emit_line_event({"type": "follow", "source": {"type": "user", "userId": USER}})
    [request] = receiver.wait_for(1)
    [follow] = WebhookParser(SANDBOX_LINE_CHANNEL_SECRET).parse(
        request.body.decode("utf-8"), request.headers["X-Line-Signature"])
    reply = ReplyMessageRequest(reply_token=follow.reply_token, messages=[TextMessage(text="ようこそ")])
    [sent] = line.reply_message(reply).sent_messages
    [item] = client.inbox(channel="line", to=USER)
    assert (item["text"], item["meta"]["endpoint"], item["meta"]["sent_message_ids"]) == ("ようこそ", "reply", [sent.id])
    for token in (follow.reply_token, "0f3779fba3b349968c5d07db31eab56f"):  # used up; never issued
        with pytest.raises(ApiException) as refused:
            line.reply_message(ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="x")]))
        assert refused.value.status == 400 and "Invalid reply token" in str(refused.value.body)
    assert len(client.inbox(channel="line")) == 1


def test_emitting_without_webhook_url_is_an_error(client: SandboxClient) -> None:
    with pytest.raises(RuntimeError, match="webhook"):
        client.emit_line_event({"type": "follow"})
