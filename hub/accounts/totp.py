"""The TOTP second factor (RFC 6238, 30-second steps, 6 digits): enrolment and verification.

A code is accepted one step early or late (clock drift) but never twice: the accepted time-step is
remembered and any code of that step or an earlier one is refused afterwards, so a code seen over
someone's shoulder cannot be replayed.
"""

from __future__ import annotations

import logging
import time

import pyotp

from hub.accounts.sealing import seal, unseal
from hub.config import Keys, as_keys
from hub.models import Operator

log = logging.getLogger(__name__)

ISSUER = "Bousai hub"
STEP = 30
WINDOW = 1  # steps either side of now


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time-step ``code`` belongs to (within ±WINDOW of now), or ``None``."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def _opened(stored: str, key: Keys, operator: Operator) -> str | None:
    secret = unseal(key, stored)
    if secret is None:
        log.error("the TOTP seed of %s cannot be read with this HUB_SECRET_KEY (changed since enrolment?); "
                  "reset it: hub operator reset-totp %s", operator.username, operator.username)
    return secret


def verify(operator: Operator, code: str, key: Keys, now: float | None = None) -> bool:
    """Check a code of an enrolled operator and consume its step. The caller commits.

    ``key``: HUB_SECRET_KEY (and the previous keys), which seal the stored seed (hub.accounts.sealing).
    """
    secret = _opened(operator.totp_secret, key, operator) if operator.totp_secret else None
    if secret is None:
        return False
    step = matching_step(secret, code, now)
    if step is None or (operator.totp_last_step is not None and step <= operator.totp_last_step):
        return False
    operator.totp_last_step = step
    return True


def begin_enrolment(operator: Operator, key: Keys) -> tuple[str, str]:
    """A new secret awaiting confirmation, and its URI: shown once, to the operator only."""
    secret = new_secret()
    operator.totp_pending_secret = seal(as_keys(key)[0], secret)
    return secret, provisioning_uri(secret, operator.username)


def pending_enrolment(operator: Operator, key: Keys) -> tuple[str, str] | None:
    """The secret awaiting confirmation (shown again after a mistyped code), and its URI."""
    secret = _opened(operator.totp_pending_secret, key, operator) if operator.totp_pending_secret else None
    return (secret, provisioning_uri(secret, operator.username)) if secret else None


def confirm_enrolment(operator: Operator, code: str, key: Keys, now: float | None = None) -> bool:
    """Make the pending secret the operator's when ``code`` was made from it."""
    sealed = operator.totp_pending_secret
    secret = _opened(sealed, key, operator) if sealed else None
    if not secret:
        return False
    step = matching_step(secret, code, now)
    if step is None:
        return False
    operator.totp_secret = seal(as_keys(key)[0], secret)
    operator.totp_pending_secret = None
    operator.totp_last_step = step  # the confirming code cannot be used again to log in
    return True


def required_for(operator: Operator, production: bool) -> bool:
    """In production, whoever can approve a live message or administer must use a second factor."""
    from hub.models import Role

    if not production:
        return False
    return operator.is_admin or any(m.role == Role.APPROVER for m in operator.memberships)
