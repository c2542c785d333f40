"""From a finding to a message: is it news, may it go out now, and what exactly does it say.

Per (rule, incident) the hub remembers whether it has announced and what it told
(:class:`~hub.models.triggers.RuleIncident`). A later telegram of the same incident sends an
update only when what recipients would be told changes; once the condition no longer holds the
episode ends, so the next 発表 is a fresh alert. 取消 withdraws what is still held or queued and
sends the template's prepared cancellation to everybody the original reached; 訂正 sends the
prepared correction the same way.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from channels.text import join_nonempty, shorten
from hub.compose.corrections import carried_channels, follow_up
from hub.compose.messages import (
    ComposeError,
    Composition,
    LocalText,
    create_message,
    hold_for_approval,
    preview,
    preview_languages,
    withdraw,
)
from hub.compose.public import public_channels_closed_to
from hub.models import Department, Message, MessageState, MsgType, Template, audit, utcnow
from hub.models.triggers import RuleIncident, TriggerIncident, TriggerRule, TriggerSend, TriggerTelegram
from hub.runtime import Runtime
from hub.template_languages import reviewed_texts
from hub.templating import fill
from hub.translate.fill import NEVER_MACHINE, audience_languages, fallback_text, fill_missing
from triggers.base import Envelope, Finding, InfoKind, RuleSpec

log = logging.getLogger(__name__)

SENDING_KINDS = ("alert", "update", "correction")
SYSTEM_ACTOR = "system"  # the audit actor of every message a rule creates
HELD = (MessageState.SCHEDULED, MessageState.AWAITING_APPROVAL)


@dataclass
class RuleOutcome:
    rule_id: int
    rule: str
    action: str  # alert | update | correction | cancel | withdrawn | suppressed | unchanged | error
    message_id: int | None = None
    mode: str | None = None
    state: str | None = None
    note: str = ""
    callout_id: int | None = None  # a staff call-out the rule started with its alert


@dataclass
class Context:
    session: Session
    runtime: Runtime
    source: str
    envelope: Envelope
    telegram: TriggerTelegram
    incident: TriggerIncident
    mode: str
    releases: list[tuple[int, str]]

    @property
    def actor(self) -> str:
        return f"trigger:{self.source}"


def jsonable(value: Any) -> Any:
    """Template values as stored in the ledger (so a later 取消 can quote the original)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def common_variables(envelope: Envelope) -> dict[str, Any]:
    return {
        "headline": envelope.headline, "title": envelope.title, "report_time": envelope.reported_at,
        "type_code": envelope.type_code or "", "exercise": envelope.status != "actual",
    }


def _state(session: Session, rule_id: int, incident_id: int) -> RuleIncident:
    state = session.scalar(select(RuleIncident).where(RuleIncident.rule_id == rule_id,
                                                      RuleIncident.incident_id == incident_id))
    if state is None:
        state = RuleIncident(rule_id=rule_id, incident_id=incident_id, announced=False, told=[])
        session.add(state)
        session.flush()  # a racing worker's insert surfaces as IntegrityError: the item is retried
    return state


def announced(session: Session, rule_id: int, incident_id: int) -> bool:
    return bool(session.scalar(select(RuleIncident.announced).where(
        RuleIncident.rule_id == rule_id, RuleIncident.incident_id == incident_id)))


def _reset(state: RuleIncident) -> None:
    state.announced, state.told, state.message_id, state.updated_at = False, [], None, utcnow()


def apply(ctx: Context, rule: TriggerRule, spec: RuleSpec, finding: Finding) -> RuleOutcome | None:
    """Decide and, if it is news, create the message for one rule. None: nothing to say."""
    session = ctx.session
    state = _state(session, rule.id, ctx.incident.id)
    told = sorted([list(fact) for fact in finding.told])
    corrected = ctx.envelope.info_kind is InfoKind.CORRECTED
    fires = bool(finding.changes & spec.on)
    if spec.clearing:
        if not (fires and told != state.told):
            if finding.active:
                state.told = []  # in effect again: the next 解除 is news again
            return None
        kind = "alert"
    elif not finding.active:
        announced_id = state.message_id if state.announced else None
        _reset(state)
        if corrected and announced_id is not None:
            # JMA corrected the telegram and the rule no longer holds: the announcement was wrong.
            return _cancel(ctx, rule, [announced_id], "訂正後の電文では条件を満たさないため取り消します")
        return None
    elif state.announced and state.message_id is not None:
        if told == state.told and not corrected:
            return RuleOutcome(rule.id, rule.name, "unchanged", note="内容に変化がないため続報は送りません")
        kind = "correction" if corrected else "update"
    elif fires:
        kind = "alert"
    else:
        return None
    if kind in ("alert", "update") and _over_ceiling(session, rule):
        log.warning("rule %s reached its ceiling of %d sends per hour", rule.id, rule.max_per_hour)
        audit(session, ctx.actor, "trigger.ceiling", rule, telegram=ctx.telegram.id)
        return RuleOutcome(rule.id, rule.name, "suppressed",
                           note=f"送信上限（1時間に{rule.max_per_hour}件）に達したため送信しません")
    variables = jsonable({**common_variables(ctx.envelope), **finding.variables})
    previous = session.get(Message, state.message_id) if state.message_id and kind != "alert" else None
    last_id = session.scalar(select(func.max(Message.id))) or 0
    try:
        message = _send(ctx, rule, kind, variables, previous)
    except ComposeError as exc:
        log.error("rule %s could not compose: %s", rule.id, exc)
        # create_message stores the row before it validates; a half-made message must never be planned.
        session.execute(update(Message).where(Message.id > last_id, Message.source == f"{ctx.actor}:{rule.id}",
                                              Message.planned_at.is_(None)).values(state=MessageState.WITHDRAWN))
        return RuleOutcome(rule.id, rule.name, "error", note=str(exc))
    state.announced, state.told, state.message_id, state.updated_at = True, told, message.id, utcnow()
    outcome = _record(ctx, rule, kind, message, variables)
    if kind == "alert" and rule.callout:
        outcome = dataclasses.replace(outcome, callout_id=_start_callout(ctx, rule, message))
    return outcome


