"""A personalised message at send time: planning's rows from its CSV rows, and each recipient's text.

Planning (hub/dispatch/planning.py) asks :func:`csv_page` for a message whose audience is
``personal:<csv send>``: one delivery row per CSV row and channel, carrying ``csv_row_id``. The
resident's own records are asked again here, not only when the file was checked: a reminder planned
two weeks ago must not reach someone who stopped the channel, or the category, since.

:func:`personal_contents` renders each recipient's text from the message's stored template and the
row's values, deterministically: the same batch rebuilt by the sweeper after a crash, or asked of
Twilio when reconciling, carries exactly the text the first try sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from channels.base import Channel, Recipient, Rendered, skip_message
from hub.compose.audience import wants_category
from hub.models import Consent, Contact, ContactKind, CsvRow, Delivery, DeliveryState, Message, follows_up
from hub.notices.check import render_row
from hub.notices.placeholders import PlaceholderError, used_names

if TYPE_CHECKING:
    from hub.compose.messages import Composition

SAMPLE_NOTE = "差し込み（{{列}}）は一人ひとりの値で送ります（ここでは元のファイルの1行目で表示しています）"


def is_personal(message: Message) -> bool:
    """Each recipient's own text: a CSV send's message, or a correction of one that uses its columns."""
    return message.audience.startswith("personal:") or bool((message.meta or {}).get("personal"))


def follow_up_columns(session: Session, original: Message, sources: Sequence[str],
                      translated: bool) -> tuple[bool, dict[str, list[str]], dict[str, Any]]:
    """Whether a follow-up of ``original`` is personal (its words use the send's columns, 「{{氏名}}様」),
    what is wrong with it (a column the file lacks, or translations: a filled text is Japanese, one per
    person; a machine translation would mangle the braces), and the file's first row (the sample)."""
    if not is_personal(original):
        return False, {}, {}
    try:
        names = used_names(*sources)
    except PlaceholderError as exc:
        return False, {"body": [str(exc)]}, {}
    if not names:
        return False, {}, {}
    sample = session.scalar(select(CsvRow.values).where(CsvRow.message_id == original.id)
                            .order_by(CsvRow.id).limit(1)) or {}
    problems: dict[str, list[str]] = {}
    missing = [name for name in names if name not in sample]
    if missing:
        columns = "、".join(sample) or "なし"
        problems["body"] = [f"元のファイルにない列です: {'、'.join(missing)}（使える列: {columns}）"]
    if translated:
        problems["texts"] = ["差し込み（{{列}}）を使う訂正は翻訳できません。一人ひとりに日本語で送ります"]
    return True, problems, sample


def csv_page(session: Session, message: Message, channels: Sequence[Channel], after: int, limit: int,
             now: datetime) -> tuple[list[dict[str, Any]], int | None]:
    """The next ``limit`` CSV rows of ``message`` after row id ``after``, as delivery rows."""
    found = list(session.scalars(select(CsvRow).where(CsvRow.message_id == message.id, CsvRow.id > after)
                                 .order_by(CsvRow.id).limit(limit)))
    if not found:
        return [], None
    names = [c.name for c in channels]
    contact_ids = {r.contact_id for r in found if r.contact_id is not None}
    kinds: dict[int, str] = {cid: kind for cid, kind in session.execute(select(Contact.id, Contact.kind).where(
        Contact.id.in_(contact_ids), Contact.active.is_(True)))} if contact_ids else {}
    residents = {cid for cid, kind in kinds.items() if kind == ContactKind.RESIDENT}
    unwanted: set[int] = set()
    if message.category_code and residents:
        wanting = set(session.scalars(select(Contact.id).where(
            Contact.id.in_(residents), wants_category(message.category_code))))
        unwanted = residents - wanting
    live, stopped = _consents(session, residents, names)
    stopped_addresses = _stopped_addresses(session, found, names)
    rows: list[dict[str, Any]] = []
    for csv_row in found:
        for channel in channels:
            address = (csv_row.addresses or {}).get(channel.name)
            if not address:
                continue
            reason = "inactive" if csv_row.contact_id is not None and csv_row.contact_id not in kinds else \
                _reason(csv_row, channel.name, address, residents, unwanted, live, stopped, stopped_addresses)
            reason = reason or channel.check_address(address)
            row = {
                "message_id": message.id, "channel": channel.name, "contact_id": csv_row.contact_id,
                "address": address, "language": "ja", "batch_no": 0, "state": DeliveryState.PENDING,
                "reason": None, "error": None, "attempts": 0, "updated_at": now, "csv_row_id": csv_row.id,
            }
            if reason:
                row.update(state=DeliveryState.SKIPPED, reason=reason, error=skip_message(reason), batch_no=-1)
            rows.append(row)
    return rows, found[-1].id


def _reason(row: CsvRow, channel: str, address: str, residents: set[int], unwanted: set[int],
            live: set[tuple[int, str]], stopped: set[tuple[int, str]],
            stopped_addresses: set[tuple[str, str]]) -> str | None:
    if row.contact_id in residents:
        if row.contact_id in unwanted:
            return "category_unwanted"
        if (row.contact_id, channel) not in live:
            return "opted_out" if (row.contact_id, channel) in stopped else "no_consent"
        return None
    # A raw address: whoever registered it since and stopped the channel is not written to.
    return "opted_out" if (channel, address) in stopped_addresses else None


def _consents(session: Session, contact_ids: set[int],
              channels: list[str]) -> tuple[set[tuple[int, str]], set[tuple[int, str]]]:
    live: set[tuple[int, str]] = set()
    revoked: set[tuple[int, str]] = set()
    if not contact_ids:
        return live, revoked
    for contact_id, channel, revoked_at in session.execute(
            select(Consent.contact_id, Consent.channel, Consent.revoked_at)
            .where(Consent.contact_id.in_(contact_ids), Consent.channel.in_(channels))):
        (revoked if revoked_at is not None else live).add((contact_id, channel))
    return live, revoked - live


_FIELDS = {"sms": "phone", "voice": "phone", "email": "email", "line": "line_user_id"}


def _stopped_addresses(session: Session, rows: Sequence[CsvRow], channels: list[str]) -> set[tuple[str, str]]:
    """(channel, address) of raw rows whose address belongs to a contact who stopped that channel."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        if row.contact_id is None:
            for channel, address in (row.addresses or {}).items():
                if channel in _FIELDS and channel in channels:
                    wanted.setdefault(_FIELDS[channel], set()).add(address)
    if not wanted:
        return set()
    conditions = [getattr(Contact, f).in_(sorted(v)) for f, v in wanted.items()]
    contacts = list(session.execute(select(Contact.id, Contact.phone, Contact.email, Contact.line_user_id)
                                    .where(or_(*conditions))))
    if not contacts:
        return set()
    live, stopped = _consents(session, {c.id for c in contacts}, channels)
    out: set[tuple[str, str]] = set()
    for c in contacts:
        for channel in channels:
            address = getattr(c, _FIELDS.get(channel, "phone"))
            if address and (c.id, channel) in stopped and (c.id, channel) not in live:
                out.add((channel, address))
    return out


def follow_up_sample(session: Session, channel: Callable[[str], Channel], comp: Composition,
                     rendered: dict[str, Rendered], problems: dict[str, list[str]]) -> dict[str, Rendered]:
    """The preview of a correction of a CSV send: what is wrong with its columns goes to ``problems``,
    and a personal one is shown filled with the file's first row (the braces are never what anyone reads)."""
    if comp.references_id is None or not follows_up(comp.msg_type):
        return rendered
    original = session.get(Message, comp.references_id)
    if original is None:
        return rendered
    sources = [comp.title, comp.body, *comp.overrides.values()]
    personal, wrong, values = follow_up_columns(session, original, sources, translated=bool(comp.texts))
    problems.update(wrong)
    if not personal or wrong:
        return rendered
    try:
        return {name: replace(render_row(channel(name), comp.title, comp.body, dict(values), comp.mode, None,
                                         comp.overrides, sender_name=comp.sender_name, msg_type=comp.msg_type,
                                         update_label=comp.update_label),
                              warnings=(*r.warnings, SAMPLE_NOTE))
                for name, r in rendered.items()}
    except PlaceholderError as exc:  # the first row leaves a column empty: its person would get the error
        problems["body"] = [str(exc)]
        return rendered


def personal_contents(session: Session, message: Message, channel: Channel,
                      recipients: Sequence[Recipient]) -> dict[int, Rendered]:
    """Each recipient's own text, by delivery id, from the stored template and its row's values."""
    ids = [r.delivery_id for r in recipients]
    if not ids:
        return {}
    values: dict[int, dict[str, Any]] = {}
    for delivery_id, row_values in session.execute(
            select(Delivery.id, CsvRow.values).join(CsvRow, CsvRow.id == Delivery.csv_row_id)
            .where(Delivery.id.in_(ids))):
        values[delivery_id] = row_values
    out: dict[int, Rendered] = {}
    for delivery_id in ids:
        row_values = values.get(delivery_id)
        if row_values is None:
            raise LookupError(f"delivery {delivery_id} of personalised message {message.id} has no CSV row")
        out[delivery_id] = render_row(channel, message.title, message.body, dict(row_values), message.mode,
                                      message.id, message.overrides,
                                      sender_name=message.department.name if message.department else None,
                                      msg_type=message.msg_type,
                                      update_label=(message.meta or {}).get("update_label") or "訂正")
    return out
