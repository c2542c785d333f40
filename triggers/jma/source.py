"""The JMA 防災情報XML source: telegram bytes → :class:`~triggers.base.Envelope`, rules → findings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models.triggers import WarningStateRow
from triggers.base import (
    Envelope,
    Finding,
    InfoKind,
    RuleKind,
    RuleSpec,
    Source,
    SourceInputError,
    Status,
    utc,
)

from . import findings, rules
from .conditions import incident_key
from .errors import TelegramError
from .events import Ignored, InfoType, ParsedTelegram, TelegramStatus, WarningSnapshot
from .parse import SUPPORTED_TYPES, parse_telegram
from .warning_state import warning_transitions

STATUS = {TelegramStatus.NORMAL: Status.ACTUAL, TelegramStatus.EXERCISE: Status.EXERCISE,
          TelegramStatus.TEST: Status.TEST}
INFO_KIND = {InfoType.ISSUED: InfoKind.ISSUED, InfoType.CORRECTED: InfoKind.CORRECTED,
             InfoType.CANCELLED: InfoKind.CANCELLED}


class JmaSource(Source):
    name: ClassVar[str] = "jma"
    label: ClassVar[str] = "気象庁 防災情報XML"
    kinds: ClassVar[Mapping[str, RuleKind]] = rules.KINDS
    # Types worth downloading: everything else is filtered out of the feed before any request.
    wanted_types: ClassVar[frozenset[str]] = SUPPORTED_TYPES

    def decode(self, raw: bytes, hint: str | None = None) -> Envelope:
        try:
            telegram = parse_telegram(raw, type_code=hint)
        except TelegramError as exc:
            raise SourceInputError(exc.message) from None
        return envelope_of(telegram)

    def parse_conditions(self, kind: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        return rules.parse_conditions(kind, raw)

    def prepare(self, session: Session, envelope: Envelope) -> Any:
        event = envelope.payload.event
        if not isinstance(event, WarningSnapshot):
            return None
        return apply_warning_snapshot(session, envelope, event)

    def evaluate(self, rule: RuleSpec, envelope: Envelope, prepared: Any) -> Finding | None:
        telegram: ParsedTelegram = envelope.payload
        return findings.evaluate(rule, telegram.event, prepared)


def envelope_of(telegram: ParsedTelegram) -> Envelope:
    head = telegram.head
    unit: tuple[str, ...] = head.info_unit_key
    if not head.event_id:
        # Without an EventID one office may publish several units at the same minute
        # (沖縄本島地方 and 大東島地方 warnings): Head/Title keeps them apart.
        unit = (*unit, head.head_title)
    # 取消 repeats the Serial of the telegram it cancels (VXSE53 Serial 3 issued, then 取消 Serial 3).
    serial = "-" if head.serial is None else str(head.serial)
    version = f"{serial}|{head.info_type.value}|{head.report_datetime.isoformat()}"
    event = telegram.event
    return Envelope(
        source=JmaSource.name,
        type_code=head.type_code,
        status=STATUS[head.status],
        info_kind=INFO_KIND[head.info_type],
        unit_key=unit,
        version=version,
        reported_at=head.report_datetime,
        incident_key="|".join(incident_key(telegram)),
        title=head.head_title or head.title,
        headline=head.headline,
        payload=telegram,
        ignored=event.reason if isinstance(event, Ignored) else None,
    )


def apply_warning_snapshot(
    session: Session, envelope: Envelope, event: WarningSnapshot
) -> findings.WarningPrepared:
    """Compare with the stored state, store the new one; an older telegram never rolls it back."""
    status = envelope.status.value
    codes = [area.area.code for area in event.areas]
    rows = {
        (row.area_code, row.hazard): row
        for row in session.scalars(
            select(WarningStateRow).where(
                WarningStateRow.status == status, WarningStateRow.scheme == event.scheme,
                WarningStateRow.area_code.in_(codes),
            )
        )
    }
    newer = {key for key, row in rows.items() if utc(row.reported_at) > utc(envelope.reported_at)}
    previous = {key: row.level for key, row in rows.items()}
    transitions, state = warning_transitions(previous, event)
    for key, level in state.items():
        if key in newer or key[1] not in event.hazards_covered:
            continue
        row = rows.get(key)
        if row is None:
            session.add(WarningStateRow(status=status, scheme=event.scheme, area_code=key[0], hazard=key[1],
                                        level=level, reported_at=utc(envelope.reported_at)))
        else:
            row.level, row.reported_at = level, utc(envelope.reported_at)
    kept = tuple(t for t in transitions if (t.area.code, t.hazard) not in newer)
    return findings.WarningPrepared(transitions=kept)
