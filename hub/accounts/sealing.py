"""Secrets the hub must read back (operators' TOTP seeds), stored sealed.

A password is stored as a one-way hash; a TOTP seed cannot be: the hub computes codes from it. A
copy of the database (a backup, a dump handed to a vendor) must still not be enough to make an
operator's codes, so a seed is stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256, from the
``cryptography`` library) with a key derived from ``HUB_SECRET_KEY`` (HKDF-SHA256), which lives in
the environment, not in the database.

Changing ``HUB_SECRET_KEY`` leaves sealed seeds unreadable: those operators' codes are refused (and
logged) until an admin resets their second factor (``hub operator reset-totp``) and they enrol again.
Seeds stored before sealing existed are read as they are and sealed by ``hub db upgrade``.
"""

from __future__ import annotations

import base64
import functools
import logging

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.models import Operator

log = logging.getLogger(__name__)

PREFIX = "f1:"  # Fernet, key version 1: a seed stored before sealing has no prefix (base32 only)
PURPOSE = b"hub totp seed v1"


@functools.lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, value: str) -> str:
    return PREFIX + _fernet(secret_key).encrypt(value.encode()).decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def unseal(secret_key: str, stored: str) -> str | None:
    """The seed, or None when this key cannot open it (HUB_SECRET_KEY changed since it was sealed)."""
    if not is_sealed(stored):
        return stored
    try:
        return _fernet(secret_key).decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except (InvalidToken, ValueError):
        return None


def seal_stored(session: Session, secret_key: str) -> int:
    """Seal the seeds stored in plain by an older version; returns how many. Caller commits."""
    plain = [(Operator.totp_secret.is_not(None)) & ~Operator.totp_secret.startswith(PREFIX),
             (Operator.totp_pending_secret.is_not(None)) & ~Operator.totp_pending_secret.startswith(PREFIX)]
    count = 0
    for operator in session.scalars(select(Operator).where(or_(*plain))):
        if operator.totp_secret and not is_sealed(operator.totp_secret):
            operator.totp_secret = seal(secret_key, operator.totp_secret)
        if operator.totp_pending_secret and not is_sealed(operator.totp_pending_secret):
            operator.totp_pending_secret = seal(secret_key, operator.totp_pending_secret)
        count += 1
    if count:
        log.info("sealed the TOTP seeds of %d operators", count)
    return count
