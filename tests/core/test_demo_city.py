"""`hub demo`'s city: its operators are staff with a LINE account and an e-mail address, so a message
waiting for approval reaches the approver in the sandbox's inbox, as it would in a real city."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from hub.demo.seed import give_operators_contacts, seed_demo
from hub.models import Contact, Operator
from sandbox import SandboxClient


def test_a_waiting_message_reaches_the_demo_approver(app: Flask, sandbox_client: SandboxClient) -> None:
    runtime = app.extensions["hub"]
    with runtime.session() as s:
        seed_demo(s, residents=10, staff=12)
        give_operators_contacts(s)
        give_operators_contacts(s)  # `hub seed` run twice changes nothing
        approver = s.scalar(select(Contact).join(Operator, Operator.contact_id == Contact.id)
                            .where(Operator.username == "bousai2"))
        assert approver is not None and approver.name == "防災 花子"
        reached = {approver.email, approver.line_user_id}
        linked = s.scalars(select(Operator.contact_id).where(Operator.contact_id.is_not(None))).all()
        assert len(linked) == len(set(linked)) == 3
        assert approver.email and approver.line_user_id
    sandbox_client.clear()
    created = app.test_client().post(
        "/api/v1/messages", headers={"Authorization": "Bearer demo-token"},
        json={"title": "避難所の開設", "body": "避難所を開設しました。", "channels": ["sms", "email"],
              "audience": "residents", "mode": "actual", "category": "bousai"})
    assert created.status_code == 201 and created.json is not None, created.get_data(as_text=True)
    assert created.json["state"] == "awaiting_approval"
    link = f"/messages/{created.json['message_id']}"
    notices = [i for channel in ("line", "email") for i in sandbox_client.inbox(channel)
               if i["to"] in reached]
    assert {i["channel"] for i in notices} == {"line", "email"}
    assert all("承認を待っています" in i["text"] and link in i["text"] for i in notices)