def _start_callout(ctx: Context, rule: TriggerRule, message: Message) -> int | None:
    """The staff call-out a rule asks for, in the message's own mode (a 訓練 telegram makes a drill)."""
    from hub.relay.callouts import CalloutError, start_callout

    spec = rule.callout or {}
    try:
        callout = start_callout(
            ctx.session, ctx.runtime, str(spec.get("survey")), spec.get("departments") or "all",
            mode=message.mode, steps=spec.get("steps"), interval=spec.get("interval"), cycles=spec.get("cycles"),
            source=f"{ctx.actor}:{rule.id}", title=message.title, actor=ctx.actor,
        )
    except CalloutError as exc:
        # The residents' alert goes out regardless; the missing call-out is logged for the officer.
        log.error("rule %s could not start its call-out: %s", rule.id, exc)
        audit(ctx.session, ctx.actor, "trigger.callout_failed", rule, error=str(exc))
        return None
    return callout.id


def _send(ctx: Context, rule: TriggerRule, kind: str, variables: dict[str, Any],
          previous: Message | None) -> Message:
    session = ctx.session
    if previous is not None and previous.planned_at is None and previous.state in HELD:
        # Still held (hold window or awaiting approval): replace it instead of stacking a 続報.
        withdraw(session, previous, ctx.actor, reason="新しい電文で置き換え")
        return _compose(ctx, rule, variables, MsgType.ALERT, None, previous.scheduled_at)
    if kind == "correction" and previous is not None:
        template = _template(session, rule)
        body = (fill(template, variables, part="correction").body if template else "") or ctx.envelope.headline
        texts = _follow_up_texts(template, variables, "correction", ctx.mode)
        message = follow_up(session, ctx.runtime, previous.id, kind="correction", body=body, actor=SYSTEM_ACTOR,
                            source=f"{ctx.actor}:{rule.id}", update_label="訂正", texts=texts)
        if message.id != previous.id:
            _tag(ctx, rule, message)
            return message
        # Nothing of the original reached anybody: send the corrected content as the alert.
        return _compose(ctx, rule, variables, MsgType.ALERT, None, None)
    msg_type = MsgType.UPDATE if kind == "update" else MsgType.ALERT
    return _compose(ctx, rule, variables, msg_type, previous.id if previous else None, None)


def _template(session: Session, rule: TriggerRule) -> Template | None:
    return session.scalar(select(Template).where(Template.code == rule.template_code))


