"""The hub's own notices to operators: "a message waits for you" and "an override was used".

They go through the normal message corridor (a staff-only live message on LINE and e-mail to the
operators' own staff contacts, ``source="system"``), so they are recorded, retried and visible
like any other message, and they themselves never wait for approval.
"""

from __future__ import annotations

import logging

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.compose.approval import SYSTEM_SOURCE
from hub.db import after_commit
from hub.models import Contact, Membership, Message, MsgType, Operator, RecipientList, Role
from hub.runtime import Runtime

log = logging.getLogger(__name__)
NOTICE_CHANNELS = ("line", "email")



def approvers_of(session: Session, department_id: int | None, *, exclude: int | None = None) -> list[Operator]:
    """Every active approver of the department and every active admin (who may approve anywhere)."""
    approver = select(Membership.operator_id).where(Membership.department_id == department_id,
                                                    Membership.role == Role.APPROVER)
    rows = session.scalars(select(Operator).where(
        Operator.disabled_at.is_(None), or_(Operator.is_admin.is_(True), Operator.id.in_(approver)),
    ).order_by(Operator.id))
    return [o for o in rows if o.id != exclude]


def tell_operators(session: Session, runtime: Runtime, operators: list[Operator], *, title: str, body: str,
                   department_id: int | None) -> Message | None:
    """A live staff-only notice to the operators' own contacts; ``None`` if none can be reached."""
    from hub.compose.messages import Composition, create_message
    from hub.dispatch.tasks import release

    ids = [o.contact_id for o in operators if o.contact_id is not None]
    contacts = list(session.scalars(select(Contact).where(Contact.id.in_(ids), Contact.active.is_(True))))
    channels = [ch for ch in NOTICE_CHANNELS if ch in runtime.available_channels()]
    if not contacts or not channels:
        log.warning("notice %r reaches nobody (no operator contact or channel)", title)
        return None
    recipients = RecipientList(name=f"notice:{title}"[:200], members=contacts)
    session.add(recipients)
    session.flush()
    notice = create_message(session, runtime, Composition(
        title=title, body=body, channels=channels, audience=f"list:{recipients.id}", msg_type=MsgType.ALERT,
        department_id=department_id, source=SYSTEM_SOURCE,
    ), actor="system")
    notice_id, state = notice.id, str(notice.state)
    after_commit(session, lambda: release(notice_id, state))
    return notice


def message_link(runtime: Runtime, message: Message) -> str:
    return f"{runtime.settings.public_url}/messages/{message.id}"


def request_approval(session: Session, runtime: Runtime, message: Message) -> Message | None:
    """Tell the department's approvers (not the creator: they may not approve it) what waits."""
    return tell_operators(
        session, runtime, approvers_of(session, message.department_id, exclude=message.created_by_id),
        title=f"承認依頼: {message.title}"[:200],
        body=f"「{message.title}」が承認を待っています。内容を確認して承認してください: "
             f"{message_link(runtime, message)}",
        department_id=message.department_id,
    )


def announce_override(session: Session, runtime: Runtime, message: Message, operator: Operator,
                      reason: str) -> Message | None:
    """An override is announced at once to every approver of the department and every admin."""
    return tell_operators(
        session, runtime, approvers_of(session, message.department_id, exclude=operator.id),
        title=f"緊急送信（承認省略）: {message.title}"[:200],
        body=f"{operator.display_name}（{operator.username}）が承認を省略して「{message.title}」を送信しました。"
             f"理由: {reason} 確認: {message_link(runtime, message)}",
        department_id=message.department_id,
    )
