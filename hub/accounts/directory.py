"""Administration of departments (with their sender identities), categories and areas (admins only).

Nothing is deleted: messages, contacts and the audit log refer to these rows. A disabled one stays
for history and can no longer be used for a new message (the composer and the audience refuse it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.accounts import validate as v
from hub.accounts.admin import administer
from hub.accounts.errors import conflict, invalid, not_found
from hub.compose.quiet import QuietHoursError, read_setting
from hub.i18n import gettext as _
from hub.models import ApprovalPolicy, Area, Category, Department, audit, utcnow
from hub.policy import Principal
from hub.residents.easy_japanese import check as check_easy_japanese
from hub.residents.languages import EASY_JAPANESE, JAPANESE, LANGUAGES

Row = Department | Category | Area
KINDS: dict[str, type[Row]] = {"department": Department, "category": Category, "area": Area}
FIELDS: dict[str, tuple[str, ...]] = {
    "department": ("name", "sms_sender", "voice_sender", "email_sender", "email_sender_name", "approval",
                   "sms_gateway", "sms_failover_gateway", "karaden_service_id", "quiet_hours"),
    "category": ("name", "names"),
    "area": ("name", "names", "family"),
}
# Languages a category or area may be named in besides Japanese (its ``name``).
OTHER_LANGUAGES = tuple(code for code in LANGUAGES if code != JAPANESE)


def view(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "code": row.code}
    for name in FIELDS[_kind(row)]:
        out[name] = getattr(row, name)
    if "names" in out:
        out["names"] = dict(out["names"] or {})
    out["disabled"] = row.disabled_at is not None
    return out


def _kind(row: Row) -> str:
    return {Department: "department", Category: "category", Area: "area"}[type(row)]


def _clean(kind: str, values: Mapping[str, Any], problems: v.Problems, current: Row | None) -> dict[str, Any]:
    """Validated values of the fields given (all of them when creating)."""
    out: dict[str, Any] = {}
    unknown = set(values) - set(FIELDS[kind]) - {"code"}
    for key in sorted(unknown):
        v.add(problems, key, _("変更できない項目です"))
    if "names" in values and "names" not in unknown:
        out["names"] = _clean_names(values["names"], problems, current)
    text = {k: (None if values[k] in (None, "") else str(values[k]).strip())
            for k in values if k not in unknown and k != "names"}
    if "name" in text:
        out["name"] = v.name(text["name"] or "", problems)
    if kind == "department":
        for key in ("sms_sender", "voice_sender"):
            if key in text:
                out[key] = v.e164(text[key], problems, key)
        if "email_sender" in text:
            out["email_sender"] = v.email(text["email_sender"], problems, "email_sender")
        if "email_sender_name" in text:
            out["email_sender_name"] = (v.name(text["email_sender_name"] or "", problems, "email_sender_name")
                                        if text["email_sender_name"] else None)
        if "approval" in text:
            allowed = [p.value for p in ApprovalPolicy]
            if text["approval"] not in allowed:
                v.add(problems, "approval", _("次のいずれかを指定してください: {values}").format(
                    values=", ".join(allowed)))
            out["approval"] = text["approval"]
        _clean_sms_gateways(text, problems, out)
        if "quiet_hours" in text:
            try:
                out["quiet_hours"] = read_setting(text["quiet_hours"])
            except QuietHoursError as exc:
                v.add(problems, "quiet_hours", _("「21:00-08:00」の形か none で指定してください（{reason}）").format(
                    reason=_(str(exc))))
    if kind == "area" and ("family" in text or current is None):
        family = text.get("family") or (current.family if isinstance(current, Area) else "municipality")
        code = text.get("code") or (current.code if current else "")
        v.area_code(code, family, problems)
        out["family"] = family
    return out


def _clean_names(given: Any, problems: v.Problems, current: Row | None) -> dict[str, str]:
    """The row's names in other languages with ``given`` applied: a name per language code, an
    empty one removing that language (the Japanese name stands in for it again)."""
    if not isinstance(given, Mapping):
        v.add(problems, "names", _("言語コードと名前の組で指定してください"))
        return dict(getattr(current, "names", None) or {})
    names = dict(getattr(current, "names", None) or {})
    for code, raw in given.items():
        key = f"names.{code}"
        if code not in OTHER_LANGUAGES:
            v.add(problems, key, _("次のいずれかを指定してください: {values}").format(
                values=", ".join(OTHER_LANGUAGES)))
        elif raw is not None and not isinstance(raw, str):
            v.add(problems, key, _("文字列で指定してください"))
        elif not raw or not raw.strip():
            names.pop(code, None)
        else:
            names[code] = v.name(raw, problems, key)
    return {code: names[code] for code in OTHER_LANGUAGES if code in names}


def easy_japanese_notes(row: Mapping[str, Any]) -> list[str]:
    """What the composer's やさしい日本語 check finds in a row's やさしい日本語 name (a kanji past
    grade 3 without its reading, a loanword). The name is kept all the same: the admin decides,
    and is told where to look."""
    name = (row.get("names") or {}).get(EASY_JAPANESE)
    if not name:
        return []
    return [_("やさしい日本語の名前「{name}」: {note}").format(name=name, note=finding.message)
            for finding in check_easy_japanese(name)]


SMS_GATEWAYS = ("twilio", "karaden")
FAILOVER_CHOICES = (*SMS_GATEWAYS, "auto", "none")


def _clean_sms_gateways(text: Mapping[str, str | None], problems: v.Problems, out: dict[str, Any]) -> None:
    """The department's SMS gateway, its failover partner and its Karaden service id (empty: the hub's)."""
    for key, allowed in (("sms_gateway", SMS_GATEWAYS), ("sms_failover_gateway", FAILOVER_CHOICES)):
        if key in text:
            if text[key] is not None and text[key] not in allowed:
                v.add(problems, key, _("次のいずれかを指定してください: {values}").format(values=", ".join(allowed)))
            out[key] = text[key]
    if "karaden_service_id" in text:
        raw = text["karaden_service_id"]
        if raw is not None and not (raw.isdigit() and 0 < int(raw) < 2**31):
            v.add(problems, "karaden_service_id", _("正の整数を指定してください"))
        out["karaden_service_id"] = int(raw) if raw is not None and raw.isdigit() else None


def create(session: Session, actor: Principal, kind: str, code: str, values: Mapping[str, Any]) -> dict[str, Any]:
    administer(actor)
    model = KINDS[kind]
    problems: v.Problems = {}
    if kind == "area":
        cleaned = _clean(kind, {**values, "code": code}, problems, None)
    else:
        v.code(code, problems)
        cleaned = _clean(kind, values, problems, None)
    if "name" not in values:
        v.add(problems, "name", _("名前を入力してください"))
    if problems:
        raise invalid(problems, _("入力内容に問題があります"))
    if session.scalar(select(model.id).where(model.code == code)) is not None:
        raise conflict(_("コード「{code}」はすでに登録されています").format(code=code))
    row = model(code=code, **cleaned)
    session.add(row)
    session.flush()
    audit(session, actor.username, f"{kind}.create", row, code=code, **cleaned)
    return view(row)


def find(session: Session, kind: str, code: str) -> Row:
    model = KINDS[kind]
    row = cast("Row | None", session.scalar(select(model).where(model.code == code)))
    if row is None:
        raise not_found(_("「{code}」は登録されていません").format(code=code))
    return row


def listing(session: Session, actor: Principal, kind: str) -> list[dict[str, Any]]:
    administer(actor)
    model = KINDS[kind]
    rows: list[Row] = list(session.scalars(select(model).order_by(model.code)))
    return [view(row) for row in rows]


def update(session: Session, actor: Principal, kind: str, code: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Change the given fields; ``disabled`` true/false disables or enables the row."""
    administer(actor)
    row = find(session, kind, code)
    values = dict(values)
    disabled = values.pop("disabled", None)
    problems: v.Problems = {}
    if "code" in values:  # messages, contacts and rules refer to codes
        v.add(problems, "code", _("コードは変更できません"))
    cleaned = _clean(kind, values, problems, row)
    if "name" in values and not cleaned.get("name"):
        v.add(problems, "name", _("名前を入力してください"))
    if problems:
        raise invalid(problems, _("入力内容に問題があります"))
    diff = {k: [getattr(row, k), new] for k, new in cleaned.items() if getattr(row, k) != new}
    for key, (_old, new) in diff.items():
        setattr(row, key, new)
    if disabled is not None and bool(disabled) != (row.disabled_at is not None):
        diff["disabled"] = [row.disabled_at is not None, bool(disabled)]
        row.disabled_at = utcnow() if disabled else None
    if diff:
        audit(session, actor.username, f"{kind}.update", row, changes=diff)
    session.flush()
    return view(row)
