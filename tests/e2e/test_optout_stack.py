"""Opt-out through the production path: real Celery workers, Redis, PostgreSQL, the sandbox.

A town's residents get an alert by SMS and e-mail; one texts 停止 (twice, and Twilio retries the
webhook), another presses the mail client's one-click unsubscribe. The next alert reaches
everyone else and neither of them; the SMS stop was confirmed exactly once.
"""

from __future__ import annotations

import re

import pytest
import requests

from hub.demo.seed import seed_demo
from hub.models import Consent, Contact
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import counts, rows, send, wait_for
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow


def _finished(runtime: Runtime, message_id: int) -> bool:
    c = counts(runtime, message_id)
    return sum(sum(v.values()) for v in c.values()) > 0 and all(v["pending"] == 0 for v in c.values())


def _a_resident_with(runtime: Runtime, channel: str, field: str) -> str:
    with runtime.session() as session:
        address = session.query(getattr(Contact, field)).join(Consent).filter(
            Contact.kind == "resident", Consent.channel == channel, Consent.revoked_at.is_(None),
            getattr(Contact, field).is_not(None)).order_by(Contact.id).first()
        assert address is not None
        return str(address[0])


def test_sms_stop_and_one_click_unsubscribe_hold_through_real_workers(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: type[WorkerProcess]
) -> None:
    with stack_runtime.session() as session:
        seed_demo(session, residents=60, staff=0)
    sandbox_client.set_sms_url(f"{stack_runtime.settings.public_url}/callbacks/twilio/sms")
    worker_factory().start()
    first = send(stack_runtime, channels=["sms", "email"], title="断水", body="本日14時から断水します。")
    wait_for(lambda: _finished(stack_runtime, first), timeout=120, interval=0.5)

    phone = _a_resident_with(stack_runtime, "sms", "phone")
    [alert] = sandbox_client.inbox("sms", to=phone)
    stop = sandbox_client.send_sms(phone, alert["from"], "停止")
    assert len(stop["replies"]) == 1
    assert sandbox_client.send_sms(phone, alert["from"], "停止", sid=stop["sid"])["replies"] == []  # a retry
    assert sandbox_client.send_sms(phone, alert["from"], "配信停止")["replies"] == []  # said twice

    mailbox = _a_resident_with(stack_runtime, "email", "email")
    [mail] = sandbox_client.inbox("email", to=mailbox)
    headers = dict(mail["meta"]["headers"])
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(\S+)>", headers["List-Unsubscribe"])
    assert link is not None
    assert requests.post(link.group(1), data={"List-Unsubscribe": "One-Click"}, timeout=10).status_code == 200

    sms_before = len(sandbox_client.inbox("sms"))
    mail_before = len(sandbox_client.inbox("email"))
    second = send(stack_runtime, channels=["sms", "email"], title="断水の解除", body="断水は解除されました。")
    wait_for(lambda: _finished(stack_runtime, second), timeout=120, interval=0.5)

    skipped = {(r.channel, r.address) for r in rows(stack_runtime, second) if r.reason == "opted_out"}
    assert skipped == {("sms", phone), ("email", mailbox)}
    reached = [r for r in rows(stack_runtime, second) if r.state in ("sent", "delivered")]
    assert len(sandbox_client.inbox("sms")) - sms_before == sum(r.channel == "sms" for r in reached) > 0
    assert len(sandbox_client.inbox("email")) - mail_before == sum(r.channel == "email" for r in reached) > 0
    texts_to_phone = [item["text"] for item in sandbox_client.inbox("sms", to=phone)]
    assert len(texts_to_phone) == 2 and "配信停止を受け付けました" in texts_to_phone[1]  # alert + one confirmation
    assert len(sandbox_client.inbox("email", to=mailbox)) == 1
