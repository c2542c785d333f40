"""Who a message is from, where the channel has no sender identity of its own.

SMS, voice and e-mail leave from the department's own number and address (hub/dispatch/batches.py).
LINE, X and the feeds all speak as the city's one account, so an everyday notice names its
department in the text: 「（健康づくり課）」 on a line of its own after the officer's words. Alerts
do not: they speak for the city, and every character counts on X when it matters most. A
cancellation or correction is signed like the message it follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from hub.models import Department, Message, MsgType, follows_up

if TYPE_CHECKING:
    from hub.compose.messages import Composition


def signed(session: Session, msg_type: str, references_id: int | None) -> bool:
    if msg_type == MsgType.NOTICE:
        return True
    if follows_up(msg_type) and references_id is not None:
        original = session.get(Message, references_id)
        return original is not None and original.msg_type == MsgType.NOTICE
    return False


def signature(session: Session, c: Composition) -> str | None:
    """The department's name to show in LINE, X, feed and e-mail texts of ``c``, or None."""
    if c.department_id is None or not signed(session, c.msg_type, c.references_id):
        return None
    department = session.get(Department, c.department_id)
    return department.name if department is not None else None


def signature_line(name: str | None) -> str:
    """「（健康づくり課）」: short, so LINE and X lose as little room as possible."""
    return f"（{name}）" if name else ""
