"""Staff call-outs (安否確認・参集): surveys, the relay chain per person, every contact attempt, answers.

The database is the relay's only memory: a person's next step is a row with a
due time, the task that may take it is named on the row (``active_task_id``), and the unique
attempt row per (person, cycle, step) is what makes a second contact for one step impossible.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.models.base import PROVIDER_ID_MAX, Base, BigId, UtcDateTime, utcnow
from hub.models.contacts import Contact
from hub.models.org import Department


class CalloutState(enum.StrEnum):
    ACTIVE = "active"  # chains are running
    DONE = "done"  # every chain ended (answered or cycles used up); late answers still count
    CLOSED = "closed"  # stopped by hand or by the deadline


class TargetState(enum.StrEnum):
    WAITING = "waiting"  # the next step is due at ``next_step_at``
    CONTACTING = "contacting"  # a worker holds the step (``claimed_by``) and is talking to a provider
    RECOVERING = "recovering"  # the worker holding the step died; the next task reconciles it
    ANSWERED = "answered"
    EXHAUSTED = "exhausted"  # every cycle tried, never answered
    CLOSED = "closed"  # the call-out closed before this person answered


OPEN_TARGET_STATES = (TargetState.WAITING, TargetState.CONTACTING, TargetState.RECOVERING)


class AttemptState(enum.StrEnum):
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # no address for this step (``reason``)
    UNKNOWN = "unknown"  # may have reached the provider; never resent blind
    RETRY = "retry"  # the provider refused for now (429, 5xx) or nothing left: the same step is sent again
    NO_ANSWER = "no_answer"  # the call rang out, was busy or failed (Twilio status callback)


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    intro: Mapped[str] = mapped_column(Text, default="")
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    questions: Mapped[list[SurveyQuestion]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", order_by="SurveyQuestion.position"
    )


class SurveyQuestion(Base):
    __tablename__ = "survey_questions"
    __table_args__ = (UniqueConstraint("survey_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    key: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # choice | number | text
    label: Mapped[str] = mapped_column(String(200))
    # choice: [{"value", "label", "digit"}]; number: {"min", "max", "unit", "presets"} in ``options``.
    choices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    # Asked only when an earlier answer matches, e.g. ETA only for those who can come.
    ask_if: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    survey: Mapped[Survey] = relationship(back_populates="questions")


class Callout(Base):
    __tablename__ = "callouts"
    __table_args__ = (Index("ix_callouts_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    title: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(16), default="actual")  # actual | exercise
    state: Mapped[str] = mapped_column(String(16), default=CalloutState.ACTIVE)
    # Frozen when the call-out starts: editing a survey or the defaults never changes a running one.
    chain: Mapped[list[str]] = mapped_column(JSON, default=list)
    survey_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=300)
    cycles: Mapped[int] = mapped_column(Integer, default=3)
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))  # whose senders
    source: Mapped[str] = mapped_column(String(100), default="manual")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_reason: Mapped[str | None] = mapped_column(String(32))

    survey: Mapped[Survey] = relationship()
    department: Mapped[Department | None] = relationship()


class CalloutTarget(Base):
    """One person of a call-out and where their chain stands: the next (cycle, step) and when."""

    __tablename__ = "callout_targets"
    __table_args__ = (
        UniqueConstraint("callout_id", "contact_id"),
        Index("ix_callout_targets_due", "state", "next_step_at"),
        Index("ix_callout_targets_callout_state", "callout_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    callout_id: Mapped[int] = mapped_column(ForeignKey("callouts.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    # Frozen at start: the tally counts people where they stood when the call-out went out.
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    state: Mapped[str] = mapped_column(String(16), default=TargetState.WAITING)
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    active_task_id: Mapped[str | None] = mapped_column(String(36))
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_attempt_id: Mapped[int | None] = mapped_column(BigId)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    answered_via: Mapped[str | None] = mapped_column(String(16))
    # Voice: which question the caller is hearing, so a DTMF post is matched to it.
    voice_question: Mapped[str | None] = mapped_column(String(32))

    callout: Mapped[Callout] = relationship()
    contact: Mapped[Contact] = relationship()


class ContactAttempt(Base):
    __tablename__ = "contact_attempts"
    __table_args__ = (
        # The guard against a second contact for one step, whatever Celery redelivers.
        UniqueConstraint("target_id", "cycle", "step_index"),
        Index("ix_contact_attempts_callout", "callout_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    callout_id: Mapped[int] = mapped_column(ForeignKey("callouts.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("callout_targets.id", ondelete="CASCADE"))
    cycle: Mapped[int] = mapped_column(Integer)
    step_index: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(254))
    state: Mapped[str] = mapped_column(String(16), default=AttemptState.SENDING)
    reason: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(PROVIDER_ID_MAX))
    provider_status: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    # Provider requests made for this step; a retried step (429, 5xx) keeps its one attempt row.
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    # Answering twice (another channel, a changed mind) updates the one row.
    __table_args__ = (UniqueConstraint("callout_id", "contact_id", "question_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    callout_id: Mapped[int] = mapped_column(ForeignKey("callouts.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("callout_targets.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    question_key: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
