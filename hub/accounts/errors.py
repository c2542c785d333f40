"""Errors of account and administration operations, shared by the CLI and the API."""

from __future__ import annotations

from typing import Any


class AccountError(Exception):
    """An operation refused; ``status`` is what the API answers, ``message`` is already translated."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def not_found(message: str) -> AccountError:
    return AccountError(404, "not_found", message)


def conflict(message: str) -> AccountError:
    return AccountError(409, "conflict", message)


def invalid(problems: dict[str, list[str]], message: str) -> AccountError:
    return AccountError(422, "invalid", message, problems=problems)
