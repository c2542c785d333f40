"""Karaden's delivery-result callbacks (JSON, ``status`` / ``sent_result``) → the row they are about.

Karaden documents no signature for them; the service setting's callback URL carries a secret
(``/callbacks/karaden/<HUB_KARADEN_CALLBACK_SECRET>``), compared in constant time. A wrong or
missing secret gets 403 and changes nothing; a body that is not Karaden's message object gets 400.
Rows are updated exactly as by Twilio's status callbacks: queued and applied in bulk (``hub.statuses``).
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort

from channels.inbound import MalformedPost
from hub import callbacks, statuses
from hub.runtime import Runtime

log = logging.getLogger(__name__)
karaden_bp = Blueprint("karaden_callbacks", __name__, url_prefix="/callbacks/karaden")


@karaden_bp.post("/<secret>")
def karaden_result(secret: str) -> tuple[str, int]:
    rt: Runtime = callbacks._runtime()
    channel = rt.channel("sms")
    read = getattr(channel, "karaden_status", None)
    if read is None:
        abort(404)
    raw = callbacks.capped_body(rt)
    try:
        found = read(raw, secret)
    except MalformedPost as exc:
        log.warning("rejected a malformed Karaden callback: %s", exc)
        abort(400)
    if found is None:
        log.warning("rejected a Karaden callback with a wrong secret")
        abort(403)
    delivery_id, event = found
    # The same path as Twilio's status callbacks (queued, applied in bulk): never downgrades a final
    # state, and a row whose provider id is another message's (it was sent again elsewhere) is left alone.
    statuses.enqueue(rt, "sms", delivery_id, event)
    return "", 204
