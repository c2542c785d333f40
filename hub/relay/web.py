"""Relay front doors: the mobile answer page, Twilio's Gather and call-status posts, the live
tally page and the JSON API (``/api/v1/callouts``). Thin: they call hub.relay's services.

Provider posts are accepted only with a valid signature (X-Twilio-Signature here; the LINE
webhook in hub.callbacks checks X-Line-Signature before our postback hook ever runs).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.inbound import TakesKeypadAnswers, UserEvent
from hub.api.common import ApiError, handle_api_error, json_body
from hub.callbacks import postback_handlers, signed_form, signed_status_post
from hub.db import after_commit
from hub.i18n import gettext as _
from hub.models import audit
from hub.models.relay import Callout, CalloutState, CalloutTarget, TargetState
from hub.policy import Action, Principal
from hub.relay import surveys, tally, tasks
from hub.relay.answers import answers_of, frame_of, record_answers, target_for_line_user, voice_answer
from hub.relay.callouts import (
    CalloutError,
    CalloutForbidden,
    close_callout,
    describe,
    may_on_callout,
    start_callout,
)
from hub.relay.engine import call_ended
from hub.relay.links import LinkError, read_token
from hub.relay.texts import exercise_prefix, parse_postback
from hub.runtime import Runtime
from hub.web.pages import login_required

log = logging.getLogger(__name__)
relay_bp = Blueprint("relay", __name__, template_folder="templates")
relay_bp.register_error_handler(ApiError, handle_api_error)
REFRESH_SECONDS = 5  # how often the tally page asks for new counts (static/callouts.js)


def _rt() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


@relay_bp.before_request
def _authenticate_api() -> None:
    if request.path.startswith("/api/"):
        from hub.api.auth import authenticate

        authenticate()


# -- provider posts ----------------------------------------------------------------------------------

@relay_bp.post("/relay/voice/gather/<bigid:attempt_id>")  # contact_attempts.id is BIGINT
def voice_gather(attempt_id: int) -> ResponseReturnValue:
    rt = _rt()
    channel, form = signed_form(rt, "voice")
    if not isinstance(channel, TakesKeypadAnswers):
        abort(404)
    answer = channel.keypad_answer(form)
    with rt.session() as s:
        twiml = voice_answer(s, rt, attempt_id, answer.digits, answer.called)
    if twiml is None:
        abort(404)
    return Response(twiml, mimetype="text/xml")


@relay_bp.post("/relay/voice/status/<bigid:attempt_id>")
def voice_status(attempt_id: int) -> ResponseReturnValue:
    rt = _rt()
    event = signed_status_post(rt, "voice")
    with rt.session() as s:
        dispatches = call_ended(s, attempt_id, event.status)
    tasks.enqueue(dispatches)
    return "", 204



def handle_postback(session: Session, event: UserEvent) -> bool:
    """A button of a call-out pressed on LINE (the webhook's signature is already verified)."""
    parsed = parse_postback(event.data or "")
    if parsed is None:
        return False
    callout_id, key, value = parsed
    user_id = event.user_id or ""
    target = target_for_line_user(session, callout_id, user_id)
    if target is None:
        log.warning("relay postback for call-out %s from a LINE user who is not a target", callout_id)
        return True
    try:
        record_answers(session, target, {key: value}, via="line", actor=f"line:{user_id}")
    except surveys.SurveyError as exc:
        log.warning("relay postback with an unusable answer: %s", exc)
        return True
    target_id = target.id
    after_commit(session, lambda: tasks.line_followup.delay(target_id))
    return True


if handle_postback not in postback_handlers:
    postback_handlers.append(handle_postback)


# -- the answer page ---------------------------------------------------------------------------------

@relay_bp.route("/relay/a/<token>", methods=["GET", "POST"])
def answer_page(token: str) -> ResponseReturnValue:
    rt = _rt()
    try:
        link = read_token(rt.settings, token)
    except LinkError as exc:
        return render_template("relay/answer_error.html", message=exc.message), 410 if exc.expired else 404
    with rt.session() as s:
        target = s.get(CalloutTarget, link.target_id)
        if target is None or target.callout_id != link.callout_id:
            return render_template("relay/answer_error.html", message="このリンクは正しくありません"), 404
        if target.callout.state == CalloutState.CLOSED:
            # The link is a bearer credential: once the call-out is closed nobody should be able to
            # use a forwarded or leaked one. LINE and the phone (the provider vouches for the person)
            # still take late answers.
            message = _("この呼び出しは終了しました。回答の受付は締め切られています")
            return render_template("relay/answer_error.html", message=message, ended=True), 410
        frame = frame_of(s, target.callout, rt.settings.relay_department)
        answers, errors, saved = answers_of(s, target.id), [], False
        if request.method == "POST":
            raw = {q["key"]: request.form.get(f"q_{q['key']}", "") for q in surveys.questions(frame.snapshot)}
            raw = {k: v for k, v in raw.items()
                   if v.strip() or (surveys.question(frame.snapshot, k) or {}).get("kind") == "text"}
            try:
                answers = record_answers(s, target, raw, via=f"page:{link.channel}"[:16],
                                         actor=f"page:contact:{target.contact_id}")
                saved = bool(answers)
            except surveys.SurveyError as exc:
                errors.append(str(exc))
        page = render_template("relay/answer.html", frame=frame, prefix=exercise_prefix(frame.mode),
                               questions=surveys.questions(frame.snapshot), answers=answers, errors=errors,
                               saved=saved, name=target.contact.name, token=token)
    return page, 422 if errors else 200


# -- the live tally ----------------------------------------------------------------------------------

def _readable(s: Session, callout_id: int, principal: Principal) -> Callout:
    """The call-out, if the caller may READ in every department it reaches (the tally names them all)."""
    callout = s.get(Callout, callout_id)
    if callout is None:
        raise ApiError(404, "not_found", f"呼び出し {callout_id} はありません")
    if not may_on_callout(s, principal, callout, Action.READ):
        raise ApiError(403, "forbidden", "この呼び出しを閲覧する権限がありません")
    return callout


@relay_bp.get("/relay/callouts/<int:callout_id>")
@login_required
def tally_page(callout_id: int) -> ResponseReturnValue:
    principal: Principal = g.operator
    with _rt().session() as s:
        try:
            callout = _readable(s, callout_id, principal)
        except ApiError as exc:
            abort(exc.status)
        may_close = may_on_callout(s, principal, callout, Action.CALL)
        data = tally.tally(s, callout_id)
    if data is None:
        abort(404)
    return render_template("relay/tally.html", t=data, refresh=REFRESH_SECONDS, labels=tally.CHANNEL_LABELS,
                           summary=tally.attempts_summary, prefix=exercise_prefix(data["callout"]["mode"]),
                           may_close=may_close)


@relay_bp.get("/relay/callouts/<int:callout_id>/export.csv")
@login_required
def tally_csv(callout_id: int) -> ResponseReturnValue:
    try:
        return _csv(callout_id, g.operator)
    except ApiError as exc:
        abort(exc.status)


def _csv(callout_id: int, principal: Principal) -> ResponseReturnValue:
    with _rt().session() as s:
        _readable(s, callout_id, principal)
        text = tally.export_csv(s, callout_id)
        if text is not None:
            audit(s, principal.username, "export.callout", ("callouts", callout_id), via=request.path)
    if text is None:
        abort(404)
    return Response(text.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename=callout-{callout_id}.csv"})


# -- JSON API ----------------------------------------------------------------------------------------

def _caller() -> Principal:
    from hub.api.auth import current_principal

    return current_principal()


@relay_bp.get("/api/v1/callouts")
def api_list() -> ResponseReturnValue:
    principal = _caller()
    with _rt().session() as s:
        items = recent_callouts(s, principal)
    return jsonify({"items": items})


def recent_callouts(s: Session, principal: Principal, limit: int = 100) -> list[dict[str, Any]]:
    """The newest call-outs ``principal`` may READ, with answered/total (the API's list and the console's)."""
    recent = s.scalars(select(Callout).order_by(Callout.id.desc()).limit(limit))
    callouts = [c for c in recent if may_on_callout(s, principal, c, Action.READ)]
    answered = dict(s.execute(
        select(CalloutTarget.callout_id, func.count()).where(CalloutTarget.state == TargetState.ANSWERED)
        .group_by(CalloutTarget.callout_id)).all())
    totals = dict(s.execute(select(CalloutTarget.callout_id, func.count())
                            .group_by(CalloutTarget.callout_id)).all())
    return [{**describe(c), "total": totals.get(c.id, 0), "answered": answered.get(c.id, 0)}
            for c in callouts]


# What POST /api/v1/callouts accepts, by field (documented in hub.api.openapi as CalloutInput).
_NAMES = (list, str)
_CALLOUT_FIELDS: dict[str, tuple[type, ...]] = {
    "survey": (str,), "departments": _NAMES, "mode": (str,), "steps": _NAMES, "interval": (str, int, float),
    "cycles": (int,), "title": (str,), "deadline": (str, int, float),
}
MAX_NAMES = 64  # departments or steps: more than any city has
MAX_TEXT = 200


def _callout_input(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of a start request, checked for type; wrong types were 500s inside start_callout."""
    problems: list[str] = []
    for key, types in _CALLOUT_FIELDS.items():
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            problems.append(f"{key} の型が正しくありません")
        elif isinstance(value, list) and (len(value) > MAX_NAMES or not all(isinstance(v, str) for v in value)):
            problems.append(f"{key} は {MAX_NAMES} 個までの文字列の配列です")
        elif isinstance(value, str) and len(value) > MAX_TEXT:
            # Callout.title is 200 characters: PostgreSQL refused a longer one at commit (a 500).
            problems.append(f"{key} は {MAX_TEXT} 文字以内です")
    if problems:
        raise ApiError(400, "invalid_callout", "、".join(problems))
    return data


@relay_bp.post("/api/v1/callouts")
def api_start() -> ResponseReturnValue:
    principal = _caller()
    data = _callout_input(json_body())
    if not data.get("mode"):
        # No default on purpose, as for messages: actual vs exercise is always a conscious choice.
        raise ApiError(400, "invalid_callout", "mode（actual: 本番 / exercise: 訓練）を指定してください")
    rt = _rt()
    try:
        with rt.session() as s:
            callout = start_callout(
                s, rt, str(data.get("survey") or "anpi"), data.get("departments") or [],
                mode=str(data["mode"]), steps=data.get("steps"),
                interval=data.get("interval"), cycles=data.get("cycles"), source="api",
                title=data.get("title"), deadline=data.get("deadline"), actor=f"api:{principal.username}",
                principal=principal)
            s.flush()
            callout_id = callout.id
    except CalloutForbidden as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    except (CalloutError, surveys.SurveyError) as exc:
        raise ApiError(400, "invalid_callout", str(exc)) from exc
    tasks.release_callout(callout_id)
    with rt.session() as s:
        return jsonify(tally.tally(s, callout_id)), 201


@relay_bp.get("/api/v1/callouts/<int:callout_id>")
def api_tally(callout_id: int) -> ResponseReturnValue:
    with _rt().session() as s:
        _readable(s, callout_id, _caller())
        data = tally.tally(s, callout_id)
    if data is None:
        raise ApiError(404, "not_found", f"呼び出し {callout_id} はありません")
    return jsonify(data)


@relay_bp.post("/api/v1/callouts/<int:callout_id>/close")
def api_close(callout_id: int) -> ResponseReturnValue:
    principal = _caller()
    try:
        with _rt().session() as s:
            callout = close_callout(s, callout_id, actor=f"api:{principal.username}", principal=principal)
            result = describe(callout)
    except CalloutForbidden as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    except CalloutError as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    return jsonify(result)


@relay_bp.get("/api/v1/callouts/<int:callout_id>/export.csv")
def api_csv(callout_id: int) -> ResponseReturnValue:
    return _csv(callout_id, _caller())
