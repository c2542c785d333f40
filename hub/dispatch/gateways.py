"""Choosing the gateway of a batch on channels with several (SMS), and keeping rows with it.

- A department's SMS go through its gateway (``Department.sms_gateway``, else
  ``HUB_SMS_GATEWAY``). When that gateway's circuit is open, new batches go to its failover partner
  (``Department.sms_failover_gateway``, else ``HUB_SMS_FAILOVER_GATEWAY``; ``auto`` = the other
  configured gateway).
- The chosen gateway is written on each row *before* the request (:func:`stamp`), so a row whose
  answer was lost is asked of the gateway that may have it (:func:`reconcile`) and never sent
  through the other one while in doubt: if that gateway cannot be asked, the row waits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from sqlalchemy import update
from sqlalchemy.orm import Session

from channels.base import Batch, Channel, DeliveryResult, Recipient
from channels.sms_gateways import HasGateways
from hub.models import Delivery, DeliveryState, Department
from hub.runtime import Runtime

log = logging.getLogger(__name__)
NO_FAILOVER = "none"
AUTO = "auto"


def gateways_of(channel: Channel) -> HasGateways | None:
    return channel if isinstance(channel, HasGateways) and channel.gateways else None


def primary_and_partner(rt: Runtime, channel: HasGateways, dept: Department | None) -> tuple[str, str | None]:
    primary = (dept.sms_gateway if dept is not None and dept.sms_gateway else None) or rt.settings.sms_gateway
    if primary not in channel.gateways:
        primary = channel.gateways[0]
    wanted = (dept.sms_failover_gateway if dept is not None and dept.sms_failover_gateway else None) \
        or rt.settings.sms_failover_gateway
    if wanted == NO_FAILOVER:
        return primary, None
    if wanted == AUTO:
        others = [g for g in channel.gateways if g != primary and channel.gateway_ready(g)]
        return primary, (others[0] if others else None)
    return primary, (wanted if wanted in channel.gateways and wanted != primary else None)


def choose(rt: Runtime, channel: HasGateways, dept: Department | None) -> str:
    """The gateway for a new batch: the department's, unless its circuit is open and the partner's is not."""
    primary, partner = primary_and_partner(rt, channel, dept)
    breaker = rt.breaker
    if breaker.allows(primary):
        return primary
    if partner is not None and breaker.allows(partner):
        log.info("SMS gateway %s is failing (circuit open): this batch goes through %s", primary, partner)
        return partner
    return primary  # both failing: keep to the department's own (rows retry with backoff)


def sender_for(channel: Channel, dept: Department | None, gateway: str | None, default: str | None) -> str | None:
    """The department's sender identity on ``gateway`` (a Twilio number, a Karaden service id)."""
    multi = gateways_of(channel)
    if multi is None or gateway is None:
        return default
    field = multi.gateway_sender_field(gateway)
    if field == channel.sender_field:
        return default
    value = getattr(dept, field, None) if dept is not None and field else None
    return str(value) if value else None


def reconcile(channel: Channel, recipients: Sequence[Recipient], batch: Batch, gateway_of: Mapping[int, str | None],
              senders: Mapping[str | None, str | None]) -> list[DeliveryResult]:
    """Ask each row's own gateway (the one written on it before its request) what it accepted."""
    if gateways_of(channel) is None:
        return channel.reconcile(recipients, batch)
    groups: dict[str | None, list[Recipient]] = {}
    for r in recipients:
        groups.setdefault(gateway_of.get(r.delivery_id), []).append(r)
    found: list[DeliveryResult] = []
    for gateway, group in groups.items():
        asked = replace(batch, recipients=group, gateway=gateway, sender=senders.get(gateway, batch.sender))
        found += channel.reconcile(group, asked)
    return found


def stamp(session: Session, row_ids: Sequence[int], gateway: str | None, owner: str,
          sender: str | None = None) -> None:
    """Write-ahead: these rows are about to be requested through ``gateway`` (None: the channel's
    only one) from ``sender``, so the record says which number or address really carried them."""
    values: dict[str, str | None] = {"sender": sender}
    if gateway is not None:
        values["gateway"] = gateway
    if row_ids:
        session.execute(update(Delivery).where(
            Delivery.id.in_(list(row_ids)), Delivery.state == DeliveryState.SENDING, Delivery.claimed_by == owner,
        ).values(**values))
