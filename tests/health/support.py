"""What the duty department received: the engine alarm's rows and the sandbox inbox."""

from __future__ import annotations

from sqlalchemy import select

from hub.health.watchdog import SOURCE
from hub.models import Contact, Delivery, Department, Message
from hub.runtime import Runtime
from sandbox import SandboxClient


def engine_alarms(rt: Runtime) -> list[Message]:
    with rt.session() as session:
        found = list(session.scalars(select(Message).where(Message.source == SOURCE).order_by(Message.id)))
        session.expunge_all()
    return found


def duty_addresses(rt: Runtime, channel: str) -> set[str]:
    """Where the duty department (HUB_JMA_ALARM_AUDIENCE, department:bousai) can be reached on ``channel``."""
    field = {"email": Contact.email, "line": Contact.line_user_id}[channel]
    with rt.session() as session:
        return {a for a in session.scalars(select(field).join(Department, Department.id == Contact.department_id)
                                           .where(Department.code == "bousai", field.is_not(None)))}


def received(rt: Runtime, sandbox: SandboxClient, message: Message, channel: str) -> set[str]:
    """Addresses whose sandbox inbox holds ``message`` on ``channel`` (by its title)."""
    with rt.session() as session:
        planned = set(session.scalars(select(Delivery.address).where(Delivery.message_id == message.id,
                                                                     Delivery.channel == channel)))
    got = {item["to"] for item in sandbox.inbox(channel)
           if message.title in ((item.get("subject") or "") + (item.get("text") or ""))}
    return got & planned
