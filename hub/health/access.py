"""Who may read the engine's details (/metrics, the detailed /healthz).

Worker host names, queue depths and provider error counts tell an attacker when the hub is weak;
in production they go only to a scraper holding ``HUB_METRICS_TOKEN`` or calling from an address in
``HUB_METRICS_ALLOW`` (loopback by default). Outside production they are open.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Request

from hub.config import Settings


def may_read(settings: Settings, request: Request) -> bool:
    if not settings.is_production:
        return True
    token = settings.metrics_token
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    return trusted_address(settings.metrics_allow, request.remote_addr)


def trusted_address(allow: str, address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in (e.strip() for e in allow.split(",")):
        try:
            if entry and ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:  # a typo in the setting trusts nobody rather than everybody
            continue
    return False
