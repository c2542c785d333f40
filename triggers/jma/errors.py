"""Errors raised for input from JMA that cannot be trusted or understood."""

from __future__ import annotations


class TelegramError(Exception):
    """A telegram (or feed) was rejected; ``str(error)`` is a reason a human can act on.

    Every failure to read JMA input surfaces as this type, so the poller can log and skip one
    telegram without a catch-all ``except Exception`` hiding programming errors.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FeedError(TelegramError):
    """The Atom feed itself could not be read."""
