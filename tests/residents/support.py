"""Driving a LINE follower through the sandbox: emit signed events, press the quick replies the hub sent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hub.models import Area, Category, Consent, Contact
from hub.runtime import Runtime
from sandbox import SandboxClient
from tests.support.hubtools import wait_for

OSHU = "0321500"


def add_resident(runtime: Runtime, name: str = "", **fields: Any) -> int:
    """A resident of 奥州市 who chose 防災, with consent on the channel of each address given."""
    with runtime.session() as s:
        bousai = s.scalar(select(Category).where(Category.code == "bousai"))
        oshu = s.scalar(select(Area).where(Area.code == OSHU))
        channels = [ch for ch, field in (("line", "line_user_id"), ("email", "email"), ("sms", "phone"))
                    if fields.get(field)]
        contact = Contact(kind="resident", name=name, categories=[bousai], areas=[oshu],
                          consents=[Consent(channel=ch, source="test") for ch in channels], **fields)
        s.add(contact)
        s.flush()
        return contact.id


def line_items(sandbox_client: SandboxClient, user: str) -> list[dict[str, Any]]:
    return sandbox_client.inbox(channel="line", to=user)


def next_item(sandbox_client: SandboxClient, user: str, seen: int) -> dict[str, Any]:
    """The LINE message that arrives for ``user`` after the ``seen`` ones before it."""
    wait_for(lambda: len(line_items(sandbox_client, user)) > seen, timeout=10)
    return line_items(sandbox_client, user)[-1]  # in the order received


def quick_replies(item: dict[str, Any]) -> dict[str, str]:
    """Label → postback data of the quick replies a LINE message offers."""
    out: dict[str, str] = {}
    for message in item["meta"]["messages"]:
        for reply in (message.get("quickReply") or {}).get("items", []):
            out[reply["action"]["label"]] = reply["action"]["data"]
    return out


def texts(item: dict[str, Any]) -> str:
    return "\n".join(m.get("text", "") for m in item["meta"]["messages"])


class Follower:
    """A LINE user who presses buttons: every press is a signed postback webhook from the sandbox."""

    def __init__(self, sandbox_client: SandboxClient, user: str) -> None:
        self.sb, self.user = sandbox_client, user

    def count(self) -> int:
        return len(line_items(self.sb, self.user))

    def follow(self) -> dict[str, Any]:
        return self._emit({"type": "follow"})

    def press(self, item: dict[str, Any], label: str) -> dict[str, Any]:
        data = quick_replies(item)[label]
        return self._emit({"type": "postback", "postback": {"data": data}})

    def say(self, text: str) -> dict[str, Any]:
        return self._emit({"type": "message", "message": {"type": "text", "id": "1", "text": text,
                                                          "quoteToken": "q"}})

    def _emit(self, event: dict[str, Any]) -> dict[str, Any]:
        seen = self.count()
        result = self.sb.emit_line_event({**event, "source": {"type": "user", "userId": self.user}})
        assert result["status"] == 200, result
        return next_item(self.sb, self.user, seen)


BOUNCE_WORDS = "550 5.1.1 <{address}>: Recipient address rejected: User unknown"


def bounced_staff(runtime: Runtime, name: str, address: str) -> int:
    """A 防災 staff member whose e-mail was reported unknown, as hub/bounces records a 5.1.1 report
    (tests/residents/test_bounces.py makes such reports for real)."""
    from hub.models import Department, utcnow

    with runtime.session() as s:
        bousai = s.scalar(select(Department).where(Department.code == "bousai"))
        staff = Contact(kind="staff", name=name, department=bousai, email=address)
        s.add(staff)
        s.flush()
        staff.email_bounced_at = utcnow()  # after the address: setting one clears the mark
        staff.email_bounce = "5.1.1 " + BOUNCE_WORDS.format(address=address)
        return staff.id
