"""Every row of a personalised CSV send checked before anything is stored.

Address columns: ``phone``, ``email``, ``line_user_id`` (a raw address), or ``external_id`` (an
existing contact: its own addresses are used). Every other column is a value the title and body may
use as a placeholder (hub/notices/placeholders.py). A row is refused, with its line and reason, for
a bad address, an empty value a placeholder uses, a landline for SMS, no consent, a repeated
address, a text a channel cannot carry, or (reminders) a time already passed.

Consent (docs/notices.md): a row that is an existing contact — by ``external_id``, or because its
address is a contact's — follows that contact's own records: a resident needs a live consent on the
channel (a stop is final) and, if they chose categories, the send's category among them. Staff are
reached as part of their work. A raw address nobody registered needs the ``consent`` column (``all``,
``yes``/``はい``/``1``, or channels ``sms;email``): the department asserts the person agreed (for
instance on the booking form); without it the row is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.base import Capability, Channel, Draft, Rendered, skip_message
from hub.compose.quiet import send_time
from hub.contacts.addresses import AddressError, normalise_email, normalise_line_user, normalise_phone
from hub.contacts.importer import CONSENT_CHANNELS, consent_channels, decode_csv
from hub.models import Category, Consent, Contact, ContactKind, Department, Mode, MsgType
from hub.models.contacts import contact_categories
from hub.notices.placeholders import PlaceholderError, fill, used_names
from hub.notices.reminders import ReminderError, ReminderRule, quiet_hours_for, reminder_time
from hub.relay import clock
from hub.runtime import Runtime

ADDRESS_COLUMNS = ("phone", "email", "line_user_id")
CONTACT_COLUMN = "external_id"
CONSENT_COLUMN = "consent"
_NORMALISE = {"phone": normalise_phone, "email": normalise_email, "line_user_id": normalise_line_user}
MAX_ROWS = 50_000
MAX_CELL = 1000
SAMPLES = 3


class CsvSendError(ValueError):
    """The send cannot be checked at all (file, template, channels, rule); ``problems`` by field."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(p for ps in problems.values() for p in ps))


@dataclass
class SendRequest:
    """What the operator asks for: the file and the templates, the channels and the timing."""

    filename: str
    data: bytes
    title: str
    body: str
    channels: list[str]
    category_code: str | None = None
    department_id: int | None = None
    mode: str = Mode.ACTUAL
    reminder: str | None = None  # a ReminderRule; with ``date_column``
    date_column: str | None = None
    scheduled_at: datetime | None = None  # a plain send's time (None: now)


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclass
class GoodRow:
    line: int
    values: dict[str, str]
    addresses: dict[str, str]  # channel → address
    contact_id: int | None
    send_at: datetime  # UTC, already out of quiet hours
    rendered: dict[str, Rendered] = field(default_factory=dict)


@dataclass
class CheckReport:
    columns: list[str]
    placeholders: list[str]
    rows: list[GoodRow]
    errors: list[RowError]

    def preview(self, unit_price: float) -> dict[str, Any]:
        """Real rows per channel, rendered exactly as they will be sent, the longest, and the cost."""
        channels: dict[str, Any] = {}
        for name in sorted({ch for row in self.rows for ch in row.rendered}):
            mine = [row for row in self.rows if name in row.rendered]
            longest = max(mine, key=lambda r: (len(r.rendered[name].text), -r.line))
            units = sum(r.rendered[name].units for r in mine)
            channels[name] = {
                "recipients": len(mine),
                "samples": [_sample(r, name) for r in mine[:SAMPLES]],
                "longest": _sample(longest, name),
                "units": units,
            }
        sms_units = channels.get("sms", {}).get("units", 0)
        times = sorted({row.send_at for row in self.rows})
        return {
            "rows": len(self.rows) + len(self.errors), "good": len(self.rows), "columns": self.columns,
            "placeholders": self.placeholders,
            "errors": [{"line": e.line, "reason": e.reason} for e in self.errors],
            "channels": channels,
            "sms_segments": sms_units, "unit_price_yen": unit_price,
            "estimated_cost_yen": round(sms_units * unit_price, 2),
            "send_times": [{"at": t.isoformat(), "rows": sum(1 for r in self.rows if r.send_at == t)}
                           for t in times],
        }


