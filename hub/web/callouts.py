"""Console pages for call-outs (list, start with a confirmation step, close) and the JMA status page.

Thin, like hub.web.pages: a call-out is started and closed by the same functions as the API and the
CLI (hub.relay.callouts.start_callout / close_callout), with the operator as the principal, so the
policy (Action.CALL in every department reached) and the bounds (cycles, steps, interval) are theirs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.auth import refuse_form_without_csrf
from hub.api.common import runtime
from hub.api.composing import CHANNEL_LABELS
from hub.i18n import gettext as _
from hub.models import Department, Mode
from hub.models.relay import Callout, CalloutState, CalloutTarget, Survey
from hub.models.triggers import TriggerTelegram
from hub.policy import Action, Principal
from hub.relay import surveys, tasks
from hub.relay.callouts import (
    DEFAULT_CHAIN,
    DEFAULT_CYCLES,
    DEFAULT_INTERVAL,
    MAX_CYCLES,
    MAX_STEPS,
    RELAY_CHANNELS,
    CalloutError,
    CalloutForbidden,
    close_callout,
    may_on_callout,
    start_callout,
)
from hub.relay.web import recent_callouts
from hub.web.pages import _operator, login_required
from triggers.health import feed_status

console_bp = Blueprint("console_callouts", __name__)
TELEGRAMS_SHOWN = 30
QUARANTINE_SHOWN = 20


console_bp.before_request(refuse_form_without_csrf)


# -- call-outs -----------------------------------------------------------------------------------

def _callable_departments(s: Session, principal: Principal) -> list[Department]:
    allowed = principal.departments(Action.CALL)
    every = s.scalars(select(Department).order_by(Department.code))
    return [d for d in every if allowed is None or d.id in allowed]


@console_bp.get("/callouts")
@login_required
def callout_list() -> ResponseReturnValue:
    principal = _operator()
    with runtime().session() as s:
        items = recent_callouts(s, principal)
        may_start = bool(_callable_departments(s, principal))
    return render_template("callouts/list.html", items=items, may_start=may_start)


def _form() -> dict[str, Any]:
    form = request.form
    return {"survey": form.get("survey", ""), "departments": form.getlist("departments"),
            "mode": form.get("mode", ""), "steps": form.get("steps", "").strip(),
            "interval": form.get("interval", "").strip(), "cycles": form.get("cycles", "").strip()}


def _choices(s: Session, principal: Principal) -> dict[str, Any]:
    surveys.ensure_builtin_surveys(s)
    return {"surveys": [(v.code, v.title) for v in s.scalars(select(Survey).order_by(Survey.code))],
            "departments": [(d.code, d.name) for d in _callable_departments(s, principal)],
            "channels": [c for c in RELAY_CHANNELS if c in runtime().available_channels()],
            "max_cycles": MAX_CYCLES, "max_steps": MAX_STEPS,
            "min_interval": runtime().settings.relay_min_interval_seconds}


def _edit(data: dict[str, Any], problem: str | None = None, status: int = 200) -> ResponseReturnValue:
    principal = _operator()
    with runtime().session() as s:
        choices = _choices(s, principal)
    if not choices["departments"]:
        abort(403)
    return render_template("callouts/new.html", data=data, problem=problem, labels=CHANNEL_LABELS,
                           **choices), status


def _start(s: Session, data: dict[str, Any], principal: Principal) -> Callout:
    """start_callout, as the API calls it, with what the form says (the mode has no default)."""
    if data["mode"] not in (Mode.ACTUAL, Mode.EXERCISE):
        raise CalloutError(_("実配信か訓練かを選んでください"))
    if not data["departments"]:
        raise CalloutError(_("呼び出す部署を選んでください"))
    return start_callout(s, runtime(), data["survey"] or "anpi", data["departments"], mode=data["mode"],
                         steps=data["steps"] or None, interval=data["interval"] or None,
                         cycles=data["cycles"] or None, source="web", actor=f"web:{principal.username}",
                         principal=principal)


def _preview(data: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """What starting would do: start_callout itself runs in a transaction that is rolled back."""
    s = runtime().sessions()
    try:
        callout = _start(s, data, principal)
        s.flush()
        names = {d.id: d.name for d in s.scalars(select(Department))}
        per = Counter(s.scalars(select(CalloutTarget.department_id).where(CalloutTarget.callout_id == callout.id)))
        return {"mode": callout.mode, "title": callout.title, "chain": list(callout.chain),
                "interval_seconds": callout.interval_seconds, "cycles": callout.cycles,
                "departments": sorted((names.get(d or 0, "?"), n) for d, n in per.items()),
                "total": sum(per.values())}
    finally:
        s.rollback()
        s.close()


@console_bp.get("/callouts/new")
@login_required
def new_callout() -> ResponseReturnValue:
    return _edit({"survey": "anpi", "departments": [], "mode": "", "steps": ",".join(DEFAULT_CHAIN),
                  "interval": f"{int(DEFAULT_INTERVAL.total_seconds()) // 60}m", "cycles": str(DEFAULT_CYCLES)})


@console_bp.post("/callouts/new")
@login_required
def new_callout_post() -> ResponseReturnValue:
    principal = _operator()
    data, step = _form(), request.form.get("step", "confirm")
    if step == "edit":
        return _edit(data)
    try:
        preview = _preview(data, principal)
    except CalloutForbidden as exc:
        return _edit(data, str(exc), 403)
    except (CalloutError, surveys.SurveyError) as exc:
        return _edit(data, str(exc), 422)
    if step != "start":
        return render_template("callouts/confirm.html", data=data, preview=preview, labels=CHANNEL_LABELS)
    if data["mode"] == Mode.ACTUAL and request.form.get("confirm_actual") != "yes":
        flash(_("実配信であることの確認にチェックしてください"), "error")
        return render_template("callouts/confirm.html", data=data, preview=preview, labels=CHANNEL_LABELS), 422
    try:
        with runtime().session() as s:
            callout = _start(s, data, principal)
            s.flush()
            callout_id = callout.id
    except CalloutForbidden as exc:
        return _edit(data, str(exc), 403)
    except (CalloutError, surveys.SurveyError) as exc:
        return _edit(data, str(exc), 422)
    tasks.release_callout(callout_id)
    flash(_("呼び出しを開始しました"), "ok")
    return redirect(url_for("relay.tally_page", callout_id=callout_id))


def _closable(s: Session, callout_id: int, principal: Principal) -> Callout:
    callout = s.get(Callout, callout_id)
    if callout is None:
        abort(404)
    if not may_on_callout(s, principal, callout, Action.CALL):
        abort(403)
    return callout


@console_bp.get("/callouts/<int:callout_id>/close")
@login_required
def close_confirm(callout_id: int) -> ResponseReturnValue:
    with runtime().session() as s:
        callout = _closable(s, callout_id, _operator())
        info = {"id": callout.id, "title": callout.title, "mode": callout.mode, "state": callout.state}
    if info["state"] == CalloutState.CLOSED:
        return redirect(url_for("relay.tally_page", callout_id=callout_id))
    return render_template("callouts/close.html", c=info)


@console_bp.post("/callouts/<int:callout_id>/close")
@login_required
def close_post(callout_id: int) -> ResponseReturnValue:
    principal = _operator()
    try:
        with runtime().session() as s:
            close_callout(s, callout_id, actor=f"web:{principal.username}", principal=principal)
    except CalloutForbidden:
        abort(403)
    except CalloutError:
        abort(404)
    flash(_("呼び出しを締め切りました。以後の連絡は行いません（回答は引き続き受け付けます）"), "ok")
    return redirect(url_for("relay.tally_page", callout_id=callout_id))


# -- JMA -----------------------------------------------------------------------------------------

@console_bp.get("/jma")
@login_required
def jma_status() -> ResponseReturnValue:
    # Feed health and JMA's telegrams are public information about the hub, not a department's:
    # every operator who may READ somewhere (viewers included) may look.
    if _operator().departments(Action.READ) == frozenset():
        abort(403)
    rt = runtime()
    with rt.session() as s:
        status = feed_status(s, rt.settings, quarantined=QUARANTINE_SHOWN)
        telegrams = [{"id": t.id, "item": t.item_key, "type": t.type_code, "status": t.status,
                      "info": t.info_type, "headline": t.headline, "state": t.state,
                      "reported_at": t.reported_at, "claimed_at": t.claimed_at, "decision": t.decision or {}}
                     for t in s.scalars(select(TriggerTelegram).order_by(TriggerTelegram.id.desc())
                                        .limit(TELEGRAMS_SHOWN))]
    return render_template("callouts/jma.html", status=status, telegrams=telegrams,
                           silence_minutes=rt.settings.jma_silence_alarm_minutes)