def _compose(ctx: Context, rule: TriggerRule, variables: dict[str, Any], msg_type: str,
             references_id: int | None, scheduled_at: datetime | None) -> Message:
    session = ctx.session
    template = _template(session, rule)
    texts: dict[str, LocalText] = {}
    if template is not None:
        filled = fill(template, variables)
        title, body, overrides, category = filled.title, filled.body, filled.overrides, template.category_code
        title, body = title or ctx.envelope.title, body or ctx.envelope.headline
        overrides = {channel: text for channel, text in overrides.items() if text}
        if filled.missing:
            log.warning("template %s used values the event lacks: %s", template.code, filled.missing)
        # Every reviewed language goes with the message: which of them a recipient reads is their
        # contact's language (Batch.content_for), Japanese for every other one.
        texts = reviewed_texts(template, variables, mode=ctx.mode)
    else:
        # A rule whose template was deleted still warns people: JMA's own headline is the text.
        log.error("rule %s: template %s is missing, sending the headline", rule.id, rule.template_code)
        title, body, overrides, category = ctx.envelope.title, ctx.envelope.headline, {}, "bousai"
    if scheduled_at is None and rule.hold_minutes > 0:
        scheduled_at = utcnow() + timedelta(minutes=rule.hold_minutes)
    department_id = rule_department(ctx, rule)
    composition = Composition(
        title=title, body=body, channels=list(rule.channels), audience=rule.audience, mode=ctx.mode,
        msg_type=msg_type, category_code=category, overrides=overrides, references_id=references_id,
        scheduled_at=scheduled_at, department_id=department_id, source=f"{ctx.actor}:{rule.id}",
        update_label="続報", texts=texts,
    )
    fill_missing_languages(ctx, composition)
    # Created by the system (created_by None): the rule, not an operator, decided to send.
    message = create_message(session, ctx.runtime, fit_channels(ctx.runtime, composition), actor=SYSTEM_ACTOR)
    if rule.approval == "required":
        hold_for_approval(session, ctx.runtime, message, ctx.actor, rule=rule.id)
    _tag(ctx, rule, message)
    return message


def fill_missing_languages(ctx: Context, composition: Composition) -> None:
    """Machine translation, as a marked fallback, for languages of the audience with no reviewed text.

    An alert does not wait for a slow translator: all languages together get at most
    ``HUB_TRIGGER_TRANSLATE_SECONDS``. Where machine translation fails or is too slow, readers get
    the template's reviewed English text (better read than Japanese by most of them), marked
    ``fallback`` with the reason, or Japanese with the fixed English line when there is none.
    """
    settings = ctx.runtime.settings
    wanted = audience_languages(ctx.session, composition)
    budget = settings.trigger_translate_seconds
    if settings.translator != "none" and budget > 0:
        filled = fill_missing(ctx.runtime, composition, wanted, deadline=budget)
    else:
        filled = dataclasses.replace(composition, texts={
            **composition.texts,
            **{code: fallback_text(composition, code, "機械翻訳を使わない設定です")
               for code in wanted if code not in composition.texts and code not in NEVER_MACHINE}})
    english = composition.texts.get("en")
    for code, local in filled.texts.items():
        if local.origin == "fallback" and code not in composition.texts and english is not None:
            local = dataclasses.replace(english, origin="fallback", error=local.error)
        composition.texts[code] = local


def _follow_up_texts(template: Template | None, variables: dict[str, Any], part: str,
                     mode: str) -> dict[str, LocalText]:
    """A correction's or cancellation's reviewed texts (its title: the template's, filled again)."""
    return reviewed_texts(template, variables, part=part, mode=mode) if template is not None else {}


def rule_department(ctx: Context, rule: TriggerRule) -> int:
    """Every message has a department: the rule's, else the configured ``HUB_TRIGGER_DEPARTMENT``.

    Its sender identity, its approvers and who may cancel it follow from it.
    """
    code = rule.department_code or ctx.runtime.settings.trigger_department
    department_id = ctx.session.scalar(select(Department.id).where(Department.code == code))
    if department_id is None:
        raise ComposeError({"*": [f"部署「{code}」は登録されていません"
                                  "（ルールの department か HUB_TRIGGER_DEPARTMENT を確認してください）"]})
    return department_id


def fit_channels(runtime: Runtime, c: Composition) -> Composition:
    """Shorten per channel instead of failing: at 3 a.m. a shorter SMS beats no SMS."""
    available = set(runtime.available_channels())
    c.channels = [ch for ch in c.channels if ch in available]
    closed = public_channels_closed_to(c.audience, c.channels)
    if closed:  # a rule saved before public channels were refused for staff-only audiences
        log.error("dropping public channels %s: audience %s is not the public", closed, c.audience)
        c.channels = [ch for ch in c.channels if ch not in closed]
    if not c.channels:
        raise ComposeError({"*": ["ルールのチャネルがどれも利用できません"]})
    for name, rendered in preview(runtime, c).items():
        if not rendered.errors:
            continue
        limit = runtime.channel(name).max_chars or 500
        text = c.overrides.get(name) or join_nonempty(c.title, c.body)
        c.overrides[name] = shorten(text, int(limit * 0.8))
    for language, by_channel in preview_languages(runtime, c).items():
        local = c.texts[language]
        for name, rendered in by_channel.items():
            if rendered.errors:  # a longer translation is shortened like the Japanese, not dropped
                limit = runtime.channel(name).max_chars or 500
                text = local.overrides.get(name) or join_nonempty(local.title, local.body)
                local.overrides[name] = shorten(text, int(limit * 0.8))
    broken = [name for name, rendered in preview(runtime, c).items() if rendered.errors]
    if broken:
        log.error("dropping channels %s: text does not fit even when shortened", broken)
        c.channels = [ch for ch in c.channels if ch not in broken]
        if not c.channels:
            raise ComposeError({ch: ["本文がチャネルの上限に収まりません"] for ch in broken})
    return c