def _sample(row: GoodRow, channel: str) -> dict[str, Any]:
    r = row.rendered[channel]
    return {"line": row.line, "address": row.addresses[channel], "subject": r.subject, "text": r.text,
            "units": r.units, "characters": len(r.text)}


def personal_channels(runtime: Runtime, names: Sequence[str]) -> tuple[list[Channel], dict[str, list[str]]]:
    """The chosen channels, refusing public ones: a personal text is never posted for everyone."""
    problems: dict[str, list[str]] = {}
    found: list[Channel] = []
    available = runtime.available_channels()
    for name in dict.fromkeys(names):
        if name not in available:
            problems.setdefault("channels", []).append(f"{name}: このチャネルはありません")
            continue
        channel = runtime.channel(name)
        if channel.capabilities & Capability.BROADCAST or not channel.address_field:
            problems.setdefault("channels", []).append(
                f"{name}: 一人ひとり宛ての差し込み文は、公開のチャネル（X・フィード）には送れません")
            continue
        found.append(channel)
    if not names:
        problems.setdefault("channels", []).append("チャネルを1つ以上選んでください")
    return found, problems


def read_rows(data: bytes) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header and (line, row) pairs; Shift_JIS and UTF-8 with or without BOM (the importer's reading)."""
    try:
        text = decode_csv(data)
    except ValueError as exc:
        raise CsvSendError({"file": [str(exc)]}) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [str(h or "").strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise CsvSendError({"file": [f"CSVの見出し行を読めません: {exc}"]}) from None
    reader.fieldnames = header

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for raw in reader:
                yield reader.line_num, {str(k): str(v or "").strip() for k, v in raw.items()
                                        if k is not None and isinstance(v, str)}
        except csv.Error as exc:
            raise CsvSendError({"file": [f"CSVの{reader.line_num}行目を読めません: {exc}"]}) from None

    return header, rows()


def check(session: Session, runtime: Runtime, req: SendRequest, now: datetime | None = None) -> CheckReport:
    """Check every row; raises CsvSendError only for what makes the whole send impossible."""
    now = now or clock.now()
    channels, problems = personal_channels(runtime, req.channels)
    if not req.title.strip() and not req.body.strip():
        problems.setdefault("body", []).append("件名か本文を入力してください")
    try:
        names = used_names(req.title, req.body)
    except PlaceholderError as exc:
        problems.setdefault("body", []).append(str(exc))
        names = []
    rule = None
    if req.reminder:
        try:
            rule = ReminderRule.parse(req.reminder)
        except ReminderError as exc:
            problems.setdefault("reminder", []).append(str(exc))
    header, rows = read_rows(req.data)
    if not header:
        problems.setdefault("file", []).append("CSVに見出し行がありません")
    if header and not {CONTACT_COLUMN, *ADDRESS_COLUMNS} & set(header):
        problems.setdefault("file", []).append(
            "宛先の列（phone / email / line_user_id / external_id）がありません")
    missing = [n for n in names if n not in header]
    if header and missing:
        problems.setdefault("body", []).append(f"CSVにない列が差し込まれています: {'、'.join(missing)}")
    if rule is not None and (not req.date_column or req.date_column not in header):
        problems.setdefault("date_column", []).append("リマインドの基準にする日時の列を指定してください")
    if problems:
        raise CsvSendError(problems)
    quiet = quiet_hours_for(session, runtime.settings, req.department_id)
    plain_at = send_time(quiet, MsgType.NOTICE, req.scheduled_at or now)
    parsed: list[tuple[int, dict[str, str]]] = []
    for n, (line, row) in enumerate(rows):
        if n >= MAX_ROWS:
            raise CsvSendError({"file": [f"一度に送れるのは{MAX_ROWS}行までです"]})
        parsed.append((line, row))
    people = _People(session, parsed, req.category_code)
    checker = _RowChecker(req, channels, names, people, rule, quiet, plain_at, now)
    department = session.get(Department, req.department_id) if req.department_id is not None else None
    checker.sender_name = department.name if department is not None else None
    good, errors = [], []
    for line, row in parsed:
        try:
            good.append(checker.row(line, row))
        except RowProblem as exc:
            errors.append(RowError(line, str(exc)))
    return CheckReport(columns=header, placeholders=names, rows=good, errors=errors)


class RowProblem(ValueError):
    pass


class _People:
    """The contacts a file names (by external id or address), with their consents and categories."""

    def __init__(self, session: Session, rows: Sequence[tuple[int, dict[str, str]]], category: str | None) -> None:
        external = {r.get(CONTACT_COLUMN) for _, r in rows} - {"", None}
        addresses: dict[str, set[str]] = {col: set() for col in ADDRESS_COLUMNS}
        for _, r in rows:
            for col in ADDRESS_COLUMNS:
                try:
                    if r.get(col):
                        addresses[col].add(_NORMALISE[col](r[col]))
                except AddressError:
                    pass
        wanted = {**{col: vals for col, vals in addresses.items() if vals},
                  **({CONTACT_COLUMN: {v for v in external if v}} if external else {})}
        found = list({c.id: c for col, vals in wanted.items() for chunk in _chunks(sorted(vals))
                      for c in session.scalars(select(Contact).where(getattr(Contact, col).in_(chunk)))}.values())
        self.by_external = {c.external_id: c for c in found if c.external_id}
        self.by_address = {(col, getattr(c, col)): c for c in found for col in ADDRESS_COLUMNS if getattr(c, col)}
        ids = [c.id for c in found]
        self.live: set[tuple[int, str]] = set()
        self.stopped: set[tuple[int, str]] = set()
        self.unwanted: set[int] = set()
        for chunk in _chunks(ids):
            self._records(session, chunk, category)
        self.stopped -= self.live

    def _records(self, session: Session, ids: Sequence[int], category: str | None) -> None:
        for contact_id, channel, revoked_at in session.execute(
                select(Consent.contact_id, Consent.channel, Consent.revoked_at).where(Consent.contact_id.in_(ids))):
            (self.stopped if revoked_at is not None else self.live).add((contact_id, channel))
        if category:
            chosen: dict[int, set[str]] = {}
            for contact_id, code in session.execute(
                    select(contact_categories.c.contact_id, Category.code)
                    .join(Category, Category.id == contact_categories.c.category_id)
                    .where(contact_categories.c.contact_id.in_(ids))):
                chosen.setdefault(contact_id, set()).add(code)
            self.unwanted |= {cid for cid, codes in chosen.items() if category not in codes}


T = TypeVar("T")
CHUNK = 500  # bound parameters per lookup: SQLite allows few, and a big file is 50,000 rows


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


class _RowChecker:
    def __init__(self, req: SendRequest, channels: Sequence[Channel], names: Sequence[str], people: _People,
                 rule: ReminderRule | None, quiet: Any, plain_at: datetime, now: datetime) -> None:
        self.req, self.channels, self.names, self.people = req, channels, names, people
        self.rule, self.quiet, self.plain_at, self.now = rule, quiet, plain_at, now
        self.seen: dict[tuple[datetime, str, str], int] = {}  # (send time, channel, address) → line
        self.sender_name: str | None = None  # the department, as the send will name it

    def row(self, line: int, row: dict[str, str]) -> GoodRow:
        if any(len(v) > MAX_CELL for v in row.values()):
            raise RowProblem(f"{MAX_CELL}文字を超える値があります")
        empty = [n for n in self.names if not row.get(n)]
        if empty:
            raise RowProblem(f"差し込む値が空です: {'、'.join(empty)}")
        contact, raw = self._who(row)
        addresses = self._addresses(contact, raw)
        if not addresses:
            wanted = "、".join(sorted({c.address_field or "" for c in self.channels}))
            raise RowProblem(f"選んだチャネルの宛先がありません（{wanted}）")
        self._consent(contact, row, addresses)
        send_at = self._send_at(row)
        for channel_name, address in addresses.items():
            earlier = self.seen.get((send_at, channel_name, address))
            if earlier is not None:
                raise RowProblem(f"{earlier}行目と同じ宛先です（{channel_name}: {address}）")
        rendered = {}
        for channel in self.channels:
            if channel.name not in addresses:
                continue
            try:
                rendered[channel.name] = render_row(channel, self.req.title, self.req.body, row,
                                                    self.req.mode, None, sender_name=self.sender_name)
            except PlaceholderError as exc:
                raise RowProblem(str(exc)) from None
            errors = rendered[channel.name].errors
            if errors:
                raise RowProblem(f"{channel.name}: {errors[0]}")
        for channel_name, address in addresses.items():
            self.seen[(send_at, channel_name, address)] = line
        return GoodRow(line=line, values=row, addresses=addresses, contact_id=contact.id if contact else None,
                       send_at=send_at, rendered=rendered)

    def _who(self, row: dict[str, str]) -> tuple[Contact | None, dict[str, str]]:
        external = row.get(CONTACT_COLUMN)
        if external:
            contact = self.people.by_external.get(external)
            if contact is None or not contact.active:
                raise RowProblem(f"external_id「{external}」の連絡先は登録されていません")
            return contact, {}
        raw: dict[str, str] = {}
        for col in ADDRESS_COLUMNS:
            if row.get(col):
                try:
                    raw[col] = _NORMALISE[col](row[col])
                except AddressError as exc:
                    raise RowProblem(str(exc)) from None
        known = [self.people.by_address.get((col, value)) for col, value in raw.items()]
        contact = next((c for c in known if c is not None and c.active), None)
        return contact, raw

    def _addresses(self, contact: Contact | None, raw: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for channel in self.channels:
            field_name = channel.address_field or ""
            address = raw.get(field_name) if raw else getattr(contact, field_name, None)
            if not address:
                continue
            reason = channel.check_address(address)
            if reason == "not_mobile" and channel.name == "sms":
                raise RowProblem(f"携帯電話の番号ではないためSMSを送れません（固定電話など）: {address}")
            if reason:
                raise RowProblem(f"{channel.name}: {skip_message(reason)}: {address}")
            out[channel.name] = address
        return out

    def _consent(self, contact: Contact | None, row: dict[str, str], addresses: dict[str, str]) -> None:
        if contact is not None:
            if contact.kind != ContactKind.RESIDENT:
                return
            if contact.id in self.people.unwanted:
                raise RowProblem(f"本人が分類「{self.req.category_code}」の配信を希望していません")
            for channel in addresses:
                if (contact.id, channel) in self.people.stopped:
                    raise RowProblem(f"本人の申し出により{channel}での配信を停止しています")
                if (contact.id, channel) not in self.people.live:
                    raise RowProblem(f"登録済みの本人に{channel}での配信の同意がありません")
            return
        try:
            agreed = set(consent_channels(row.get(CONSENT_COLUMN, ""))) if row.get(CONSENT_COLUMN) else set()
        except ValueError as exc:
            raise RowProblem(str(exc)) from None
        lacking = [ch for ch in addresses if ch in CONSENT_CHANNELS and ch not in agreed]
        if lacking:
            raise RowProblem(f"同意がありません（consent 列に {'、'.join(lacking)} または all）")

    def _send_at(self, row: dict[str, str]) -> datetime:
        if self.rule is None:
            return self.plain_at
        cell = row.get(self.req.date_column or "", "")
        if not cell:
            raise RowProblem(f"日時の列「{self.req.date_column}」が空です")
        try:
            return reminder_time(self.rule, cell, self.quiet, self.now)
        except ReminderError as exc:
            raise RowProblem(str(exc)) from None


def render_row(channel: Channel, title: str, body: str, values: dict[str, Any], mode: str,
               message_id: int | None, overrides: dict[str, str] | None = None,
               sender_name: str | None = None, msg_type: str = MsgType.NOTICE,
               update_label: str = "訂正") -> Rendered:
    """One recipient's text on ``channel``: the templates filled with the row's values, then shaped by
    the channel exactly as a message's stored body is (the preview and the send share this).
    ``sender_name``: the department, named on LINE and in e-mail like every notice (hub.compose.senders)."""
    override = (overrides or {}).get(channel.name)
    draft = Draft(title=fill(title, values), body=fill(body, values), mode=mode, msg_type=msg_type,
                  override=fill(override, values) if override else None, message_id=message_id,
                  sender_name=sender_name, update_label=update_label)
    return channel.render(draft)
