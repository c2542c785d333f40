"""The OpenAPI paths and schemas of personalised CSV sends (merged into hub/api/openapi.py's SPEC)."""

from __future__ import annotations

from typing import Any

from hub.api.openapi import ID, INTEGER, STRING, errors, nullable, obj, ref, reply

SEND_ID = {"name": "send_id", "in": "path", "required": True, "schema": ID}
_SAMPLE = obj({"line": INTEGER, "address": STRING, "subject": nullable("string"), "text": STRING,
               "units": INTEGER, "characters": INTEGER})
_MODE = {"type": "string", "enum": ["actual", "exercise", "test"]}
_SCHEDULED = obj({"message_id": INTEGER, "state": STRING, "mode": _MODE, "scheduled_at": nullable("string")})

NOTICE_SCHEMAS: dict[str, Any] = {
    "CsvSendInput": obj({
        "file": {"type": "string", "contentMediaType": "text/csv",
                 "description": "UTF-8 (with or without BOM) or Shift_JIS; address columns phone, email, "
                 "line_user_id or external_id; consent for raw addresses; any other column is a placeholder"},
        "title": STRING, "body": {"type": "string", "description": "{{column}} placeholders, e.g. {{氏名}}様"},
        "channels": {"type": "string", "description": "comma-separated: sms, voice, email, line (never x, rss)"},
        "mode": _MODE,
        "category": STRING, "department": STRING,
        "scheduled_at": {"type": "string", "description": "a plain send's time (ISO 8601); not with reminder"},
        "reminder": {"type": "string", "description": "day_before@10:00 | days:N@HH:MM | hours:N"},
        "date_column": {"type": "string", "description": "the column the reminder counts back from"},
        "confirm": {"type": "string", "description": "true: store and send; otherwise only check and preview"},
        "skip_bad": {"type": "string", "description": "true: send the good rows although some are bad"},
    }, ["file", "title", "channels", "mode"]),
    "CsvSendPreview": obj({
        "rows": INTEGER, "good": INTEGER, "columns": {"type": "array", "items": STRING},
        "placeholders": {"type": "array", "items": STRING},
        "errors": {"type": "array", "items": obj({"line": INTEGER, "reason": STRING})},
        "channels": {"type": "object", "additionalProperties": obj({
            "recipients": INTEGER, "samples": {"type": "array", "items": _SAMPLE}, "longest": _SAMPLE,
            "units": INTEGER})},
        "sms_segments": INTEGER, "unit_price_yen": {"type": "number"}, "estimated_cost_yen": {"type": "number"},
        "send_times": {"type": "array", "items": obj({"at": STRING, "rows": INTEGER})},
    }),
    "CsvSendResult": obj({
        "preview": ref("CsvSendPreview"), "csv_send_id": nullable("integer"),
        "messages": {"type": ["array", "null"], "items": _SCHEDULED},
    }),
    "CsvSend": obj({
        "csv_send_id": INTEGER, "filename": STRING, "title": STRING, "body": STRING,
        "channels": {"type": "array", "items": STRING}, "columns": {"type": "array", "items": STRING},
        "rows": INTEGER, "reminder": nullable("string"), "date_column": nullable("string"),
        "category": nullable("string"), "created_at": nullable("string"),
        "messages": {"type": "array", "items": _SCHEDULED},
        "withdrawn": {"type": "integer", "description": "cancel only: the messages withdrawn now"},
    }, ["csv_send_id", "filename", "title", "body", "channels", "columns", "rows", "reminder", "date_column",
        "category", "created_at", "messages"]),
}

NOTICE_PATHS: dict[str, Any] = {
    "/csv-sends": {
        "post": {"operationId": "createCsvSend",
                 "summary": "Check a personalised CSV send (every bad row by line, a preview, the cost); "
                            "with confirm=true, send it",
                 "requestBody": {"required": True, "content": {
                     "multipart/form-data": {"schema": ref("CsvSendInput")}}},
                 "responses": {"200": reply("Checked only: the preview", ref("CsvSendResult")),
                               "201": reply("Stored: one message per send time", ref("CsvSendResult")),
                               **errors(400, 401, 403, 415, 422)}},
    },
    "/csv-sends/{send_id}": {
        "parameters": [SEND_ID],
        "get": {"operationId": "getCsvSend", "summary": "A CSV send and its messages (one per send time)",
                "responses": {"200": reply("The send", ref("CsvSend")), **errors(401, 403, 404)}},
    },
    "/csv-sends/{send_id}/approve": {
        "parameters": [SEND_ID],
        "post": {"operationId": "approveCsvSend",
                 "summary": "A second person approves every message of the send that waits",
                 "responses": {"200": reply("Approved; the messages now scheduled or queued", ref("CsvSend")),
                               **errors(401, 403, 404, 409)}},
    },
    "/csv-sends/{send_id}/cancel": {
        "parameters": [SEND_ID],
        "post": {"operationId": "cancelCsvSend",
                 "summary": "Withdraw what has not gone yet: every message, or message_ids",
                 "requestBody": {"required": False, "content": {"application/json": {"schema": obj({
                     "message_ids": {"type": "array", "items": INTEGER}})}}},
                 "responses": {"200": reply("What remains, and how many were withdrawn", ref("CsvSend")),
                               **errors(400, 401, 403, 404)}},
    },
}
