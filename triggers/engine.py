"""The one pipeline every item goes through, whether a poller fetched it or ``hub jma replay`` read it.

decode → quarantine what cannot be read → record the item once (unique per item key and per
information unit + version, so two pollers racing act once) → the 通常/訓練/試験 rule →
newest-wins → incident → source state (warnings) → 取消 / rules → messages, committed, then
released to the dispatcher. Each item is one transaction: a crash leaves either nothing or the
whole decision, and the sweeper plans whatever was committed but not yet released.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.dispatch.tasks import release
from hub.models import utcnow
from hub.models.triggers import QuarantinedTelegram, TriggerIncident, TriggerRule, TriggerTelegram
from hub.relay.tasks import release_callout
from hub.runtime import Runtime
from triggers import actions, safety
from triggers.base import Envelope, Finding, InfoKind, RuleSpec, Source, SourceInputError, utc

log = logging.getLogger(__name__)

ATTEMPTS = 3  # a unique-constraint race with another worker is retried; the retry sees its result
STALE_CLAIM = timedelta(minutes=5)  # a claim left by a crashed poller may be taken over after this


@dataclass
class Decision:
    """What happened to one item: ``matched`` (messages), ``ignored`` (reason) or ``quarantined`` (error)."""

    item_key: str
    outcome: str = "ignored"
    reason: str = ""
    error: str = ""
    type_code: str | None = None
    status: str | None = None
    info_kind: str | None = None
    telegram_id: int | None = None
    incident_id: int | None = None
    rules: list[actions.RuleOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        sent = [r for r in self.rules if r.message_id is not None]
        if sent:  # the first match, flat, for people reading one line per telegram
            data.update(rule=sent[0].rule, message_id=sent[0].message_id, mode=sent[0].mode)
        return data


def process(runtime: Runtime, source: Source, raw: bytes, *, item_key: str, hint: str | None = None,
            max_age: timedelta | None = None, dry_run: bool = False,
            inspect: Callable[[Session, Decision], None] | None = None) -> Decision:
    """Run one item through the pipeline. Never raises for bad input: that is a decision too.

    ``inspect`` (dry runs only): called with the session before it is rolled back, so a caller can read
    what would have been stored (the console's 「ルールを試す」 shows the rendered texts).
    """
    try:
        envelope = source.decode(raw, hint)
    except SourceInputError as exc:
        return quarantine(runtime, source.name, item_key, raw, exc.message, dry_run=dry_run)
    for attempt in range(1, ATTEMPTS + 1):
        releases: list[tuple[int, str]] = []
        session = runtime.sessions()
        try:
            decision = _handle(session, runtime, source, envelope, item_key, max_age, releases)
            if dry_run:
                if inspect is not None:
                    inspect(session, decision)
                session.rollback()
            else:
                session.commit()
            break
        except IntegrityError:
            session.rollback()
            if attempt == ATTEMPTS:
                raise
            log.info("retrying %s after a concurrent write (attempt %d)", item_key, attempt)
        finally:
            session.close()
    if not dry_run:
        for message_id, state in releases:
            release(message_id, state)
        for outcome in decision.rules:
            if outcome.callout_id is not None:
                release_callout(outcome.callout_id)
    return decision


def quarantine(runtime: Runtime, source: str, item_key: str, raw: bytes, error: str,
               dry_run: bool = False) -> Decision:
    """Keep unreadable input with its reason; mark the item handled so it is not fetched again."""
    log.warning("quarantined %s: %s", item_key, error)
    decision = Decision(item_key=item_key, outcome="quarantined", error=error)
    if dry_run:
        return decision
    with runtime.session() as session:
        session.add(QuarantinedTelegram(source=source, item_key=item_key, error=error, raw=bytes(raw)))
        row = session.scalar(select(TriggerTelegram).where(TriggerTelegram.source == source,
                                                           TriggerTelegram.item_key == item_key))
        if row is None:
            row = TriggerTelegram(source=source, item_key=item_key)
            session.add(row)
        row.state, row.processed_at = "quarantined", utcnow()
        row.decision = {"outcome": "quarantined", "error": error}
        session.flush()
        decision.telegram_id = row.id
    return decision


def claim(session: Session, source: str, item_key: str) -> TriggerTelegram | None:
    """The item's row, claimed for this transaction; None if somebody already handled it."""
    row = session.scalar(
        select(TriggerTelegram).where(TriggerTelegram.source == source, TriggerTelegram.item_key == item_key)
        .with_for_update()
    )
    if row is None:
        row = TriggerTelegram(source=source, item_key=item_key, state="claimed", claimed_at=utcnow())
        session.add(row)
        return row
    return row if row.state == "claimed" else None


def _handle(session: Session, runtime: Runtime, source: Source, envelope: Envelope, item_key: str,
            max_age: timedelta | None, releases: list[tuple[int, str]]) -> Decision:
    decision = Decision(item_key=item_key, type_code=envelope.type_code, status=envelope.status.value,
                        info_kind=envelope.info_kind.value)
    row = claim(session, source.name, item_key)
    if row is None:
        decision.reason = "処理済みの電文です（同じURL・ファイル）"
        return decision
    seen = session.scalar(select(exists().where(
        TriggerTelegram.source == source.name, TriggerTelegram.unit_hash == envelope.unit_hash,
        TriggerTelegram.version == envelope.version,
    )))
    if seen:
        return _duplicate(row, decision)
    row.type_code, row.status, row.info_type = envelope.type_code, envelope.status, envelope.info_kind
    row.unit_hash, row.version = envelope.unit_hash, envelope.version
    row.reported_at, row.headline = utc(envelope.reported_at), envelope.headline[:2000]
    # Two workers passing the check at once: the unique constraint stops the second here, and
    # process() retries it, when the check above sees the first one's row.
    session.flush()
    decision.telegram_id = row.id
    _decide(session, runtime, source, envelope, row, max_age, releases, decision)
    if decision.rules and any(r.message_id is not None for r in decision.rules):
        decision.outcome = "matched"
    elif not decision.reason:
        notes = [f"{r.rule}: {r.note}" for r in decision.rules if r.note]
        decision.reason = "；".join(notes) or "一致するルールはありません"
    row.state, row.processed_at = "done", utcnow()
    row.decision = {k: v for k, v in decision.to_dict().items() if k not in ("item_key",)}
    return decision


def _duplicate(row: TriggerTelegram, decision: Decision) -> Decision:
    """Same information unit and version already handled (another URL, a replay, a second poller).

    The row is kept (closed, without the unit) so this URL is never fetched again.
    """
    decision.reason = "同じ電文を処理済みです（情報単位と版が同じ）"
    row.state, row.processed_at = "done", utcnow()
    row.decision = {"outcome": "ignored", "reason": decision.reason}
    return decision


def _decide(session: Session, runtime: Runtime, source: Source, envelope: Envelope, row: TriggerTelegram,
            max_age: timedelta | None, releases: list[tuple[int, str]], decision: Decision) -> None:
    if envelope.ignored:
        decision.reason = envelope.ignored
        return
    mode = safety.mode_for(envelope.status, runtime.settings.jma_exercise_policy)
    if mode is None:
        decision.reason = safety.ignore_reason(envelope.status, runtime.settings.jma_exercise_policy)
        return
    if _superseded(session, envelope, row):
        decision.reason = "同じ情報のより新しい電文を処理済みのため、この電文では配信しません"
        return
    incident = _incident(session, envelope)
    row.incident_id = decision.incident_id = incident.id
    prepared = source.prepare(session, envelope)  # state must follow even when nothing is sent
    # A late 取消 still retracts: it can only touch messages that really went out.
    late = max_age is not None and utcnow() - utc(envelope.reported_at) > max_age
    if late and envelope.info_kind is not InfoKind.CANCELLED:
        minutes = int((utcnow() - utc(envelope.reported_at)).total_seconds() // 60)
        decision.reason = f"発表から{minutes}分経過した古い電文のため配信しません"
        return
    ctx = actions.Context(session=session, runtime=runtime, source=source.name, envelope=envelope,
                          telegram=row, incident=incident, mode=mode, releases=releases)
    if envelope.info_kind is InfoKind.CANCELLED:
        decision.rules = actions.cancel_unit(ctx)
        if not decision.rules:
            decision.reason = "取消の対象となる配信はありません"
        return
    for rule in active_rules(session, source.name):
        try:
            spec = RuleSpec(id=rule.id, name=rule.name, kind=rule.kind, conditions=rule.conditions,
                            on=frozenset(rule.on))
        except (TypeError, ValueError):
            log.exception("rule %s is unreadable", rule.id)
            continue
        finding = source.evaluate(spec, envelope, prepared)
        if finding is None and envelope.info_kind is InfoKind.CORRECTED and actions.announced(
            session, rule.id, incident.id
        ):
            # The corrected telegram no longer meets the rule that announced: that announcement was wrong.
            finding = Finding(changes=frozenset(), active=False, told=frozenset())
        if finding is None:
            continue
        outcome = actions.apply(ctx, rule, spec, finding)
        if outcome is not None:
            decision.rules.append(outcome)


def active_rules(session: Session, source: str) -> list[TriggerRule]:
    return list(session.scalars(
        select(TriggerRule).where(TriggerRule.source == source, TriggerRule.enabled.is_(True),
                                  TriggerRule.removed_at.is_(None)).order_by(TriggerRule.id)
    ))


def _superseded(session: Session, envelope: Envelope, row: TriggerTelegram) -> bool:
    """Newest ReportDateTime wins within an information unit (catch-up can deliver out of order)."""
    return bool(session.scalar(select(exists().where(
        TriggerTelegram.source == envelope.source, TriggerTelegram.unit_hash == envelope.unit_hash,
        TriggerTelegram.reported_at > utc(envelope.reported_at), TriggerTelegram.state == "done",
        TriggerTelegram.id != row.id,
    ))))


def _incident(session: Session, envelope: Envelope) -> TriggerIncident:
    query = select(TriggerIncident).where(TriggerIncident.source == envelope.source,
                                          TriggerIncident.key == envelope.incident_key[:300])
    incident = session.scalar(query)
    if incident is None:
        incident = TriggerIncident(source=envelope.source, key=envelope.incident_key[:300],
                                   status=envelope.status.value, title=envelope.title[:300])
        session.add(incident)
        session.flush()  # a racing worker's insert surfaces as IntegrityError: the item is retried
    incident.updated_at = utcnow()
    return incident
