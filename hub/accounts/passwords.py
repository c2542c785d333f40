"""Operator passwords: argon2id hashes, a minimum length, one-time passwords handed out by an admin.

The hasher's parameters are argon2-cffi's current defaults; when they change (a library upgrade),
a stored hash made with older ones is replaced at the next successful login (:func:`verify`).
"""

from __future__ import annotations

import contextlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.i18n import gettext as _

MIN_LENGTH = 12
# Readable aloud over the phone to a new colleague: no 0/O, 1/l/I.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
HASHER = PasswordHasher()


class WeakPassword(ValueError):
    """The new password is not acceptable; the message says why, in the operator's language."""


def check_strength(password: str, username: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(_("パスワードは{n}文字以上にしてください").format(n=MIN_LENGTH))
    if username and username.lower() in password.lower():
        raise WeakPassword(_("パスワードにユーザー名を含めないでください"))


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify(stored: str | None, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches; the second value is a fresh hash when the stored one is outdated."""
    if not stored or not password:
        # Spend the same effort as a real check so a missing account is not told apart by timing.
        _burn(password)
        return False, None
    try:
        HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, (HASHER.hash(password) if HASHER.check_needs_rehash(stored) else None)


_DUMMY: list[str] = []


def _burn(password: str) -> None:
    if not _DUMMY:
        _DUMMY.append(HASHER.hash(secrets.token_urlsafe(16)))
    with contextlib.suppress(VerificationError, InvalidHashError):
        HASHER.verify(_DUMMY[0], password or "-")


def one_time_password() -> str:
    """A random first password (16 characters, ~92 bits) the operator must change at first login."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(16))
