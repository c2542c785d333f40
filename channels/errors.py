"""The small error hierarchy every adapter translates provider errors into, at its boundary.

Dispatch decides what to do from the class alone: retry later, give up, or stop and reconcile.
``message`` is shown to operators as is: it says what happened, in words they can act on. What
happens next (a retry at a given time, giving up) is added by dispatch, which is the one place
that knows it.
"""

from __future__ import annotations


class DeliveryError(Exception):
    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TransientError(DeliveryError):
    """Worth retrying with backoff: 5xx, queue full. The request reached the provider and counts."""


class RateLimited(TransientError):
    """The provider asked us to slow down; ``retry_after`` seconds is its hint when it gave one.

    Never counts as an attempt: a send that is only being held back must not run out of tries.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class Unreachable(TransientError):
    """The request never left this machine (connection refused, DNS, our own rate limiter down).

    A clean retry: nothing can have reached the provider, so nothing counts as an attempt.
    """


class PermanentError(DeliveryError):
    """Retrying cannot help: invalid number, unknown mailbox, content rejected."""


class AmbiguousError(DeliveryError):
    """The request may have been accepted (e.g. timeout after sending): reconcile, never resend blindly."""
