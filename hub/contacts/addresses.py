"""Normalising the addresses people type into CSV files: 090-1234-5678 → +819012345678."""

from __future__ import annotations

import re

import phonenumbers

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LINE_USER = re.compile(r"^U[0-9a-f]{32}$")


class AddressError(ValueError):
    pass


def normalise_phone(raw: str, region: str = "JP") -> str:
    text = raw.strip()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise AddressError(f"電話番号として読めません: {raw!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise AddressError(f"電話番号が正しくありません: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    text = raw.strip()
    if not _EMAIL.match(text):
        raise AddressError(f"メールアドレスが正しくありません: {raw!r}")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def normalise_line_user(raw: str) -> str:
    text = raw.strip()
    if not _LINE_USER.match(text):
        raise AddressError(f"LINEユーザーIDが正しくありません（U＋32桁の16進数）: {raw!r}")
    return text
