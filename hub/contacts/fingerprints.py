"""The key erased people's fingerprints are made with, which outlives ``HUB_SECRET_KEY``.

A fingerprint is a keyed hash of one identifier of a person erased on request (hub/contacts/erasure.py):
it lets a CSV import recognise them without the hub keeping who they were. Made with
``HUB_SECRET_KEY`` itself, fingerprints were forgotten when an old key left
``HUB_SECRET_KEY_PREVIOUS`` — and a key that leaked must leave it — so the city's own list, imported
again, could bring an erased person back without a new consent. They are made instead with a
random key of their own, created at the first erasure and stored in the database sealed with
``HUB_SECRET_KEY`` (a copy of the database alone cannot test phone numbers against them);
``hub db upgrade`` seals it again with the current key after a rotation.

Fingerprints made before this key existed were made with ``HUB_SECRET_KEY``: they are still looked
up under every configured key.
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.accounts.sealing import seal, unseal
from hub.config import Keys, as_keys
from hub.models import SealedKey

log = logging.getLogger(__name__)

NAME = "erasure_fingerprints"
PURPOSE = b"hub erasure fingerprint key v1"


def fingerprint_key(session: Session, secret_key: Keys, *, create: bool) -> str | None:
    """The key, made and stored on first use when ``create``; None when there is none yet — or when
    it is sealed with a key no longer configured (the old key left HUB_SECRET_KEY_PREVIOUS before
    ``hub db upgrade`` sealed it again), which is logged with what to do. Callers then fall back to
    HUB_SECRET_KEY itself, as before this key existed: an erasure must happen all the same."""
    keys = as_keys(secret_key)
    stored = session.get(SealedKey, NAME)
    if stored is None:
        if not create:
            return None
        value = secrets.token_urlsafe(32)
        try:
            with session.begin_nested():
                session.add(SealedKey(name=NAME, sealed=seal(keys[0], value, PURPOSE)))
            return value
        except IntegrityError:  # another process made it first: theirs is the key
            stored = session.get(SealedKey, NAME, populate_existing=True)
            assert stored is not None
    opened = unseal(keys, stored.sealed, PURPOSE)
    if opened is None:
        log.error("the erasure fingerprint key cannot be opened: put the previous HUB_SECRET_KEY back in "
                  "HUB_SECRET_KEY_PREVIOUS and run hub db upgrade (meanwhile erasures are fingerprinted "
                  "with HUB_SECRET_KEY, and people erased with the key are not recognised)")
    return opened


def reseal(session: Session, secret_key: Keys) -> bool:
    """Seal the key with the current HUB_SECRET_KEY if a previous one sealed it (``hub db upgrade``);
    caller commits. True when it changed."""
    keys = as_keys(secret_key)
    stored = session.get(SealedKey, NAME)
    if stored is None or unseal(keys[0], stored.sealed, PURPOSE) is not None:
        return False
    opened = unseal(keys[1:], stored.sealed, PURPOSE)
    if opened is None:
        log.error("the erasure fingerprint key opens with none of the configured keys")
        return False
    stored.sealed = seal(keys[0], opened, PURPOSE)
    return True
