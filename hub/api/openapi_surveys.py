"""The OpenAPI paths and schemas of resident surveys (merged into hub/api/openapi.py's SPEC)."""

from __future__ import annotations

from typing import Any

from hub.api.openapi import (
    CSV,
    INTEGER,
    MESSAGE_ID,
    NULLABLE_STRING,
    PAGING,
    STRING,
    STRINGS,
    errors,
    nullable,
    obj,
    page_of,
    query,
    ref,
    reply,
)

NONNEGATIVE = {"type": "integer", "minimum": 0}
KEY_COUNTS = {"type": "object", "additionalProperties": NONNEGATIVE, "description": "answers per choice key"}
SURVEY_GROUP = obj({"code": NULLABLE_STRING, "name": STRING, "reached": NONNEGATIVE, "answered": NONNEGATIVE,
                    "unanswered": NONNEGATIVE, "counts": KEY_COUNTS},
                   description="a resident in two areas (categories) counts in both; code null: none")
SURVEY_SCHEMAS: dict[str, Any] = {
    "QuestionInput": obj({
        "text": {"type": "string", "minLength": 1, "maxLength": 200},
        "choices": {"type": "array", "minItems": 2, "maxItems": 9,
                    "items": {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 20},
                                        obj({"key": {"type": "string", "pattern": "^[1-9]$"},
                                             "label": {"type": "string", "minLength": 1, "maxLength": 20}},
                                            required=["label"])]},
                    "description": "labels (keys 1, 2, … in order: what a resident replies by SMS); "
                    "at most 20 characters each, a LINE button's limit"},
        "hours": {"type": "integer", "minimum": 1, "maximum": 720, "default": 72,
                  "description": "answers are taken this long after the message went out"},
    }, required=["text", "choices"]),
    "SurveyTally": obj({
        "message_id": INTEGER,
        "question": obj({"text": STRING, "choices": {"type": "array", "items": obj({"key": STRING,
                                                                                       "label": STRING})}}),
        "open": {"type": "boolean"}, "closes_at": nullable("string", format="date-time"),
        "reached": {**NONNEGATIVE, "description": "residents it reached (sent or delivered)"},
        "answered": NONNEGATIVE,
        "unanswered": {**NONNEGATIVE, "description": "reached and not answered"},
        "choices": {"type": "array", "items": obj({"key": STRING, "label": STRING, "count": NONNEGATIVE})},
        "channels": {"type": "object", "additionalProperties": NONNEGATIVE,
                     "description": "answers by path: sms, line, web (the answer page)"},
        "areas": {"type": "array", "items": SURVEY_GROUP},
        "categories": {"type": "array", "items": SURVEY_GROUP},
        "counted_at": {"type": "string", "format": "date-time",
                       "description": "When it was counted. A survey that reached 20,000 residents or more is "
                                      "counted once for every viewer and that count is given for 1-60 s."},
    }),
    "Respondent": obj({
        "contact_id": INTEGER, "external_id": NULLABLE_STRING, "name": STRING, "areas": STRINGS,
        "categories": STRINGS, "reached_on": STRINGS, "status": {"enum": ["answered", "unanswered"]},
        "answer": {"oneOf": [{"type": "null"}, obj({
            "key": STRING, "label": STRING, "channel": STRING,
            "answered_at": {"type": "string", "format": "date-time"},
            "first_answered_at": {"type": "string", "format": "date-time"},
            "changes": {**NONNEGATIVE, "description": "how often the answer was changed"}})]},
    }),
    "RespondentPage": page_of("Respondent"),
}


SURVEY_PATHS: dict[str, Any] = {
    "/messages/{message_id}/survey": {
        "parameters": [MESSAGE_ID],
        "get": {"operationId": "getSurvey", "summary": "The live tally of the message's resident survey",
                "responses": {"200": reply("Counts per choice, by area, category and answer path",
                                           ref("SurveyTally")),
                              **errors(401, 403, 404)}},
    },
    "/messages/{message_id}/survey/close": {
        "parameters": [MESSAGE_ID],
        "post": {"operationId": "closeSurvey", "summary": "Stop taking answers now (a sender of its department)",
                 "responses": {"200": reply("Closed; the tally as it stands", ref("SurveyTally")),
                               **errors(401, 403, 404, 409)}},
    },
    "/messages/{message_id}/survey/respondents": {
        "parameters": [MESSAGE_ID],
        "get": {"operationId": "listRespondents",
                "summary": "Residents the survey reached or who answered, with their answer",
                "parameters": [*PAGING, query("status", {"enum": ["all", "answered", "unanswered"],
                                                         "default": "all"},
                                              "unanswered: reached and not answered")],
                "responses": {"200": reply("One page", ref("RespondentPage")), **errors(400, 401, 403, 404)}},
    },
    "/messages/{message_id}/survey.csv": {
        "parameters": [MESSAGE_ID],
        "get": {"operationId": "exportSurvey", "summary": "One row per resident with their answer (or 未回答)",
                "parameters": [query("status", {"enum": ["all", "answered", "unanswered"], "default": "all"},
                                     "only these residents")],
                "responses": {"200": CSV, **errors(400, 401, 403, 404)}},
    },
}
