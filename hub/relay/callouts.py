"""Starting and closing call-outs. The chain, interval, cycles and survey are frozen at the start.

``start_callout`` is what the CLI, the API and trigger rules call. It only writes rows; the
caller commits and then calls :func:`hub.relay.tasks.release_callout` so the first steps go out
at once (the periodic tick would find them within ``relay_tick_seconds`` anyway).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from hub.models import Contact, ContactKind, Department, Mode, audit
from hub.models.relay import (
    OPEN_TARGET_STATES,
    AttemptState,
    Callout,
    CalloutState,
    CalloutTarget,
    ContactAttempt,
    Survey,
    TargetState,
)
from hub.policy import SYSTEM, Action, Principal
from hub.relay import clock
from hub.relay.surveys import ensure_builtin_surveys, snapshot
from hub.runtime import Runtime

DEFAULT_CHAIN = ("line", "voice", "email")
RELAY_CHANNELS = ("line", "voice", "email", "sms")
DEFAULT_INTERVAL = timedelta(minutes=5)
DEFAULT_CYCLES = 3
# Bounds on what one call-out may do to staff phones: at most MAX_STEPS contacts per round,
# MAX_CYCLES rounds, steps at least ``relay_min_interval_seconds`` apart.
MAX_CYCLES = 5
MAX_STEPS = 10
MODES = (Mode.ACTUAL, Mode.EXERCISE)
_DURATION_RE = re.compile(r"(\d+)\s*([hms]?)")
_UNITS = {"h": 3600, "m": 60, "s": 1, "": 1}
# A call-out is about the next hours; a year-long interval or deadline is a typo (and a large enough
# one overflowed the date arithmetic).
MAX_DURATION = timedelta(days=7)

Duration = timedelta | int | float | str


class CalloutError(ValueError):
    """The call-out cannot start as asked; the message says what to change."""


class CalloutForbidden(PermissionError):
    """The operator may not call (or close a call-out of) one of the departments."""


def parse_duration(value: Duration | None, default: timedelta) -> timedelta:
    """``5m``, ``90s``, ``1h30m``, a number of seconds, or a timedelta."""
    if value is None or value == "":
        return default
    if isinstance(value, timedelta):
        return value
    try:
        if isinstance(value, int | float):
            result = timedelta(seconds=float(value))
        else:
            text = value.strip().lower()
            parts = _DURATION_RE.findall(text)
            if not parts or _DURATION_RE.sub("", text).strip():
                raise CalloutError(f"時間の指定が読めません: {value!r}（例: 5m, 90s, 1h）")
            result = timedelta(seconds=sum(int(n) * _UNITS[unit] for n, unit in parts))
        if abs(result) > MAX_DURATION:
            raise CalloutError(f"時間の指定は {MAX_DURATION.days} 日以内にしてください: {str(value)[:40]!r}")
        return result
    except (OverflowError, ValueError) as exc:  # 1e308 seconds, NaN, or digits beyond timedelta
        if isinstance(exc, CalloutError):
            raise
        raise CalloutError(f"時間の指定が大きすぎるか読めません: {str(value)[:40]!r}") from exc


def chain_of(steps: Iterable[str] | str | None, runtime: Runtime) -> list[str]:
    if steps is None:
        return list(DEFAULT_CHAIN)
    names = [s.strip() for s in (steps.split(",") if isinstance(steps, str) else steps) if s.strip()]
    available = set(runtime.available_channels())
    bad = [s for s in names if s not in RELAY_CHANNELS or s not in available]
    if not names or bad:
        raise CalloutError(
            f"連絡手段は {', '.join(RELAY_CHANNELS)} から選んでください（不正: {', '.join(bad)}）")
    if len(names) > MAX_STEPS:
        raise CalloutError(f"連絡の順番は{MAX_STEPS}段階までです（指定: {len(names)}段階）")
    return names


def resolve_departments(session: Session, departments: Sequence[str] | str,
                        principal: Principal = SYSTEM) -> list[Department]:
    """The departments named; ``all`` is every department ``principal`` may CALL (never more).

    A department named explicitly that the principal may not call raises :class:`CalloutForbidden`.
    """
    if isinstance(departments, str):
        departments = departments.split(",")
    if not isinstance(departments, list | tuple):
        raise CalloutError("部署は部署コードか部署名の一覧で指定してください")
    wanted = [d.strip() for d in departments if isinstance(d, str) and d.strip()]
    every = list(session.scalars(select(Department).order_by(Department.id)))
    if wanted in (["all"], ["全部署"]):
        mine = [d for d in every if principal.may(Action.CALL, d.id)]
        if not mine:
            raise CalloutForbidden("呼び出しを行える部署がありません")
        return mine
    by_key = {d.code: d for d in every} | {d.name: d for d in every}
    unknown = [d for d in wanted if d not in by_key]
    if not wanted or unknown:
        raise CalloutError(f"部署が見つかりません: {', '.join(unknown) or '（指定なし）'}")
    chosen = list({by_key[d].id: by_key[d] for d in wanted}.values())
    refused = [d.name for d in chosen if not principal.may(Action.CALL, d.id)]
    if refused:
        raise CalloutForbidden(f"次の部署の職員を呼び出す権限がありません: {', '.join(refused)}")
    return chosen


def callout_department_ids(session: Session, callout: Callout) -> list[int]:
    codes = list(callout.departments)
    return list(session.scalars(select(Department.id).where(Department.code.in_(codes)))) if codes else []


def may_on_callout(session: Session, principal: Principal, callout: Callout, action: Action) -> bool:
    """READ a tally or CALL (close) a call-out: in every department it reaches."""
    ids = callout_department_ids(session, callout)
    if not ids:
        return principal.is_admin
    return all(principal.may(action, d) for d in ids)


def start_callout(
    session: Session,
    runtime: Runtime,
    survey_code: str,
    departments: Sequence[str] | str,
    mode: str = Mode.ACTUAL,
    steps: Iterable[str] | str | None = None,
    interval: Duration | None = None,
    cycles: int | None = None,
    source: str = "manual",
    *,
    title: str | None = None,
    deadline: Duration | None = None,
    actor: str | None = None,
    principal: Principal = SYSTEM,
) -> Callout:
    """Create a call-out and one target per staff member; the caller commits, then releases it.

    ``principal`` is who starts it (the trigger engine is :data:`hub.policy.SYSTEM`): only the
    departments they may CALL are reached.
    """
    if mode not in MODES:
        raise CalloutError("モードは actual（本番）か exercise（訓練）です")
    chain = chain_of(steps, runtime)
    step_gap = parse_duration(interval, DEFAULT_INTERVAL)
    shortest = max(1, runtime.settings.relay_min_interval_seconds)
    if step_gap < timedelta(seconds=shortest):
        raise CalloutError(f"連絡の間隔は{shortest}秒以上にしてください")
    try:
        rounds = DEFAULT_CYCLES if cycles is None else int(cycles)
    except (TypeError, ValueError):
        raise CalloutError(f"繰り返し回数は1〜{MAX_CYCLES}回の整数です") from None
    if not 1 <= rounds <= MAX_CYCLES:
        raise CalloutError(f"繰り返し回数は1〜{MAX_CYCLES}回です")
    ensure_builtin_surveys(session)
    survey = session.scalar(select(Survey).where(Survey.code == survey_code))
    if survey is None:
        codes = ", ".join(session.scalars(select(Survey.code).order_by(Survey.code)))
        raise CalloutError(f"アンケート「{survey_code}」はありません（登録済み: {codes}）")
    depts = resolve_departments(session, departments, principal)
    staff = select(Contact.id, Contact.department_id).where(
        Contact.kind == ContactKind.STAFF, Contact.active.is_(True),
        Contact.department_id.in_([d.id for d in depts]))
    if mode == Mode.EXERCISE:
        # Drills reach only those who signed up for them, exactly like exercise broadcasts.
        staff = staff.where(Contact.exercise_participant.is_(True))
    people = session.execute(staff.order_by(Contact.id)).all()
    if not people:
        only = "（訓練参加者のみが対象です）" if mode == Mode.EXERCISE else ""
        raise CalloutError("対象の職員がいません" + only)
    now = clock.now()
    owner = session.scalar(select(Department).where(Department.code == runtime.settings.relay_department))
    callout = Callout(
        survey_id=survey.id, title=title or survey.title, mode=str(mode), state=CalloutState.ACTIVE,
        chain=chain, survey_snapshot=snapshot(survey), interval_seconds=int(step_gap.total_seconds()),
        cycles=rounds, departments=[d.code for d in depts], department_id=owner.id if owner else None,
        source=source, created_by=actor or source, started_at=now,
        deadline_at=now + parse_duration(deadline, timedelta(0)) if deadline else None,
    )
    session.add(callout)
    session.flush()
    session.execute(insert(CalloutTarget), [
        {"callout_id": callout.id, "contact_id": contact_id, "department_id": dept_id,
         "state": TargetState.WAITING, "cycle": 1, "step_index": 0, "next_step_at": now}
        for contact_id, dept_id in people
    ])
    audit(session, actor or source, "relay.callout.start", callout, survey=survey.code, mode=str(mode),
          chain=chain, interval_seconds=callout.interval_seconds, cycles=rounds,
          departments=callout.departments, targets=len(people))
    return callout


def close_callout(session: Session, callout_id: int, actor: str, reason: str = "manual",
                  principal: Principal = SYSTEM) -> Callout:
    """Stop every chain that is still running; answers keep being accepted.

    Only someone who may CALL in every department the call-out reaches may close it.
    """
    callout = session.get(Callout, callout_id)
    if callout is None:
        raise CalloutError(f"呼び出し {callout_id} はありません")
    if not may_on_callout(session, principal, callout, Action.CALL):
        raise CalloutForbidden("この呼び出しを締め切る権限がありません（対象部署すべての呼び出し権限が必要です）")
    if callout.state == CalloutState.CLOSED:
        return callout
    now = clock.now()
    callout.state, callout.closed_at, callout.closed_reason = CalloutState.CLOSED, now, reason
    # A step whose worker died will not be reconciled any more: its outcome stays unknown.
    orphaned = select(CalloutTarget.last_attempt_id).where(
        CalloutTarget.callout_id == callout_id, CalloutTarget.state == TargetState.RECOVERING)
    session.execute(
        update(ContactAttempt)
        .where(ContactAttempt.id.in_(orphaned), ContactAttempt.state == AttemptState.SENDING)
        .values(state=AttemptState.UNKNOWN, finished_at=now,
                error="送信処理が中断されたまま締め切られたため、送信結果は不明です")
    )
    # A step already with a provider finishes; the worker then sees the call-out closed.
    session.execute(
        update(CalloutTarget)
        .where(CalloutTarget.callout_id == callout_id,
               CalloutTarget.state.in_([TargetState.WAITING, TargetState.RECOVERING]))
        .values(state=TargetState.CLOSED, active_task_id=None, next_step_at=None)
    )
    audit(session, actor, "relay.callout.close", callout, reason=reason)
    return callout


def finish_if_done(session: Session, callout_id: int) -> bool:
    """An active call-out whose every chain has ended becomes ``done``."""
    open_count = session.scalar(
        select(func.count()).select_from(CalloutTarget)
        .where(CalloutTarget.callout_id == callout_id, CalloutTarget.state.in_(OPEN_TARGET_STATES))
    )
    if open_count:
        return False
    done = session.execute(
        update(Callout).where(Callout.id == callout_id, Callout.state == CalloutState.ACTIVE)
        .values(state=CalloutState.DONE, finished_at=clock.now())
    )
    if getattr(done, "rowcount", 0):
        audit(session, "relay", "relay.callout.done", ("callouts", callout_id))
    return True


def describe(callout: Callout) -> dict[str, Any]:
    return {
        "id": callout.id, "title": callout.title, "survey": callout.survey_snapshot.get("code"),
        "mode": callout.mode, "state": callout.state, "chain": list(callout.chain),
        "interval_seconds": callout.interval_seconds, "cycles": callout.cycles,
        "departments": list(callout.departments), "source": callout.source,
        "started_at": clock.aware(callout.started_at).isoformat(),
        "deadline_at": clock.aware(callout.deadline_at).isoformat() if callout.deadline_at else None,
        "closed_at": clock.aware(callout.closed_at).isoformat() if callout.closed_at else None,
    }