def _tag(ctx: Context, rule: TriggerRule, message: Message) -> None:
    """What the pre-send check reads again: which telegram, of which status, made this message."""
    message.meta = {**(message.meta or {}), "trigger": {
        "source": ctx.source, "rule_id": rule.id, "telegram_id": ctx.telegram.id,
        "incident_id": ctx.incident.id, "status": ctx.envelope.status.value,
    }}


def _record(ctx: Context, rule: TriggerRule, kind: str, message: Message,
            variables: dict[str, Any]) -> RuleOutcome:
    ctx.session.add(TriggerSend(rule_id=rule.id, incident_id=ctx.incident.id, telegram_id=ctx.telegram.id,
                                message_id=message.id, kind=kind, variables=variables))
    ctx.releases.append((message.id, message.state))
    return RuleOutcome(rule.id, rule.name, kind, message_id=message.id, mode=message.mode,
                       state=message.state)


def _over_ceiling(session: Session, rule: TriggerRule) -> bool:
    """A vendor once sent 12 false quake alerts, one a minute: each rule has a per-hour ceiling."""
    since = utcnow() - timedelta(hours=1)
    count = session.scalar(select(func.count()).select_from(TriggerSend).where(
        TriggerSend.rule_id == rule.id, TriggerSend.kind.in_(("alert", "update")),
        TriggerSend.created_at > since,
    ))
    return int(count or 0) >= rule.max_per_hour


# --- 取消 -----------------------------------------------------------------------------------------------


def cancel_unit(ctx: Context) -> list[RuleOutcome]:
    """JMA cancelled an information unit: undo every message its telegrams made, rule by rule."""
    rows = ctx.session.execute(
        select(TriggerSend.rule_id, TriggerSend.message_id)
        .join(TriggerTelegram, TriggerTelegram.id == TriggerSend.telegram_id)
        .where(TriggerTelegram.source == ctx.source, TriggerTelegram.unit_hash == ctx.envelope.unit_hash,
               TriggerSend.kind.in_(SENDING_KINDS))
        .order_by(TriggerSend.id)
    ).all()
    by_rule: dict[int, list[int]] = {}
    for rule_id, message_id in rows:
        by_rule.setdefault(rule_id, []).append(message_id)
    outcomes: list[RuleOutcome] = []
    for rule_id, message_ids in by_rule.items():
        rule = ctx.session.get(TriggerRule, rule_id)
        if rule is None:
            continue
        outcome = _cancel(ctx, rule, message_ids, ctx.envelope.headline)
        if outcome is not None:
            outcomes.append(outcome)
        for state in ctx.session.scalars(select(RuleIncident).where(RuleIncident.rule_id == rule_id)):
            if state.message_id in message_ids:
                _reset(state)
    return outcomes


def _cancel(ctx: Context, rule: TriggerRule, message_ids: list[int], reason: str) -> RuleOutcome | None:
    session = ctx.session
    messages = [m for m in (session.get(Message, mid) for mid in message_ids) if m is not None]
    already = set(session.scalars(select(Message.references_id).where(
        Message.references_id.in_(message_ids), Message.msg_type == MsgType.CANCEL)))
    live = [m for m in messages if m.id not in already and m.state != MessageState.WITHDRAWN]
    if not live:
        return None
    reached = [m for m in live if carried_channels(session, m.id)]
    for message in live:
        if reached and message is reached[0]:
            continue
        withdraw(session, message, ctx.actor, reason="気象庁の取消")
        if message.planned_at is None and message.state == MessageState.QUEUED:
            message.state = MessageState.WITHDRAWN  # not planned yet: planning must not start it
    if not reached:
        first = live[0]
        return RuleOutcome(rule.id, rule.name, "withdrawn", message_id=first.id, mode=first.mode,
                           state=MessageState.WITHDRAWN, note="送信前に取り下げました")
    original = reached[0]
    variables = _ledger_variables(session, original.id)
    variables.update(jsonable(common_variables(ctx.envelope)), cancel_reason=reason)
    template = _template(session, rule)
    body = fill(template, variables, part="cancellation").body if template else None
    texts = _follow_up_texts(template, variables, "cancellation", original.mode)
    message = follow_up(session, ctx.runtime, original.id, kind="cancel", body=body or None, actor=SYSTEM_ACTOR,
                        source=f"{ctx.actor}:{rule.id}", texts=texts)
    _tag(ctx, rule, message)
    return _record(ctx, rule, "cancel", message, variables)


def _ledger_variables(session: Session, message_id: int) -> dict[str, Any]:
    stored = session.scalar(select(TriggerSend.variables).where(TriggerSend.message_id == message_id))
    return dict(stored or {})
