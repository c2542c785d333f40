"""Checks on what an admin types: usernames, codes, sender numbers and addresses, JMA area codes."""

from __future__ import annotations

import re

from hub.contacts.addresses import AddressError, normalise_phone
from hub.i18n import gettext as _

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
EMAIL = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
# JMA's 個別コード表: municipalities and warning areas have 7 digits, quake and tsunami areas 3.
AREA_FAMILIES = {"municipality": 7, "warning": 7, "quake": 3, "tsunami": 3}

Problems = dict[str, list[str]]


def add(problems: Problems, key: str, text: str) -> None:
    problems.setdefault(key, []).append(text)


def username(value: str, problems: Problems) -> str:
    if not USERNAME.fullmatch(value):
        add(problems, "username", _("ユーザー名は英小文字・数字・「._-」の2〜64文字にしてください"))
    return value


def code(value: str, problems: Problems, key: str = "code") -> str:
    if not CODE.fullmatch(value):
        add(problems, key, _("コードは英小文字・数字・「_-」の32文字以内にしてください"))
    return value


def name(value: str, problems: Problems, key: str = "name", limit: int = 100) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        add(problems, key, _("{limit}文字以内で入力してください").format(limit=limit))
    return value


def e164(value: str | None, problems: Problems, key: str) -> str | None:
    """A sender number, stored in E.164 (``+81…``, what providers take); empty means none. Typed as
    officers know it (``050-1234-5678``) or in E.164; residents see it, so it must be a real number."""
    if not value:
        return None
    compact = re.sub(r"[\s\-()]", "", value)
    # Digits only (phonenumbers would take "x123" as an extension); a national number is Japanese.
    if re.fullmatch(r"\+?[0-9]+", compact):
        try:
            return normalise_phone(compact)
        except AddressError:
            pass
    add(problems, key, _("電話番号の形式が正しくありません（例: 050-1234-5678、+815012345678）"))
    return value


def email(value: str | None, problems: Problems, key: str) -> str | None:
    if not value:
        return None
    if len(value) > 254 or not EMAIL.fullmatch(value):
        add(problems, key, _("メールアドレスの形式が正しくありません"))
    return value


def area_code(value: str, family: str, problems: Problems) -> str:
    digits = AREA_FAMILIES.get(family)
    if digits is None:
        add(problems, "family", _("次のいずれかを指定してください: {values}").format(
            values=", ".join(AREA_FAMILIES)))
    elif not (value.isascii() and value.isdigit() and len(value) == digits):
        add(problems, "code", _("気象庁の地域コード（{n}桁の数字）を入力してください").format(n=digits))
    return value
