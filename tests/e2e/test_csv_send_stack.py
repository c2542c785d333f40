"""Acceptance through the production path (a Celery worker, Redis, PostgreSQL, the sandbox): a
personalised CSV send reaches each person with their own text, on SMS and as one LINE push each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from hub.config import Settings
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.notices.support import csv_bytes, request, send
from tests.support.hubtools import rows, wait_for
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow
LINE_USER = "U" + "c" * 32


@pytest.fixture
def stack_settings(stack_settings: Settings) -> Settings:
    return replace(stack_settings, quiet_hours="")  # the test runs at any hour of the real clock


def test_a_personalised_send_through_a_worker(stack_runtime: Runtime, sandbox_client: SandboxClient,
                                              worker_factory: Callable[..., WorkerProcess]) -> None:
    worker_factory(concurrency=2).start()
    data = csv_bytes(["phone,line_user_id,氏名,consent", "090-1234-0101,,山田,all",
                      f"090-1234-0102,{LINE_USER},佐藤,all"])
    sandbox_client.clear()
    _send_id, [message_id] = send(stack_runtime, request(data, channels=["sms", "line"], body="{{氏名}}様へ"))

    def settled() -> bool:
        found = rows(stack_runtime, message_id)
        return len(found) == 3 and all(r.state in ("sent", "delivered") for r in found)

    wait_for(settled, timeout=60)
    sms = {i["to"]: i["text"] for i in sandbox_client.inbox(channel="sms")}
    assert sms == {"+819012340101": "健診のご案内\n山田様へ", "+819012340102": "健診のご案内\n佐藤様へ"}
    [line] = sandbox_client.inbox(channel="line")
    assert line["to"] == LINE_USER and line["text"].startswith("健診のご案内\n佐藤様へ")
    assert line["meta"]["endpoint"] == "push"
