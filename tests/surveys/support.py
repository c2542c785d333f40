"""Residents in two areas, a survey sent to them through the API, and the ways they answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from hub.models import Area, Category, Consent, Contact, ContactKind, Message, utcnow
from hub.residents.inbound import InboundSms, reply_for
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.api.support import bearer, body, create_approved

OSHU, HANAMAKI = "0321500", "0320500"  # the demo city's areas (奥州市, 花巻市)
QUESTION = {"text": "避難していますか", "choices": ["はい", "いいえ"]}
DEPARTMENT_NUMBER = "+815011110001"  # the 防災 department's SMS number


@dataclass(frozen=True)
class Resident:
    contact_id: int
    name: str
    phone: str | None
    line: str | None


def add_residents(runtime: Runtime, specs: list[dict[str, Any]]) -> dict[str, Resident]:
    """``{"name", "area" (or "areas"), "categories", "phone", "line", "email"}`` each, consenting on their
    channels."""
    out = {}
    with runtime.session() as s:
        areas = {a.code: a for a in s.scalars(select(Area))}
        categories = {c.code: c for c in s.scalars(select(Category))}
        for spec in specs:
            contact = Contact(kind=ContactKind.RESIDENT, name=spec["name"], phone=spec.get("phone"),
                              line_user_id=spec.get("line"), email=spec.get("email"),
                              language=spec.get("language", "ja"),
                              areas=[areas[code] for code in spec.get("areas", [spec.get("area")]) if code],
                              categories=[categories[c] for c in spec.get("categories", ["bousai"])])
            s.add(contact)
            for channel, field in (("sms", "phone"), ("line", "line"), ("email", "email")):
                if spec.get(field):
                    s.add(Consent(contact=contact, channel=channel, source="test"))
            s.flush()
            out[spec["name"]] = Resident(contact.id, spec["name"], spec.get("phone"), spec.get("line"))
    return out


def line_id(i: int) -> str:
    return f"U{i:032x}"


def send_survey(client: FlaskClient, channels: list[str], question: Any = None, audience: str = "residents",
                **fields: Any) -> int:
    data = create_approved(client, title="避難状況の確認", body="○○地区に避難指示を発令しています。",
                           channels=channels, audience=audience, category="bousai",
                           question=QUESTION if question is None else question, **fields)
    return int(data["message_id"])


def sms_reply(runtime: Runtime, phone: str, text: str, sid: str = "SM0") -> str | None:
    """What the hub answers to an SMS from ``phone`` (the inbound route calls the same function)."""
    with runtime.session() as s:
        return reply_for(s, runtime, InboundSms(sid, phone, DEPARTMENT_NUMBER, text))


def text_hub(sandbox_client: SandboxClient, phone: str, text: str) -> list[str]:
    """A resident texts our number back: the sandbox posts Twilio's signed incoming-message webhook
    to the hub; what the hub answered (TwiML) is what lands in their inbox."""
    result = sandbox_client.send_sms(phone, DEPARTMENT_NUMBER, text)
    assert result["status"] == 200, result
    return [str(r["text"]) for r in result["replies"]]


def press(sandbox_client: SandboxClient, user: str, label: str) -> None:
    """Tap the quick-reply button ``label`` of the latest LINE message: a signed webhook to the hub."""
    item = sandbox_client.inbox("line", to=user)[-1]
    actions = [i["action"] for m in item["meta"]["messages"]
               for i in (m.get("quickReply") or {}).get("items", [])]
    action = next(a for a in actions if a["label"] == label)
    reply = sandbox_client.emit_line_event({"type": "postback", "postback": {"data": action["data"]},
                                            "source": {"type": "user", "userId": user}})
    assert reply["status"] == 200, reply


def tally(client: FlaskClient, message_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/messages/{message_id}/survey", headers=bearer())
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(body(response))


def say_on_line(sandbox_client: SandboxClient, user: str, text: str) -> None:
    """The resident types ``text`` in the chat (a LINE text-message event, signed)."""
    reply = sandbox_client.emit_line_event({"type": "message", "source": {"type": "user", "userId": user},
                                            "message": {"type": "text", "id": "1", "text": text, "quoteToken": "q"}})
    assert reply["status"] == 200, reply



def close_now(runtime: Runtime, message_id: int) -> None:
    """The survey's window closed a minute ago."""
    with runtime.session() as s:
        message = s.get(Message, message_id)
        assert message is not None
        question = dict(message.meta["question"], closed_at=(utcnow() - timedelta(minutes=1)).isoformat())
        message.meta = {**message.meta, "question": question}
