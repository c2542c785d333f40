"""Answers from every path (LINE postback, phone keys, the answer page), stored idempotently.

The first answer of any question stops the person's chain: ``answered_at`` is set and the
active task id cleared in the same transaction, so a step already queued finds nothing to do and
one already with a provider cannot schedule another. Answering again updates the stored value
(UNIQUE callout × person × question), it never adds a second row.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from channels.base import Batch, Recipient, Rendered
from channels.inbound import TakesKeypadAnswers
from hub.db import is_postgres
from hub.models import Contact, Department, audit
from hub.models.relay import Callout, CalloutTarget, ContactAttempt, SurveyAnswer, TargetState
from hub.relay import clock, surveys
from hub.relay.callouts import finish_if_done
from hub.relay.contacting import StepResult, step_result, voice_action
from hub.relay.links import AnswerLink, answer_url
from hub.relay.texts import Frame, line_closing_text, line_content, voice_content
from hub.runtime import Runtime

log = logging.getLogger(__name__)
VOICE_KINDS = ("choice", "number")  # free text cannot be keyed in: the e-mail page asks for it


def frame_of(session: Session, callout: Callout, relay_department: str) -> Frame:
    dept = callout.department or session.scalar(select(Department).where(Department.code == relay_department))
    name = (dept.email_sender_name or dept.name) if dept is not None else None
    return Frame(callout.id, callout.mode, callout.title, callout.survey_snapshot, name)


def answers_of(session: Session, target_id: int) -> dict[str, str]:
    rows = session.execute(select(SurveyAnswer.question_key, SurveyAnswer.value)
                           .where(SurveyAnswer.target_id == target_id))
    return {key: value for key, value in rows}


def record_answers(session: Session, target: CalloutTarget, raw: Mapping[str, str], via: str,
                   actor: str) -> dict[str, str]:
    """Store ``{question_key: raw value}``; raises SurveyError (nothing stored) for a bad value."""
    snap = target.callout.survey_snapshot
    parsed: dict[str, str] = {}
    for key, value in raw.items():
        q = surveys.question(snap, key)
        if q is None:
            raise surveys.SurveyError(f"この質問はありません: {key}")
        if q["kind"] == "text" and not value.strip():
            continue  # an empty free-text box is "nothing to add", not an answer
        parsed[key] = surveys.parse_value(q, value)
    now = clock.now()
    table = cast(Table, SurveyAnswer.__table__)
    insert = (postgresql.insert if is_postgres(session) else sqlite.insert)(table)
    for key, value in parsed.items():
        session.execute(
            insert.values(callout_id=target.callout_id, target_id=target.id, contact_id=target.contact_id,
                          question_key=key, value=value, via=via, answered_at=now, updated_at=now)
            .on_conflict_do_update(index_elements=["callout_id", "contact_id", "question_key"],
                                   set_={"value": value, "via": via, "updated_at": now})
        )
        audit(session, actor, "relay.answer", target, callout=target.callout_id, question=key, value=value,
              via=via)
    if parsed:
        stop_chain(session, target, via, now)
    return answers_of(session, target.id)


def stop_chain(session: Session, target: CalloutTarget, via: str, now: Any) -> None:
    stopped = session.execute(
        update(CalloutTarget)
        .where(CalloutTarget.id == target.id, CalloutTarget.answered_at.is_(None))
        .values(state=TargetState.ANSWERED, answered_at=now, answered_via=via, active_task_id=None,
                next_step_at=None)
        .execution_options(synchronize_session=False)
    )
    if getattr(stopped, "rowcount", 0):
        audit(session, "relay", "relay.chain.stopped", target, callout=target.callout_id, via=via)
        for name, value in (("state", TargetState.ANSWERED), ("answered_at", now), ("answered_via", via),
                            ("active_task_id", None), ("next_step_at", None)):
            set_committed_value(target, name, value)
        session.flush()
        finish_if_done(session, target.callout_id)


# -- LINE ----------------------------------------------------------------------------------------------

def target_for_line_user(session: Session, callout_id: int, user_id: str) -> CalloutTarget | None:
    return session.scalar(
        select(CalloutTarget).join(Contact, Contact.id == CalloutTarget.contact_id)
        .where(CalloutTarget.callout_id == callout_id, Contact.line_user_id == user_id)
        .options(joinedload(CalloutTarget.callout))
    )


def line_followup(rt: Runtime, target_id: int) -> StepResult | None:
    """After a LINE answer: send the next question, or a thank-you with what was recorded."""
    with rt.session() as session:
        target = session.scalar(
            select(CalloutTarget).where(CalloutTarget.id == target_id)
            .options(joinedload(CalloutTarget.callout).joinedload(Callout.department),
                     joinedload(CalloutTarget.contact)))
        if target is None or not target.contact.line_user_id:
            return None
        callout, user_id = target.callout, target.contact.line_user_id
        frame = frame_of(session, callout, rt.settings.relay_department)
        answers = answers_of(session, target_id)
    link = answer_url(rt.settings, AnswerLink(callout.id, target_id, "line"), clock.now())
    following = surveys.next_question(frame.snapshot, answers, kinds=VOICE_KINDS)
    if following is not None:
        content = line_content(frame, following, link, opening=False)
        key = f"relay:ask:{target_id}:{following['key']}"
    else:
        content = Rendered(subject=None, text=line_closing_text(frame, answers, link))
        key = f"relay:thanks:{target_id}:{sorted(answers.items())}"
    # The key makes LINE answer 409 instead of sending twice when the same follow-up is retried.
    batch = Batch(message_id=0, batch_no=target_id, recipients=[Recipient(target_id, user_id)],
                  contents={"ja": content}, mode=frame.mode, idempotency_key=key)
    result = step_result(rt.channel("line").deliver(batch)[0])
    if result.state != "sent":
        log.warning("relay: LINE follow-up to target %s failed: %s", target_id, result.error)
    return result


# -- voice -------------------------------------------------------------------------------------------

def voice_answer(session: Session, rt: Runtime, attempt_id: int, digits: str, caller: str) -> str | None:
    """TwiML answering a ``<Gather>`` post: the next question, or thanks. None: unknown call."""
    attempt = session.get(ContactAttempt, attempt_id)
    if attempt is None or attempt.channel != "voice":
        return None
    target = session.get(CalloutTarget, attempt.target_id)
    if target is None:
        return None
    frame = frame_of(session, target.callout, rt.settings.relay_department)
    channel = rt.channel("voice")
    if not isinstance(channel, TakesKeypadAnswers):
        return None
    action = voice_action(rt, attempt_id)
    answers = answers_of(session, target.id)
    first = surveys.next_question(frame.snapshot, {}, kinds=VOICE_KINDS)
    key = target.voice_question or (first["key"] if first else None)
    asked = surveys.question(frame.snapshot, key) if key else None
    if asked is None:
        return channel.reply(voice_content(frame, None, action, opening=False))
    try:
        answers = record_answers(session, target, {asked["key"]: digits}, via="voice",
                                 actor=f"voice:{caller}")
    except surveys.SurveyError:
        return channel.reply(voice_content(frame, asked, action, opening=False,
                                           preface="入力が確認できませんでした。もう一度お願いします。"))
    following = surveys.next_question(frame.snapshot, answers, after=asked["key"], kinds=VOICE_KINDS)
    target.voice_question = following["key"] if following else None
    preface = "ありがとうございます。"
    if following is None and surveys.next_question(frame.snapshot, answers, kinds=("text",)) is not None:
        preface += "その他の連絡事項は、メールやLINEの回答ページからお願いします。"
    return channel.reply(voice_content(frame, following, action, opening=False, preface=preface))
