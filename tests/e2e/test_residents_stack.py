"""Acceptance through the production path (Celery workers, Redis, PostgreSQL, the sandbox): a LINE
follower picks Vietnamese, 防災 and 奥州市 by pressing quick replies, then receives the 防災 message
for 奥州市 in Vietnamese and nothing of another area or category; a web registration's
confirmation e-mail is sent by a worker (the everyday lane)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select

from hub.compose.messages import LocalText
from hub.demo.seed import seed_demo
from hub.models import Contact
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import csrf
from tests.residents.support import Follower, line_items, texts
from tests.residents.test_line_registration import HANAMAKI, OSHU, _register
from tests.support.hubtools import rows, send, wait_for
from tests.support.worker import WorkerProcess

pytestmark = pytest.mark.slow
USER = "U" + "8" * 32


def test_line_registration_then_a_vietnamese_message_for_the_chosen_area_and_category(
    stack_runtime: Runtime, sandbox_client: SandboxClient, worker_factory: Callable[..., WorkerProcess]
) -> None:
    with stack_runtime.session() as session:
        seed_demo(session, residents=50, staff=5)
    worker_factory(concurrency=2).start()
    follower = Follower(sandbox_client, USER)
    done = _register(follower)
    assert "Tiếng Việt" in texts(done)

    before = len(line_items(sandbox_client, USER))
    vi = LocalText(title="Lệnh sơ tán", body="Hãy sơ tán đến nơi trú ẩn gần nhất.")
    sent = [send(stack_runtime, channels=["line"], audience=f"area:{area}", category_code=category,
                 title="避難指示", body="避難してください。", texts={"vi": vi})
            for area, category in ((OSHU, "bousai"), (HANAMAKI, "bousai"), (OSHU, "kenko"))]

    def settled() -> bool:
        return all(r.state in ("sent", "delivered", "skipped") for m in sent for r in rows(stack_runtime, m)) \
            and all(rows(stack_runtime, m) for m in sent)

    wait_for(settled, timeout=60)
    [received] = line_items(sandbox_client, USER)[before:]
    assert received["text"].startswith("Lệnh sơ tán") and received["meta"]["endpoint"] == "multicast"


def test_web_registration_mail_is_sent_by_a_worker_and_confirms(
    stack_app: Flask, stack_runtime: Runtime, sandbox_client: SandboxClient,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    with stack_runtime.session() as session:
        seed_demo(session, residents=5, staff=1)
    worker_factory(concurrency=1).start()
    client = stack_app.test_client()
    client.get("/register")
    form = {"csrf_token": csrf(client), "email": "worker@mail.example.jp", "category": "bousai", "language": "vi"}
    assert client.post("/register", data=form).status_code == 200
    wait_for(lambda: len(sandbox_client.inbox(channel="email", to="worker@mail.example.jp")) == 1, timeout=30)
    [mail] = sandbox_client.inbox(channel="email", to="worker@mail.example.jp")
    found = re.search(r"/register/confirm/[\w.\-]+", str(mail["text"]))
    assert found
    assert client.post(found.group(0), data={"csrf_token": csrf(client)}).status_code == 200
    with stack_runtime.session() as session:
        contact = session.scalar(select(Contact).where(Contact.email == "worker@mail.example.jp"))
        assert contact is not None and contact.language == "vi" and [c.code for c in contact.categories] == ["bousai"]
