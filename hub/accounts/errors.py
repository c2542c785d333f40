"""Errors of account and administration operations, shared by the CLI and the API."""

from __future__ import annotations

from hub.errors import Refusal


class AccountError(Refusal):
    """An account or administration operation refused."""


def not_found(message: str) -> AccountError:
    return AccountError(404, "not_found", message)


def conflict(message: str) -> AccountError:
    return AccountError(409, "conflict", message)


def invalid(problems: dict[str, list[str]], message: str) -> AccountError:
    return AccountError(422, "invalid", message, problems=problems)
