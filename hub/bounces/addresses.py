"""Return paths that name their delivery row, signed so they cannot be made up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from hub.config import Keys, as_keys
from hub.models.base import MAX_BIG_ID

PREFIX = "bounce"
_SIGNATURE_CHARS = 13  # 65 bits of the HMAC, base32: guessing one is hopeless
_LOCAL = re.compile(rf"^{PREFIX}-(\d{{1,19}})-([a-z2-7]{{{_SIGNATURE_CHARS}}})$")


def _signature(secret_key: str, delivery_id: int) -> str:
    digest = hmac.new(secret_key.encode(), f"hub.bounce:{delivery_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:_SIGNATURE_CHARS]


def return_path(secret_key: str, bounce_domain: str, delivery_id: int) -> str:
    """The envelope sender (MAIL FROM) of one delivery's e-mail."""
    return f"{PREFIX}-{delivery_id}-{_signature(secret_key, delivery_id)}@{bounce_domain}"


def delivery_of(secret_key: Keys, address: str) -> int | None:
    """The delivery row a bounce addressed to ``address`` is about; ``None`` if we did not make it
    (with any of the keys: mail sent before a rotation of HUB_SECRET_KEY still comes back).

    The domain is not checked: relays and MX hosts may rewrite its case or route several domains
    here; the signature is what matters.
    """
    local = address.strip().strip("<>").rpartition("@")[0].lower()
    match = _LOCAL.match(local)
    if match is None:
        return None
    delivery_id = int(match.group(1))
    if delivery_id > MAX_BIG_ID or not any(hmac.compare_digest(match.group(2), _signature(key, delivery_id))
                                           for key in as_keys(secret_key)):
        return None
    return delivery_id
