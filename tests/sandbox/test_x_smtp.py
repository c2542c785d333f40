"""X posts through tweepy, and e-mail through smtplib, against the sandbox."""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage

import pytest
import requests
import tweepy

from channels.clients import make_tweepy_client, smtp_connection
from sandbox import Sandbox, SandboxClient
from sandbox.x_api import weighted_length


def test_tweet_then_delete_is_recorded(x: tweepy.Client, client: SandboxClient) -> None:
    created = x.create_tweet(text="【訓練】津波注意報が発表されました")
    tweet_id = created.data["id"]
    assert created.data["text"] == "【訓練】津波注意報が発表されました"
    [item] = client.inbox(channel="x")
    assert item["to"] == "public" and item["provider_id"] == tweet_id
    assert item["from"] == "1000000000000000001" and item["meta"]["deleted"] is False
    assert x.delete_tweet(tweet_id).data == {"deleted": True}
    [item] = client.inbox(channel="x")
    assert item["meta"]["deleted"] is True and item["meta"]["deleted_at"]
    with pytest.raises(tweepy.errors.NotFound):
        x.delete_tweet(tweet_id)


def test_duplicate_of_live_tweet_is_forbidden(x: tweepy.Client, client: SandboxClient) -> None:
    first = x.create_tweet(text="同じ文面")
    with pytest.raises(tweepy.errors.Forbidden) as caught:
        x.create_tweet(text="同じ文面")
    assert "duplicate content" in str(caught.value)
    x.delete_tweet(first.data["id"])
    x.create_tweet(text="同じ文面")  # allowed again once the original is gone
    assert len(client.inbox(channel="x")) == 2


def test_weighted_length_limit(x: tweepy.Client) -> None:
    assert weighted_length("あ" * 140) == 280
    assert weighted_length("a" * 280) == 280
    assert (
        weighted_length("詳細 https://example.jp/a/very/long/path/that/is/counted/as/twenty-three")
        == 4 + 1 + 23
    )
    x.create_tweet(text="あ" * 140)
    with pytest.raises(tweepy.errors.BadRequest):
        x.create_tweet(text="あ" * 141)


def test_x_faults(x: tweepy.Client, client: SandboxClient) -> None:
    client.inject_fault("x", "429")
    with pytest.raises(tweepy.errors.TooManyRequests) as caught:
        x.create_tweet(text="a")
    assert caught.value.reset_time is not None and caught.value.reset_time > time.time()
    client.inject_fault("x", "500")
    with pytest.raises(tweepy.errors.TwitterServerError):
        x.create_tweet(text="b")
    client.inject_fault("x", "duplicate")
    with pytest.raises(tweepy.errors.Forbidden):
        x.create_tweet(text="c")
    assert client.inbox(channel="x") == []


def test_x_timeout_fault_posts_but_answers_late(sb: Sandbox, client: SandboxClient) -> None:
    impatient = make_tweepy_client("k", "s", "1-t", "ts", sb.http_url, timeout=0.3)
    client.inject_fault("x", "timeout", delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        impatient.create_tweet(text="届いたかどうか")
    with pytest.raises(tweepy.errors.Forbidden):  # the retry learns it was posted after all
        impatient.create_tweet(text="届いたかどうか")


def test_x_requires_oauth(sb: Sandbox) -> None:
    response = requests.post(f"{sb.http_url}/2/tweets", json={"text": "x"}, timeout=5)
    assert response.status_code == 401


def _mail(to: str, subject: str = "【訓練】地震情報") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "bousai@city.example.jp"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("震度５弱の地震がありました。\n")
    message.add_alternative("<p>震度５弱の地震がありました。</p>", subtype="html")
    return message


def test_mail_is_decoded_per_recipient(sb: Sandbox, client: SandboxClient) -> None:
    with smtp_connection("127.0.0.1", sb.smtp_port) as conn:
        conn.send_message(_mail("a@example.jp"), to_addrs=["a@example.jp", "b@example.jp"])
    items = client.inbox(channel="email")
    assert [i["to"] for i in items] == ["a@example.jp", "b@example.jp"]
    item = items[0]
    assert item["subject"] == "【訓練】地震情報"
    assert item["text"] == "震度５弱の地震がありました。\n"
    assert item["html"] is not None and "<p>震度５弱" in item["html"]
    assert item["from"] == "bousai@city.example.jp"
    assert client.inbox(channel="email", to="b@example.jp")[0]["provider_id"] == item["provider_id"]


def test_bounce_addresses_and_550_fault_refuse_recipients(sb: Sandbox, client: SandboxClient) -> None:
    with smtp_connection("127.0.0.1", sb.smtp_port) as conn:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            conn.send_message(_mail("bounce-1@example.jp"))
        assert caught.value.recipients["bounce-1@example.jp"][0] == 550
        client.inject_fault("email", "mailbox_550", match="c@")
        refused = conn.send_message(_mail("c@example.jp"), to_addrs=["c@example.jp", "d@example.jp"])
        assert refused["c@example.jp"][0] == 550
    assert [i["to"] for i in client.inbox(channel="email")] == ["d@example.jp"]


def test_smtp_transient_faults_and_auth(sb: Sandbox, client: SandboxClient) -> None:
    client.inject_fault("email", "429")
    with smtp_connection("127.0.0.1", sb.smtp_port, username="user", password="pass") as conn:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
            conn.send_message(_mail("e@example.jp"))
        assert caught.value.recipients["e@example.jp"][0] == 451
        conn.send_message(_mail("e@example.jp"))
    assert len(client.inbox(channel="email")) == 1


def test_smtp_timeout_fault(sb: Sandbox, client: SandboxClient) -> None:
    client.inject_fault("email", "timeout", delay=1.0)
    conn = smtp_connection("127.0.0.1", sb.smtp_port, timeout=0.3)
    # smtplib reports a timeout after DATA as a disconnect: the hub must treat it as "maybe sent".
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        conn.send_message(_mail("f@example.jp"))
    conn.close()
    assert [i["to"] for i in client.inbox(channel="email")] == ["f@example.jp"]
