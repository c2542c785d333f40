"""受信者の検索 on a message: who got it, who did not and why, found by name, number or address.

Addresses are masked unless the policy lets the operator see them (``may_see_addresses``); such an
operator cannot search by number or address either, or the search would reveal what the mask hides.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, func, or_, select

from hub.api.common import ApiError, runtime
from hub.api.messages import readable_message
from hub.contacts.masking import mask_address
from hub.models import Contact, Delivery, DeliveryState
from hub.policy import may_see_addresses
from hub.web.pages import _operator, login_required, web_bp

LIMIT = 200
PROBLEM_STATES = (DeliveryState.FAILED, DeliveryState.SKIPPED, DeliveryState.UNKNOWN)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _matches(q: str, addresses: bool) -> ColumnElement[bool]:
    terms: list[ColumnElement[bool]] = [Contact.name.ilike(_like(q), escape="\\")]
    if addresses:
        terms.append(Delivery.address.ilike(_like(q), escape="\\"))
        digits = re.sub(r"\D", "", q)
        if len(digits) >= 3:  # 090-1234-5678 finds +819012345678
            terms.append(Delivery.address.like(_like(digits)))
            if digits.startswith("0"):
                terms.append(Delivery.address.like(_like("81" + digits[1:])))
    return or_(*terms)


@web_bp.get("/messages/<int:message_id>/recipients")
@login_required
def recipients_page(message_id: int) -> ResponseReturnValue:
    principal = _operator()
    q = request.args.get("q", "").strip()[:100]
    problems_only = request.args.get("problems") == "1"
    with runtime().session() as s:
        try:
            message = readable_message(s, message_id, principal)
        except ApiError as exc:
            abort(exc.status)
        see = may_see_addresses(principal, message.department_id)
        where: list[Any] = [Delivery.message_id == message_id]
        if q:
            where.append(_matches(q, see))
        if problems_only:
            where.append(Delivery.state.in_(PROBLEM_STATES))
        query = select(Delivery, Contact.name).outerjoin(Contact, Contact.id == Delivery.contact_id).where(*where)
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = [{"name": name or "", "channel": d.channel, "state": d.state, "reason": d.reason or "",
                 "error": d.error or d.error_code or "",
                 "address": d.address if see else mask_address(d.address)}
                for d, name in s.execute(query.order_by(Delivery.id).limit(LIMIT))]
        title = message.title
    return render_template("recipients.html", message_id=message_id, title=title, q=q, problems_only=problems_only,
                           rows=rows, total=total, limit=LIMIT, see_addresses=see)
