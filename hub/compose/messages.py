"""Creating, approving and withdrawing messages: the operations every front door calls."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from channels.base import Draft, Rendered
from hub.compose.approval import needs_approval
from hub.compose.audience import Audience, require_usable
from hub.compose.notices import announce_override, request_approval
from hub.compose.public import message_is_public, page_url, public_channels_closed_to
from hub.compose.quiet import hold as quiet_hold
from hub.compose.senders import signature
from hub.config import Settings
from hub.db import rowcount
from hub.models import (
    Category,
    Delivery,
    DeliveryState,
    Department,
    Message,
    MessageBody,
    MessageState,
    Mode,
    MsgType,
    Operator,
    audit,
    follows_up,
    utcnow,
)
from hub.relay import clock
from hub.residents.questions import ANSWERABLE_ON, QuestionText, in_language, poll_from, read_question
from hub.runtime import Runtime

log = logging.getLogger(__name__)
class ComposeError(ValueError):
    """The message cannot be sent as written; ``problems`` lists what to fix, per channel."""

    def __init__(self, problems: dict[str, list[str]]) -> None:
        self.problems = problems
        lines = [f"{ch}: {p}" for ch, ps in problems.items() for p in ps]
        super().__init__("送信できません:\n" + "\n".join(lines))


@dataclass
class LocalText:
    """The message in one more language, beside the Japanese ``title``/``body``."""

    title: str
    body: str
    # operator: written or edited by a person | reviewed: a template's reviewed translation |
    # machine: machine translation (shown as such) | fallback: translation failed, English template text
    origin: str = "operator"
    overrides: dict[str, str] = field(default_factory=dict)  # per channel, like Composition.overrides
    error: str | None = None  # why this language is not what was asked (translation failed)
    question: QuestionText | None = None  # the survey's question and labels; None: readers get Japanese's


@dataclass
class Composition:
    title: str
    body: str
    channels: list[str]
    audience: str
    mode: str = Mode.ACTUAL
    msg_type: str = MsgType.ALERT
    category_code: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    references_id: int | None = None
    scheduled_at: datetime | None = None
    department_id: int | None = None
    source: str = "manual"
    update_label: str = "訂正"
    # A cancellation carrying only the prepared text (hub.compose.corrections): it never waits.
    prepared: bool = False
    # The single-officer emergency override: set only for an operator who holds it (can_override).
    override_reason: str | None = None
    # Texts in other languages, by language code; recipients of any other language get Japanese.
    texts: dict[str, LocalText] = field(default_factory=dict)
    # A resident survey: {"text", "choices": ["はい", "いいえ"] or [{"key", "label"}], "hours"}
    # (hub/residents/questions.py); stored in message.meta["question"].
    question: dict[str, Any] | None = None
    # The department's name for LINE, X, feed and e-mail texts (hub.compose.senders); create_message
    # and the preview fill it in.
    sender_name: str | None = None


class OverrideRefused(PermissionError):
    """The operator does not hold the emergency override."""


def preview(runtime: Runtime, c: Composition, message_id: int | None = None,
            public_id: str | None = None) -> dict[str, Rendered]:
    """Render every chosen channel, so the composer can show limits and problems before sending.

    ``public_id``: the message's public page, linked from the text (only public messages have one).
    """
    unknown = [ch for ch in c.channels if ch not in runtime.available_channels()]
    if unknown:
        raise ComposeError({ch: ["このチャネルはありません"] for ch in unknown})
    link = page_url(runtime.settings, public_id) if public_id else None
    poll = poll_from(read_question(c.question)[0], message_id)
    rendered = {}
    for name in c.channels:
        draft = Draft(
            title=c.title, body=c.body, mode=c.mode, msg_type=c.msg_type, override=c.overrides.get(name),
            link=link, message_id=message_id, update_label=c.update_label, poll=poll, sender_name=c.sender_name,
        )
        rendered[name] = runtime.channel(name).render(draft)
    return rendered


def preview_languages(runtime: Runtime, c: Composition, message_id: int | None = None,
                      public_id: str | None = None) -> dict[str, dict[str, Rendered]]:
    """Every chosen channel rendered in every language of ``c.texts``, by language then channel.

    The link opens the public page in the reader's language (``?lang=``).
    """
    link = page_url(runtime.settings, public_id) if public_id else None
    question = read_question(c.question)[0]
    out: dict[str, dict[str, Rendered]] = {}
    for language, local in c.texts.items():
        poll = poll_from(question and in_language(question, local.question), message_id)
        out[language] = {
            name: runtime.channel(name).render(Draft(
                title=local.title, body=local.body, mode=c.mode, msg_type=c.msg_type,
                override=local.overrides.get(name), link=link and f"{link}?lang={language}", message_id=message_id,
                update_label=c.update_label, language=language, poll=poll, sender_name=c.sender_name))
            for name in c.channels
        }
    return out


def create_message(session: Session, runtime: Runtime, c: Composition, created_by: Operator | None = None,
                   actor: str = "system") -> Message:
    """Validate, store the message and its rendered bodies. The caller commits, then calls :func:`release`.

    Whether it waits for a second person is decided here, for every front door alike
    (:func:`hub.compose.approval.needs_approval`); approvers are told at once when it does.
    """
    if c.override_reason is not None:
        # Checked here as well as at the front doors: no caller can hand out the override.
        if created_by is None or not created_by.can_override:
            raise OverrideRefused("緊急時の承認省略（オーバーライド）の権限がありません")
        if not c.override_reason.strip():
            raise ComposeError({"override": ["承認を省略する理由を入力してください"]})
    if not c.channels:
        raise ComposeError({"*": ["チャネルを1つ以上選んでください"]})
    if not c.title.strip() and not c.body.strip():
        raise ComposeError({"*": ["件名か本文を入力してください"]})
    question, question_problems = read_question(c.question)
    if question and not set(c.channels) & set(ANSWERABLE_ON):
        question_problems.append("アンケートに回答できるチャネル（SMS・LINE・メール・音声電話）を選んでください")
    if question_problems:
        raise ComposeError({"question": question_problems})
    for language, local in c.texts.items():
        if local.question is not None and (question is None or len(local.question.choices) != len(question["choices"])):
            raise ComposeError({f"texts.{language}": ["質問の訳文が日本語のアンケートと合いません"]})
    personal = _personal_follow_up(session, c)
    audience = Audience.parse(c.audience)
    _refuse_private_on_public_channels(c)
    if c.source == "manual":  # what a person composes now; never a rule's or a follow-up's
        require_usable(session, audience)
        _require_enabled(session, c)
    c = replace(c, sender_name=signature(session, c))
    department = session.get(Department, c.department_id) if c.department_id is not None else None
    # An everyday notice due inside the department's quiet hours waits for their end, whichever
    # door it came through; the hold is kept so the composer and the message page can say why.
    night = quiet_hold(runtime.settings, department, c.msg_type, c.scheduled_at, clock.now())
    message = Message(
        title=c.title, body=c.body, overrides=c.overrides, channels=list(dict.fromkeys(c.channels)),
        audience=c.audience, mode=c.mode, msg_type=c.msg_type, category_code=c.category_code,
        references_id=c.references_id, scheduled_at=night.until if night else c.scheduled_at,
        department_id=c.department_id, source=c.source, created_by=created_by,
        meta={"update_label": c.update_label, **({"question": question} if question else {}),
              **({"quiet": night.record()} if night else {}), **({"personal": True} if personal else {})},
    )
    session.add(message)
    session.flush()
    rendered = preview(runtime, c, message.id, message.public_id if message_is_public(message) else None)
    problems = {ch: list(r.errors) for ch, r in rendered.items() if r.errors}
    if problems:
        raise ComposeError(problems)
    for ch, r in rendered.items():
        session.add(MessageBody(message=message, channel=ch, language="ja", subject=r.subject, text=r.text,
                                html=r.html))
    _store_languages(session, runtime, c, message)
    held = needs_approval(session, runtime, c)
    if held and c.override_reason is None:
        message.state = MessageState.AWAITING_APPROVAL
    elif message.scheduled_at and message.scheduled_at > clock.now():
        message.state = MessageState.SCHEDULED
    else:
        message.state = MessageState.QUEUED
    audit(session, actor, "message.create", message, channels=message.channels, audience=c.audience,
          mode=c.mode, msg_type=c.msg_type, state=message.state, **({"question": question} if question else {}),
          warnings={ch: list(r.warnings) for ch, r in rendered.items() if r.warnings})
    failed = {language: local.error for language, local in c.texts.items() if local.origin == "fallback"}
    if failed:
        # The message still goes out (Japanese after a fixed line); who reads the record sees why.
        audit(session, actor, "message.translation_failed", message, languages=failed)
    if c.override_reason is not None and created_by is not None:
        message.meta = {**(message.meta or {}), "override": c.override_reason}
        log.warning("message %s sent with the emergency override by %s: %s", message.id, created_by.username,
                    c.override_reason)
        audit(session, actor, "message.override", message, reason=c.override_reason, would_wait=held)
        announce_override(session, runtime, message, created_by, c.override_reason)
    elif message.state == MessageState.AWAITING_APPROVAL:
        request_approval(session, runtime, message)
    return message


def _store_languages(session: Session, runtime: Runtime, c: Composition, message: Message) -> None:
    """Store each language's bodies; a channel a translation does not fit keeps Japanese for it.

    What each language is (reviewed, machine, fallback) and what went wrong is kept in
    ``message.meta["languages"]`` so the operator and the record see it.
    """
    if not c.texts:
        return
    public_id = message.public_id if message_is_public(message) else None
    languages: dict[str, dict[str, object]] = {}
    for language, by_channel in preview_languages(runtime, c, message.id, public_id).items():
        local = c.texts[language]
        unfit = {ch: list(r.errors) for ch, r in by_channel.items() if r.errors}
        for ch, r in by_channel.items():
            if ch not in unfit:
                session.add(MessageBody(message=message, channel=ch, language=language, subject=r.subject,
                                        text=r.text, html=r.html))
        # The texts themselves too: the public page shows the message in each language.
        languages[language] = {"origin": local.origin, "error": local.error, "unfit": unfit,
                               "title": local.title, "body": local.body,
                               **({"question": local.question.record()} if local.question else {})}
    message.meta = {**(message.meta or {}), "languages": languages}


def _personal_follow_up(session: Session, c: Composition) -> bool:
    """A correction of a CSV send whose words use the file's columns (「{{氏名}}様」): each person gets
    it filled with their own row, as the send did (hub.notices.personal), never with the braces."""
    if c.references_id is None or not follows_up(c.msg_type):
        return False
    from hub.notices.personal import follow_up_columns  # the notices build on this module

    original = session.get(Message, c.references_id)
    if original is None:
        return False
    personal, problems, _sample = follow_up_columns(session, original, [c.title, c.body, *c.overrides.values()],
                                           translated=bool(c.texts))
    if problems:
        raise ComposeError(problems)
    return personal


PRIVATE_ON_PUBLIC = "職員・名簿・差し込み（CSV）宛てのメッセージは、誰でも読める公開チャネルには送れません"


def _refuse_private_on_public_channels(c: Composition) -> None:
    """A staff-only text posted on X or a feed is read by anyone, whoever approved it.

    A follow-up is never refused: a retraction must reach wherever the original went.
    """
    if c.references_id is not None and follows_up(c.msg_type):
        return
    closed = public_channels_closed_to(c.audience, c.channels)
    if closed:
        raise ComposeError({ch: [PRIVATE_ON_PUBLIC] for ch in closed})


def _require_enabled(session: Session, c: Composition) -> None:
    # The CLI hands codes over unchecked; the API and web composer already refused these with a field.
    if c.category_code is not None:
        category = session.scalar(select(Category).where(Category.code == c.category_code))
        if category is None or category.disabled_at is not None:
            raise ComposeError({"category": [f"分類「{c.category_code}」は登録されていないか、無効です"]})
    if c.department_id is not None:
        department = session.get(Department, c.department_id)
        if department is None or department.disabled_at is not None:
            raise ComposeError({"department": ["この部署は無効になっているため送信できません"]})


def hold_for_approval(session: Session, runtime: Runtime, message: Message, actor: str, **details: object) -> None:
    """Hold a message that its own rule wants approved (trigger ``approval: required``)."""
    if message.state == MessageState.AWAITING_APPROVAL:
        return
    message.state = MessageState.AWAITING_APPROVAL
    audit(session, actor, "message.awaiting_approval", message, **details)
    request_approval(session, runtime, message)


class ApprovalError(PermissionError):
    pass


def approve(session: Session, message: Message, approver: Operator, settings: Settings | None = None) -> None:
    """The second person says yes. A notice approved inside the quiet hours waits for their end
    (every front door passes its ``settings``; without them the planner holds it all the same)."""
    if message.state != MessageState.AWAITING_APPROVAL:
        raise ApprovalError("このメッセージは承認待ちではありません")
    if message.created_by_id is not None and message.created_by_id == approver.id:
        raise ApprovalError("作成者本人は承認できません。別の担当者が確認してください")
    message.approved_by = approver
    now = clock.now()
    if settings is not None:
        keep_quiet(message, settings, now)
    due = message.scheduled_at and message.scheduled_at > now
    message.state = MessageState.SCHEDULED if due else MessageState.QUEUED
    audit(session, approver.username, "message.approve", message,
          **({"scheduled_at": message.scheduled_at.isoformat()} if due and message.scheduled_at else {}))


def keep_quiet(message: Message, settings: Settings, now: datetime) -> bool:
    """Move a notice due now (or at its time) inside its department's quiet hours to their end;
    True when it was moved."""
    night = quiet_hold(settings, message.department, message.msg_type, message.scheduled_at, now)
    if night is None:
        return False
    message.scheduled_at = night.until
    message.meta = {**(message.meta or {}), "quiet": night.record()}
    return True


def reject(session: Session, message: Message, approver: Operator, reason: str) -> None:
    """The second person says no: the message never goes out, and why is kept with it."""
    if message.state != MessageState.AWAITING_APPROVAL:
        raise ApprovalError("このメッセージは承認待ちではありません")
    if message.created_by_id is not None and message.created_by_id == approver.id:
        raise ApprovalError("作成者本人は却下できません。別の担当者が確認してください")
    if not reason.strip():
        raise ApprovalError("却下する理由を入力してください")
    message.state = MessageState.WITHDRAWN
    message.meta = {**(message.meta or {}), "rejected": {"by": approver.username, "reason": reason.strip()}}
    audit(session, approver.username, "message.reject", message, reason=reason.strip())


def withdraw(session: Session, message: Message, actor: str, reason: str) -> int:
    """Stop whatever of ``message`` has not gone out yet; returns the rows withdrawn."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.message_id == message.id, Delivery.state == DeliveryState.PENDING)
        .values(state=DeliveryState.SKIPPED, reason="withdrawn", error=f"取り下げ: {reason}", updated_at=utcnow())
    )
    if message.state in {MessageState.AWAITING_APPROVAL, MessageState.SCHEDULED}:
        message.state = MessageState.WITHDRAWN
    elif message.planned_at is None:
        # Still being planned (hub.dispatch.planning): the pages not written yet are written withdrawn.
        message.meta = {**(message.meta or {}), "withdrawn": True}
    audit(session, actor, "message.withdraw", message, reason=reason, rows=rowcount(result))
    return rowcount(result)


def messages_due(session: Session) -> list[int]:
    """Queued messages not yet planned, and scheduled ones whose time has come (by the hub's clock,
    which tests and drills move by hand: hub/relay/clock.py)."""
    now = clock.now()
    q = select(Message.id).where(
        Message.planned_at.is_(None),
        (Message.state == MessageState.QUEUED)
        | ((Message.state == MessageState.SCHEDULED) & (Message.scheduled_at <= now)),
    )
    return list(session.scalars(q))
