"""The shape every refusal the hub explains takes, whichever front door (API, CLI, web) shows it."""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """Refused with a reason; ``status`` is what the API answers, ``message`` is already translated."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
