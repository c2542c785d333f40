"""CSV import of residents and staff. Every bad row is reported with its line number; good rows land.

Columns (header row required; only one address column is mandatory):
    external_id, kind (resident|staff), name, language, phone, email, line_user_id,
    department (code or name), position, areas (codes, ``;``-separated), categories (codes, ``;``),
    consent (channels ``sms;voice;email;line`` or ``all``), consent_source, consent_date (YYYY-MM-DD),
    exercise (yes/no: takes part in drills)
Files from Excel in Shift_JIS (cp932) are read as well as UTF-8 (with or without BOM).
A file that cannot be read at all (encoding, CSV structure) raises ValueError and imports nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.contacts.addresses import AddressError, normalise_email, normalise_line_user, normalise_phone
from hub.models import Area, Category, Consent, Contact, ContactKind, Department, RecipientList, audit
from hub.models.audit import AuditLog
from hub.models.base import table_of

T = TypeVar("T")
CONSENT_CHANNELS = ("sms", "voice", "email", "line")
_YES = {"1", "yes", "y", "true", "はい", "○", "〇"}


@dataclass
class RowError:
    line: int
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    contact_ids: list[int] = field(default_factory=list)
    list_id: int | None = None

    @property
    def imported(self) -> int:
        return self.created + self.updated

    def as_dict(self) -> dict[str, object]:
        return {"created": self.created, "updated": self.updated,
                "errors": [{"line": e.line, "reason": e.reason} for e in self.errors]}


def decode_csv(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("CSVの文字コードを判別できません（UTF-8 または Shift_JIS で保存してください）")


class _Lookups:
    def __init__(self, session: Session) -> None:
        self.areas = {a.code: a for a in session.scalars(select(Area))}
        self.categories = {c.code: c for c in session.scalars(select(Category))}
        self.categories.update({c.name: c for c in self.categories.copy().values()})
        depts = list(session.scalars(select(Department)))
        self.departments = {d.code: d for d in depts} | {d.name: d for d in depts}


def import_contacts(session: Session, data: bytes, source: str, actor: str = "cli",
                    list_name: str | None = None) -> ImportReport:
    """Import rows; the caller commits. With ``list_name``, the imported contacts also form a list."""
    report = ImportReport()
    source = source[:MAX_SOURCE]  # a long file name must not fail the import at the audit entry
    text = decode_csv(data)
    if "\x00" in text:  # a damaged or binary file; PostgreSQL stores no NUL in text (an error at flush)
        raise ValueError("CSVにNUL文字が含まれています（壊れたファイルか、CSVではありません）")
    # newline="": the csv module splits lines itself, so a bare CR (old Mac Excel) ends a row
    # instead of raising csv.Error in the middle of a field.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fieldnames = reader.fieldnames
    except csv.Error as exc:
        raise ValueError(f"CSVの見出し行を読めません: {exc}") from exc
    if not fieldnames or not {"phone", "email", "line_user_id"} & {f.strip() for f in fieldnames}:
        report.errors.append(RowError(1, "見出し行に phone / email / line_user_id のいずれかの列が必要です"))
        return report
    lookups = _Lookups(session)
    for row in _rows(reader):
        line = reader.line_num
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            contact, created = _upsert(session, clean, lookups, source)
        except (AddressError, ValueError) as exc:
            report.errors.append(RowError(line, str(exc)))
            continue
        session.flush()
        report.contact_ids.append(contact.id)
        if created:
            report.created += 1
        else:
            report.updated += 1
    if list_name is not None:
        members = list(session.scalars(select(Contact).where(Contact.id.in_(report.contact_ids))))
        recipient_list = RecipientList(name=list_name[:MAX_LIST_NAME], members=members)
        session.add(recipient_list)
        session.flush()
        report.contact_ids = [c.id for c in members]
        report.list_id = recipient_list.id
    audit(session, actor, "contacts.import", ("csv", source), **report.as_dict())
    return report


def _rows(reader: csv.DictReader[str]) -> Iterator[dict[str | Any, str | Any]]:
    """The rows; a file the csv module cannot split into rows at all is a ValueError.

    That is the importer's one error type: the caller's transaction rolls back, so a file that
    breaks half-way imports nothing rather than its first half.
    """
    try:
        yield from reader
    except csv.Error as exc:
        raise ValueError(f"CSVの{reader.line_num}行目を読めません: {exc}") from exc


def _length(model: type[Any], column: str) -> int:
    length = table_of(model).c[column].type.length  # type: ignore[attr-defined]
    assert isinstance(length, int)
    return length


# Text stored as given, with its column's length: PostgreSQL refuses a longer value at flush,
# which lost the whole file (SQLite stores it, so only PostgreSQL showed it; found by fuzzing).
TEXT_LIMITS = {
    "external_id": _length(Contact, "external_id"), "name": _length(Contact, "name"),
    "language": _length(Contact, "language"), "position": _length(Contact, "position"),
    "email": _length(Contact, "email"), "consent_source": _length(Consent, "source"),
}
# The import's source ("csv:FILE", "api:FILE") is the audit entry's subject id, the shorter column.
MAX_SOURCE = _length(AuditLog, "subject_id")
MAX_LIST_NAME = _length(RecipientList, "name")


def _upsert(session: Session, row: dict[str, str], lookups: _Lookups, source: str) -> tuple[Contact, bool]:
    too_long = [key for key, limit in TEXT_LIMITS.items() if len(row.get(key) or "") > limit]
    if too_long:
        raise ValueError("、".join(f"{key} は {TEXT_LIMITS[key]} 文字以内です" for key in too_long))
    phone = normalise_phone(row["phone"]) if row.get("phone") else None
    email = normalise_email(row["email"]) if row.get("email") else None
    line_id = normalise_line_user(row["line_user_id"]) if row.get("line_user_id") else None
    if not (phone or email or line_id):
        raise ValueError("連絡先（phone / email / line_user_id）がありません")
    kind = row.get("kind") or ContactKind.RESIDENT
    if kind not in (ContactKind.RESIDENT, ContactKind.STAFF):
        raise ValueError(f"kind は resident か staff です: {kind!r}")
    # Once each: "0321500;0321500" or a category by code and by name inserted the same pair twice
    # (a unique violation that lost the whole file).
    areas = list(dict.fromkeys(_lookup(lookups.areas, code, "地域コード") for code in _split(row.get("areas"))))
    categories = list(dict.fromkeys(_lookup(lookups.categories, code, "分類")
                                    for code in _split(row.get("categories"))))
    department = _lookup(lookups.departments, row["department"], "部署") if row.get("department") else None
    consent = _consent_channels(row.get("consent", ""))
    consent_date = _date(row.get("consent_date", ""))

    contact, created = _find(session, row.get("external_id") or None, phone, email, line_id), False
    _check_line_id_free(session, contact, line_id)
    if contact is None:
        contact, created = Contact(external_id=row.get("external_id") or None), True
        session.add(contact)
    contact.kind = kind
    contact.name = row.get("name", contact.name or "")
    contact.language = row.get("language") or contact.language or "ja"
    contact.phone, contact.email, contact.line_user_id = phone, email, line_id
    contact.department, contact.position = department, row.get("position") or None
    contact.exercise_participant = row.get("exercise", "").lower() in _YES
    contact.areas, contact.categories = areas, categories
    contact.active = True
    live = {c.channel for c in contact.consents if c.revoked_at is None}
    for channel in consent:
        if channel not in live:
            contact.consents.append(Consent(channel=channel, source=row.get("consent_source") or source,
                                            given_at=consent_date))
    return contact, created


def _check_line_id_free(session: Session, contact: Contact | None, line_id: str | None) -> None:
    """A LINE user is one contact (a unique column): a second one was an IntegrityError that lost the file.

    Checked before the row touches anything, so a refused row changes nothing.
    """
    if not line_id:
        return
    owner = session.scalar(select(Contact.id).where(Contact.line_user_id == line_id))
    if owner is not None and (contact is None or owner != contact.id):
        raise ValueError(f"line_user_id は別の連絡先（ID {owner}）に登録済みです")


def _find(session: Session, external_id: str | None, phone: str | None, email: str | None,
          line_id: str | None) -> Contact | None:
    if external_id:
        return session.scalar(select(Contact).where(Contact.external_id == external_id))
    conditions = []
    if phone:
        conditions.append(Contact.phone == phone)
    if email:
        conditions.append(Contact.email == email)
    if line_id:
        conditions.append(Contact.line_user_id == line_id)
    return session.scalars(select(Contact).where(Contact.external_id.is_(None), or_(*conditions))).first()


def _split(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").replace("|", ";").replace("、", ";").split(";") if p.strip()]


def _lookup(table: Mapping[str, T], key: str, what: str) -> T:
    if key not in table:
        raise ValueError(f"{what}「{key}」は登録されていません")
    return table[key]


def _consent_channels(value: str) -> list[str]:
    parts = _split(value)
    if [p.lower() for p in parts] in (["all"], ["yes"], ["はい"]):
        return list(CONSENT_CHANNELS)
    bad = [p for p in parts if p not in CONSENT_CHANNELS]
    if bad:
        allowed = ", ".join(CONSENT_CHANNELS)
        raise ValueError(f"consent の値が正しくありません: {', '.join(bad)}（{allowed} または all）")
    return parts


def _date(value: str) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"consent_date は YYYY-MM-DD です: {value!r}") from exc


def import_file(session: Session, path: Path, actor: str = "cli", list_name: str | None = None) -> ImportReport:
    return import_contacts(session, path.read_bytes(), source=f"csv:{path.name}", actor=actor,
                           list_name=list_name)
