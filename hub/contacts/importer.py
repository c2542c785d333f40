"""CSV import of residents and staff. Every bad row is reported with its line number; good rows land.

Columns (header row required; an address column or ``external_id`` is mandatory):
    external_id, kind (resident|staff), name, language, phone, email, line_user_id,
    department (code or name), position, areas (codes, ``;``-separated), categories (codes, ``;``),
    consent (channels ``sms;voice;email;line`` or ``all``), consent_source, consent_date (YYYY-MM-DD),
    exercise (yes/no: takes part in drills)
Files from Excel in Shift_JIS (cp932) are read as well as UTF-8 (with or without BOM).

Updating an existing contact (matched by external_id, else by an address):
    * a column left out of the file never touches the stored value;
    * an empty cell leaves the stored value unchanged;
    * a single ``-`` clears it (addresses, name, position, department, areas, categories; ``exercise``
      becomes no). Consent is only ever added by an import; ``-`` is not a consent value.
A consent the resident revoked (SMS STOP, an e-mail's unsubscribe, a LINE block) stays revoked: the
same file imported again never re-subscribes. Only a row whose ``consent_date`` is given and falls
on a day after the stop (Japan time), and not in the future, is a new consent; any other row still
updates the contact, and the consents it did not renew are counted in ``kept_revoked``.
Who may import what (docs/security.md): a row is applied only if the operator may manage the contact
(``MANAGE_CONTACTS`` in its department, before and after the change; a department-less resident
contact: an admin or a sender of a department in ``HUB_RESIDENT_REGISTRY``). Any other row is an
error line and changes nothing.
Rows are committed every ``CHUNK_ROWS`` so a large file never holds SQLite's write lock for long
(alerts keep going out during an import); a file stopped half-way keeps the chunks before.
A file that cannot be read at all (encoding, CSV structure) raises ValueError and imports nothing.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from hub.config import Keys, Settings
from hub.contacts.addresses import AddressError, normalise_email, normalise_line_user, normalise_phone
from hub.contacts.erasure import erased_on, lookup_keys
from hub.csvsafe import read_cell
from hub.models import Area, Category, Consent, Contact, ContactKind, Department, RecipientList, audit
from hub.models.audit import AuditLog
from hub.models.base import table_of
from hub.policy import SYSTEM, Principal, may_manage_contact

T = TypeVar("T")
JST = timezone(timedelta(hours=9), "JST")
CONSENT_CHANNELS = ("sms", "voice", "email", "line")
_YES = {"1", "yes", "y", "true", "はい", "○", "〇"}
CLEAR = "-"  # the cell value that clears a stored field
CHUNK_ROWS = 500


class NotYours(ValueError):
    """The row would change a contact the operator may not manage."""


def resident_registry(session: Session, settings: Settings) -> frozenset[int]:
    """The departments whose senders keep the resident register (``HUB_RESIDENT_REGISTRY`` codes)."""
    codes = [c.strip() for c in settings.resident_registry.split(",") if c.strip()]
    if not codes:
        return frozenset()
    return frozenset(session.scalars(select(Department.id).where(Department.code.in_(codes))))


@dataclass
class RowError:
    line: int
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    kept_revoked: int = 0  # consents in the file left revoked: the resident stopped after that consent
    errors: list[RowError] = field(default_factory=list)
    contact_ids: list[int] = field(default_factory=list)
    list_id: int | None = None

    @property
    def imported(self) -> int:
        return self.created + self.updated

    def as_dict(self) -> dict[str, object]:
        return {"created": self.created, "updated": self.updated, "kept_revoked": self.kept_revoked,
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
        areas = list(session.scalars(select(Area)))
        # By name too, as the export writes them, where the name is one area's only.
        named = Counter(a.name for a in areas)
        self.areas = {a.name: a for a in areas if named[a.name] == 1} | {a.code: a for a in areas}
        self.categories = {c.code: c for c in session.scalars(select(Category))}
        self.categories.update({c.name: c for c in self.categories.copy().values()})
        depts = list(session.scalars(select(Department)))
        self.departments = {d.code: d for d in depts} | {d.name: d for d in depts}


def import_contacts(session: Session, data: bytes, source: str, actor: str = "cli",
                    list_name: str | None = None, *, secret_key: Keys, principal: Principal = SYSTEM,
                    registry: frozenset[int] = frozenset()) -> ImportReport:
    """Import rows for ``principal``, committing every CHUNK_ROWS rows; the caller commits the rest.

    With ``list_name``, the imported contacts also form a list. ``secret_key`` (the hub's) keys the
    hashes by which a row of someone erased on request is recognised (hub/contacts/erasure.py).
    """
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
    # An address column finds and creates contacts; external_id alone may update stored ones.
    if not fieldnames or not {"phone", "email", "line_user_id", "external_id"} & {f.strip() for f in fieldnames}:
        report.errors.append(
            RowError(1, "見出し行に external_id / phone / email / line_user_id のいずれかの列が必要です"))
        return report
    lookups = _Lookups(session)
    allowed = _Allowed(principal, registry)
    _open_transaction(session)
    fingerprint_keys = lookup_keys(session, secret_key)
    for n, row in enumerate(_rows(reader), start=1):
        if n > 1 and (n - 1) % CHUNK_ROWS == 0:
            session.commit()  # a chunk done: let an alert's writes in
            _open_transaction(session)
            fingerprint_keys = lookup_keys(session, secret_key)  # a first erasure may have made its key
        line = reader.line_num
        # Only the columns the file has: a missing column is "leave as stored", never "blank".
        clean = {(k or "").strip(): read_cell((v or "").strip()) for k, v in row.items() if k is not None}
        try:
            with session.begin_nested():  # a refused or bad row leaves nothing behind
                contact, created, kept = _upsert(session, clean, lookups, source, allowed, fingerprint_keys)
                session.flush()
        except (AddressError, ValueError) as exc:
            report.errors.append(RowError(line, str(exc)))
            continue
        report.contact_ids.append(contact.id)
        report.kept_revoked += kept
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


def _open_transaction(session: Session) -> None:
    # pysqlite opens a transaction only before a data change, so a SAVEPOINT issued first became
    # the outer transaction and its RELEASE committed each row at once: a file that breaks half-way
    # kept its first rows on SQLite only. A write that changes nothing opens the real transaction.
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE contacts SET id = id WHERE 0 = 1"))


class _Allowed:
    def __init__(self, principal: Principal, registry: frozenset[int]) -> None:
        self.principal, self.registry = principal, registry

    def check(self, department_id: int | None) -> None:
        if not may_manage_contact(self.principal, department_id, self.registry):
            where = "住民名簿（部署なし）" if department_id is None else "その部署"
            raise NotYours(f"{where}の連絡先を変更する権限がないため、この行は取り込みません")


def _address(row: dict[str, str], key: str, normalise: Callable[[str], str]) -> str | _Keep | None:
    value = row.get(key, "")
    if not value:
        return KEEP
    return None if value == CLEAR else normalise(value)


class _Keep:
    """A cell that leaves the stored value as it is (column missing or cell empty)."""


KEEP = _Keep()


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


def _upsert(session: Session, row: dict[str, str], lookups: _Lookups, source: str,
            allowed: _Allowed, fingerprint_keys: Sequence[str]) -> tuple[Contact, bool, int]:
    too_long = [key for key, limit in TEXT_LIMITS.items() if len(row.get(key) or "") > limit]
    if too_long:
        raise ValueError("、".join(f"{key} は {TEXT_LIMITS[key]} 文字以内です" for key in too_long))
    phone = _address(row, "phone", normalise_phone)
    email = _address(row, "email", normalise_email)
    line_id = _address(row, "line_user_id", normalise_line_user)
    kind = row.get("kind") or None
    if kind is not None and kind not in (ContactKind.RESIDENT, ContactKind.STAFF):
        raise ValueError(f"kind は resident か staff です: {kind!r}")
    areas = _many(row, "areas", lookups.areas, "地域コード")
    categories = _many(row, "categories", lookups.categories, "分類")
    department: Department | _Keep | None = KEEP
    if row.get("department"):
        department = None if row["department"] == CLEAR else _lookup(lookups.departments, row["department"], "部署")
    consent = consent_channels(row.get("consent", ""))
    consent_date = _date(row.get("consent_date", ""))

    given = {"external_id": row.get("external_id") or None,
             **{kind: a if isinstance(a, str) else None
                for kind, a in (("phone", phone), ("email", email), ("line", line_id))}}
    found = _find(session, given["external_id"], given["phone"], given["email"], given["line"])
    if found is None:
        _refuse_if_erased(session, fingerprint_keys, given, consent_date if row.get("consent_date") else None)
    if found is not None:
        allowed.check(found.department_id)  # whose contact it is now
    target_department = found.department if found is not None and isinstance(department, _Keep) else (
        None if isinstance(department, _Keep) else department)
    allowed.check(target_department.id if target_department is not None else None)  # and whose it becomes
    _check_line_id_free(session, found, line_id if isinstance(line_id, str) else None)
    contact, created = found, False
    if contact is None:
        contact, created = Contact(external_id=row.get("external_id") or None, kind=ContactKind.RESIDENT,
                                   name="", language="ja", exercise_participant=False), True
        session.add(contact)
    if kind is not None:
        contact.kind = kind
    reachable = bool(contact.phone or contact.email or contact.line_user_id)
    for attr, value in (("phone", phone), ("email", email), ("line_user_id", line_id)):
        if not isinstance(value, _Keep):
            setattr(contact, attr, value)
    # A new contact needs an address, and a row may not take a contact's last one away; one stored
    # without any (its addresses withdrawn) may still be updated, so an export imports again.
    if not (contact.phone or contact.email or contact.line_user_id) and (created or reachable):
        raise ValueError("連絡先（phone / email / line_user_id）がありません")
    if row.get("name"):
        contact.name = "" if row["name"] == CLEAR else row["name"]
    if row.get("language"):
        contact.language = "ja" if row["language"] == CLEAR else row["language"]
    if not isinstance(department, _Keep):
        contact.department = department
    if row.get("position"):
        contact.position = None if row["position"] == CLEAR else row["position"]
    if row.get("exercise"):
        contact.exercise_participant = row["exercise"].lower() in _YES
    if not isinstance(areas, _Keep):
        contact.areas = areas
    if not isinstance(categories, _Keep):
        contact.categories = categories
    contact.active = True
    live = {c.channel for c in contact.consents if c.revoked_at is None}
    kept = 0
    for channel in consent:
        if channel in live:
            continue
        if not _renews(contact, channel, consent_date if row.get("consent_date") else None):
            kept += 1
            continue
        contact.consents.append(Consent(channel=channel, source=row.get("consent_source") or source,
                                        given_at=consent_date))
    return contact, created, kept


def _refuse_if_erased(session: Session, fingerprint_keys: Sequence[str], given: dict[str, str | None],
                      consent_date: datetime | None) -> None:
    """A person erased on their request comes back only with a consent given after the erasure:
    the city's own list, imported again, must not undo the request."""
    erased = erased_on(session, fingerprint_keys, given)
    if erased is None or _dated_after(erased, consent_date):
        return
    day = erased.astimezone(JST).date()
    raise ValueError(f"本人の請求により{day:%Y-%m-%d}に消去した連絡先です。取り込むには、"
                     "消去より後の consent_date（本人の新しい同意）が必要です")


def _renews(contact: Contact, channel: str, consent_date: datetime | None) -> bool:
    """Whether a row's consent may be added: always where nobody stopped the channel; after a stop,
    only a consent dated (explicitly) on a later day than the stop, in Japan time.

    A date, not a time, is what a paper form or a spreadsheet carries; a consent given the day of
    the stop cannot be told from the one it stopped, so it waits for the resident's own sign-up.
    """
    stops = [c.revoked_at for c in contact.consents if c.channel == channel and c.revoked_at is not None]
    if not stops:
        return True
    return _dated_after(max(stops), consent_date)


def _dated_after(moment: datetime, consent_date: datetime | None) -> bool:
    """A consent dated (explicitly) on a later day than ``moment`` (a stop, an erasure), in Japan
    time; a date in the future is a typo, not a consent: it must not undo either."""
    if consent_date is None:
        return False
    return moment.astimezone(JST).date() < consent_date.date() <= datetime.now(JST).date()


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
    if not conditions:
        return None
    # Several may match (one by phone, another by e-mail): the oldest, the same one on every
    # database and every run (PostgreSQL returns unordered rows in whatever order it finds them).
    return session.scalars(select(Contact).where(Contact.external_id.is_(None), or_(*conditions))
                           .order_by(Contact.id)).first()


def _many(row: dict[str, str], key: str, table: Mapping[str, T], what: str) -> list[T] | _Keep:
    value = row.get(key, "")
    if not value:
        return KEEP
    # Once each: "0321500;0321500" or a category by code and by name inserted the same pair twice
    # (a unique violation that lost the whole file).
    return [] if value == CLEAR else list(dict.fromkeys(_lookup(table, code, what) for code in _split(value)))


def _split(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").replace("|", ";").replace("、", ";").split(";") if p.strip()]


def _lookup(table: Mapping[str, T], key: str, what: str) -> T:
    if key not in table:
        raise ValueError(f"{what}「{key}」は登録されていません")
    return table[key]


def consent_channels(value: str) -> list[str]:
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


def import_file(session: Session, path: Path, actor: str = "cli", list_name: str | None = None, *,
                secret_key: Keys, principal: Principal = SYSTEM, registry: frozenset[int] = frozenset()
                ) -> ImportReport:
    return import_contacts(session, path.read_bytes(), source=f"csv:{path.name}", actor=actor,
                           list_name=list_name, secret_key=secret_key, principal=principal, registry=registry)
