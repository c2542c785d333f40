"""Secrets the hub must read back (operators' TOTP seeds, its own keys), stored sealed.

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

from hub.config import Keys, as_keys
from hub.models import Operator

log = logging.getLogger(__name__)

PREFIX = "f1:"  # Fernet, key version 1: a seed stored before sealing has no prefix (base32 only)
PURPOSE = b"hub totp seed v1"


@functools.lru_cache(maxsize=16)
def _fernet(secret_key: str, purpose: bytes = PURPOSE) -> Fernet:
    # One key per purpose: what is sealed for one use cannot be opened as another's.
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, value: str, purpose: bytes = PURPOSE) -> str:
    return PREFIX + _fernet(secret_key, purpose).encrypt(value.encode()).decode()


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def unseal(secret_key: Keys, stored: str, purpose: bytes = PURPOSE) -> str | None:
    """The seed, or None when none of the keys opens it (HUB_SECRET_KEY changed since it was sealed,
    and the old key is not in HUB_SECRET_KEY_PREVIOUS)."""
    if not is_sealed(stored):
        return stored
    for key in as_keys(secret_key):
        try:
            return _fernet(key, purpose).decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except (InvalidToken, ValueError):
            continue
    return None


def seal_stored(session: Session, secret_key: Keys) -> int:
    """Seal with the current key (the first) the seeds stored in plain by an older version, and
    those only a previous key opens (after a rotation); returns how many operators. Caller commits.
    Then the previous key can leave HUB_SECRET_KEY_PREVIOUS without locking anyone out."""
    keys = as_keys(secret_key)
    count = 0
    for operator in session.scalars(select(Operator).where(or_(Operator.totp_secret.is_not(None),
                                                               Operator.totp_pending_secret.is_not(None)))):
        changed = False
        for column in ("totp_secret", "totp_pending_secret"):
            stored = getattr(operator, column)
            if stored is None:
                continue
            opened = unseal(keys[0], stored)  # a seed in plain comes back as it is
            if opened is not None and is_sealed(stored):
                continue  # sealed with the current key already
            opened = opened if opened is not None else unseal(keys[1:], stored)
            if opened is not None:
                setattr(operator, column, seal(keys[0], opened))
                changed = True
        count += changed
    if count:
        log.info("sealed the TOTP seeds of %d operators with the current key", count)
    return count
