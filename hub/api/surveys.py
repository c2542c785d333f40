"""A message's resident survey: the live tally, who answered what (and who has not), the CSV."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, jsonify, request, stream_with_context
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from hub.api import api_bp
from hub.api.auth import Principal, current_principal
from hub.api.common import ApiError, paging, runtime
from hub.api.messages import readable_message
from hub.i18n import gettext as _
from hub.models import Message, audit
from hub.policy import Action
from hub.residents import survey_tally
from hub.residents.questions import close_survey, stored_question


def _survey_message(s: Session, message_id: int) -> Message:
    message = readable_message(s, message_id, current_principal())
    if stored_question(message) is None:
        raise ApiError(404, "not_found", _("このメッセージにはアンケートがありません"))
    return message


def _status() -> str:
    status = request.args.get("status") or "all"
    if status not in survey_tally.STATUSES:
        raise ApiError(400, "invalid_parameter", _("status は次のいずれかです: {values}").format(
            values=", ".join(survey_tally.STATUSES)))
    return status


@api_bp.get("/messages/<int:message_id>/survey")
def survey_endpoint(message_id: int) -> ResponseReturnValue:
    with runtime().session() as s:
        return jsonify(survey_tally.watched(s, _survey_message(s, message_id), runtime().tallies))


@api_bp.get("/messages/<int:message_id>/survey/respondents")
def survey_respondents(message_id: int) -> ResponseReturnValue:
    page, per_page = paging()
    status = _status()
    with runtime().session() as s:
        rows, total = survey_tally.respondents(s, _survey_message(s, message_id), status,
                                               offset=(page - 1) * per_page, limit=per_page)
    return jsonify(items=rows, page=page, per_page=per_page, total=total)


@api_bp.get("/messages/<int:message_id>/survey.csv")
def survey_csv(message_id: int) -> ResponseReturnValue:
    rt, principal, status = runtime(), current_principal(), _status()
    with rt.session() as s:
        _survey_message(s, message_id)
        audit(s, principal.username, "export.survey", ("messages", message_id), status=status, via=request.path)

    def generate() -> Iterator[bytes]:
        with rt.session() as s:
            message = s.get(Message, message_id)
            assert message is not None
            for chunk in survey_tally.export_csv(s, message, status):
                yield chunk.encode("utf-8")

    suffix = "" if status == "all" else f"-{status}"
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": f'attachment; filename="survey-{message_id}{suffix}.csv"'})


def close_as(message_id: int, principal: Principal) -> dict[str, Any]:
    """Close the survey for a sender of the message's department; the tally as it stands."""
    with runtime().session() as s:
        message = readable_message(s, message_id, principal)
        if stored_question(message) is None:
            raise ApiError(404, "not_found", _("このメッセージにはアンケートがありません"))
        if not principal.may(Action.SEND, message.department_id):
            raise ApiError(403, "forbidden", _("このアンケートを締め切る権限がありません"))
        if not close_survey(message):
            raise ApiError(409, "survey_closed", _("このアンケートの受付はすでに終了しています"))
        audit(s, principal.username, "survey.close", message)
        s.flush()
        tally = survey_tally.watched(s, message, runtime().tallies)  # closed: a new key, counted now
        assert tally is not None
        return tally


@api_bp.post("/messages/<int:message_id>/survey/close")
def survey_close(message_id: int) -> ResponseReturnValue:
    return jsonify(close_as(message_id, current_principal()))
