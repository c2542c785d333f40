"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Kept next to the routes and checked by tests/api/test_openapi.py: every route registered on
api_bp must appear here, and real responses must validate against these schemas.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from hub.api import api_bp
from hub.models import DeliveryState, MessageState, Mode, MsgType
from hub.models.base import MAX_INT_ID
from hub.models.relay import CalloutState, TargetState
from hub.residents.languages import LANGUAGES

CHANNEL_NAMES = ["sms", "voice", "email", "line", "x", "rss"]


def values(enum_class: Any) -> list[str]:
    return [member.value for member in enum_class]


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(type_name: str, **extra: Any) -> dict[str, Any]:
    return {"type": [type_name, "null"], **extra}


def obj(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    required = list(properties) if required is None else required
    return {"type": "object", "properties": properties, "required": required, **extra}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def reply(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": json_content(schema)}


def errors(*statuses: int) -> dict[str, Any]:
    text = {400: "Bad request", 401: "Missing or unknown token", 403: "Role or department not allowed",
            404: "No such message or call-out", 405: "Method not allowed",
            409: "Conflict (e.g. the creator tried to approve)",
            415: "Unsupported body type", 422: "Cannot be sent as written; per-channel problems"}
    return {str(s): reply(text[s], ref("Error")) for s in statuses}


def page_of(item: str) -> dict[str, Any]:
    return obj({"items": {"type": "array", "items": ref(item)}, "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1}, "total": {"type": "integer", "minimum": 0}})


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
# Ids are INTEGER keys: a larger number in a path is 404, as for any id that does not exist.
ID: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": MAX_INT_ID}
MESSAGE_ID: dict[str, Any] = {"name": "message_id", "in": "path", "required": True, "schema": ID}
CALLOUT_ID = {"name": "callout_id", "in": "path", "required": True, "schema": ID}
NULLABLE_STRING: dict[str, Any] = nullable("string")
PAGING: list[dict[str, Any]] = [
    query("page", {"type": "integer", "minimum": 1, "default": 1}, "1-based page"),
    query("per_page", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "rows per page"),
]
COUNTS = obj({k: {"type": "integer", "minimum": 0}
              for k in ("sent", "delivered", "failed", "skipped", "unknown", "pending")})
STRINGS: dict[str, Any] = {"type": "array", "items": STRING}

LANGUAGE_CODES = [code for code in LANGUAGES if code != "ja"]
ORIGIN = {"enum": ["operator", "reviewed", "machine", "fallback"],
          "description": "operator: written or edited by a person; reviewed: a template's reviewed translation; "
          "machine: machine translation; fallback: translation failed, the Japanese text after a fixed line"}
LOCAL_QUESTION = obj({
    "text": {"type": "string", "maxLength": 200},
    "choices": {"type": "array", "items": {"type": "string", "maxLength": 60}, "minItems": 2, "maxItems": 9,
                "description": "a label longer than 20 characters is cut on its LINE button, and LINE's text "
                "then lists the choices whole"},
}, description="the survey's question and its choices' labels in this language, in the order of the "
   "Japanese choices (their keys, the digits a resident replies, are the same in every language); "
   "without it, readers of the language get the Japanese question")
LOCAL_TEXT = obj({
    "title": {"type": "string", "maxLength": 200}, "body": {"type": "string", "maxLength": 10000},
    "origin": {**ORIGIN, "default": "operator"}, "error": nullable("string", maxLength=500),
    "overrides": {"type": "object", "additionalProperties": STRING, "description": "per-channel text"},
    "question": LOCAL_QUESTION,
}, required=[])
TEXTS = {"type": "object", "additionalProperties": LOCAL_TEXT, "propertyNames": {"enum": LANGUAGE_CODES},
         "description": "the message in other languages, by language code; recipients of a language "
         "without a text get the Japanese title and body. やさしい日本語 (ja-easy) is never machine-translated"}
LANGUAGE_STATE = obj({"origin": ORIGIN, "error": NULLABLE_STRING,
                      "unfit": {"type": "object", "additionalProperties": STRINGS,
                                "description": "channels this language did not fit: they send Japanese"},
                      "title": STRING, "body": STRING, "question": LOCAL_QUESTION},
                     required=["origin", "error", "unfit"])

MESSAGE_FIELDS: dict[str, Any] = {
    "title": {"type": "string", "maxLength": 200},
    "body": STRING,
    "channels": {"type": "array", "items": {"enum": CHANNEL_NAMES}, "minItems": 1},
    "audience": {"type": "string", "maxLength": 200,
                 "description": "all | residents | staff | category:CODE | area:CODE | "
                 "department:CODE | list:ID", "default": "all"},
    "mode": {"enum": values(Mode), "description": "required: actual vs exercise is never defaulted"},
    "msg_type": {"enum": values(MsgType), "default": "alert"},
    "category": nullable("string"),
    "overrides": {"type": "object", "additionalProperties": STRING,
                  "description": "per-channel text replacing title+body"},
    "scheduled_at": nullable("string", description="ISO 8601; without an offset it is Japan time"),
    "department": nullable("string", description="code or name; defaults to the operator's"),
    "references": nullable("integer", description="the message corrected or cancelled. With msg_type "
                           "cancel/update the follow-up goes to the original's recipients on its channels, "
                           "in its mode; channels, audience and mode given here are ignored"),
    "update_label": {"type": "string", "maxLength": 16, "description": "訂正 (default) or 続報, for msg_type update"},
    "question": {"oneOf": [{"type": "null"}, ref("QuestionInput")],
                 "description": "a resident survey: answered by SMS reply, LINE button or the e-mail's link"},
    "override": nullable("object", description="{\"reason\": \"…\"}: the emergency override, only for an "
                         "operator who holds it (403 otherwise); sent without a second person, audited and "
                         "announced to the department's approvers and the admins"),
    "texts": TEXTS,
    "translate": {"type": "boolean", "default": False,
                  "description": "machine-translate into every language the audience reads (and `languages`) "
                  "that `texts` lacks; a failed translation sends the Japanese after a fixed line, and says why"},
    "languages": {"type": "array", "items": {"enum": LANGUAGE_CODES},
                  "description": "languages to add to those of the audience's contacts"},
}

SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({"code": STRING, "message": STRING,
                                "problems": {"type": "object", "additionalProperties": STRINGS}},
                               required=["code", "message"])}),
    "ChannelCounts": COUNTS,
    "MessageSummary": obj({
        "message_id": INTEGER,
        "title": STRING,
        "mode": {"enum": values(Mode)},
        "msg_type": {"enum": values(MsgType)},
        "state": {"enum": values(MessageState)},
        "references": nullable("integer"),
        "created_at": nullable("string", format="date-time"),
        "channels": {"type": "object", "additionalProperties": ref("ChannelCounts")},
        "counted_at": {"type": "string", "format": "date-time",
                       "description": "When `channels` was counted. A message of 20,000 rows or more is counted "
                                      "once for every viewer and that count is given for 1-10 s."},
    }),
    "MessageDetail": {"allOf": [ref("MessageSummary"), obj({
        "body": STRING,
        "audience": STRING,
        "category": nullable("string"),
        "department": nullable("string"),
        "created_by": nullable("string"),
        "approved_by": nullable("string"),
        "scheduled_at": nullable("string", format="date-time"),
        "sends_at": {"oneOf": [{"type": "null"}, ref("QuietHold")]},
        "referenced_by": {"type": "array", "items": INTEGER},
        "bodies": {"type": "array", "items": obj({"channel": STRING, "language": STRING,
                                                  "subject": nullable("string"), "text": STRING})},
        "languages": {"type": "object", "additionalProperties": LANGUAGE_STATE},
    })]},
    "QuietHold": obj({
        "window": {"type": "string", "description": "the department's quiet hours, e.g. 21:00-08:00 (Japan time)"},
        "at": {"type": "string", "format": "date-time", "description": "when the notice will actually go"},
        "text": {"type": "string", "description": "the sentence the composer shows"},
    }, description="an everyday notice held by its department's quiet hours"),
    "ScheduledMessage": {"allOf": [ref("MessageSummary"), obj({
        "scheduled_at": nullable("string", format="date-time"),
        "department": nullable("string"), "department_name": nullable("string"),
        "created_by": nullable("string"), "source": STRING,
        "quiet": {"oneOf": [{"type": "null"}, ref("QuietHold")]},
        "may_withdraw": {"type": "boolean", "description": "the caller may withdraw it (SEND in its department)"},
    })]},
    "ScheduledPage": page_of("ScheduledMessage"),
    "WithdrawInput": obj({"reason": {"type": "string", "maxLength": 500}}, required=[]),
    "MessageInput": obj(MESSAGE_FIELDS, required=["channels", "mode"]),
    "MessageDraft": obj(MESSAGE_FIELDS, required=[],
                        description="as MessageInput, but anything may be missing: problems are reported"),
    "RenderedChannel": obj({
        "subject": nullable("string"), "text": STRING, "units": INTEGER,
        "warnings": STRINGS, "errors": STRINGS, "meta": {"type": "object"},
        "recipients": {"type": "integer", "description": "upper bound; consent is checked at planning"},
        "units_total": {"type": "integer", "description": "billing units (SMS segments, calls, posts)"},
    }),
    "Preview": obj({
        "mode": {"enum": values(Mode)}, "msg_type": {"enum": values(MsgType)},
        "needs_approval": {"type": "boolean"},
        "sends_at": {"oneOf": [{"type": "null"}, ref("QuietHold")]},
        "audience": obj({"spec": STRING, "label": STRING,
                         "size": {"type": "integer", "minimum": 0}}),
        "channels": {"type": "object", "additionalProperties": ref("RenderedChannel")},
        "follow_up": {"oneOf": [{"type": "null"},
                                obj({"original": INTEGER, "withdraw_only": {"type": "boolean"}})]},
        "languages": {"type": "object", "description": "each language of `texts` as every channel renders it",
                      "additionalProperties": obj({
                          "origin": ORIGIN, "error": NULLABLE_STRING,
                          "channels": {"type": "object",
                                       "additionalProperties": obj({"subject": nullable("string"), "text": STRING,
                                                                    "units": INTEGER, "warnings": STRINGS,
                                                                    "errors": STRINGS, "meta": {"type": "object"}})},
                          "findings": {"type": "array", "items": ref("EasyJapaneseFinding"),
                                       "description": "やさしい日本語 only: what makes its text hard"},
                      }, required=["origin", "error", "channels"])},
        "problems": {"type": "object", "additionalProperties": STRINGS},
        "ok": {"type": "boolean"},
    }),
    "Translations": obj({
        "translator": {"enum": ["libre", "deepl", "google", "none"]},
        "languages": {"type": "array", "items": {"enum": LANGUAGE_CODES},
                      "description": "the languages the audience reads, plus those asked for"},
        "texts": {"type": "object", "additionalProperties": {"allOf": [LOCAL_TEXT, obj({"name": STRING})]}},
    }),
    "MessagePage": page_of("MessageSummary"),
    "Delivery": obj({
        "id": INTEGER, "channel": STRING, "contact_id": nullable("integer"),
        "address": STRING, "language": STRING, "state": {"enum": values(DeliveryState)},
        "reason": nullable("string"), "provider_id": nullable("string"),
        "provider_status": nullable("string"), "attempts": INTEGER, "error_code": nullable("string"),
        "error": nullable("string"), "sent_at": nullable("string", format="date-time"),
        "delivered_at": nullable("string", format="date-time"),
        "updated_at": nullable("string", format="date-time"),
        "gateway": nullable("string", description="the gateway that carried the row (SMS: twilio | karaden)"),
        "sender": nullable("string", description="the number, service id or address it was requested from"),
    }),
    "DeliveryPage": page_of("Delivery"),
    "AuditEntry": obj({
        "id": INTEGER, "at": {"type": "string", "format": "date-time"}, "actor": STRING, "action": STRING,
        "subject_type": STRING, "subject_id": STRING, "detail": {"type": "object"},
        "seq": {"type": "integer", "description": "place in the chain (commit order)"},
        "prev_hash": {"type": "string", "description": "hash of the row before (empty for the first)"},
        "hash": {"type": "string", "description": "sha256(prev_hash + canonical JSON of at, actor, action, "
                 "subject, detail); `hub audit verify` checks the chain"},
    }),
    "AuditPage": obj({"items": {"type": "array", "items": ref("AuditEntry")},
                      "next_after": nullable("integer", description="pass as ?after= for the next page")}),
    "RejectInput": obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500}}),
    "EraseInput": obj({
        "reason": {"type": "string", "minLength": 1, "maxLength": 80,
                   "description": "the deletion request's reference (削除請求の受付番号など)"},
        "confirm": {"const": True, "description": "erasing cannot be undone"}}),
    "Erasure": obj({
        "contact_id": INTEGER, "already": {"type": "boolean", "description": "erased before: nothing changed"},
        "skipped": {"type": "integer", "description": "deliveries still waiting, now skipped (erased)"},
        "masked": {"type": "integer", "description": "settled deliveries whose address is now masked"},
        "in_hand": {"type": "integer", "description": "deliveries a worker holds: masked once they settle"}}),
    "ImportReport": obj({
        "created": INTEGER, "updated": INTEGER,
        "kept_revoked": {"type": "integer", "description": "consents in the file not renewed: the resident "
                         "stopped that channel after the consent_date given (or no consent_date was given)"},
        "errors": {"type": "array", "items": obj({"line": INTEGER, "reason": STRING})},
        "list_id": nullable("integer"),
    }),
    "Callout": obj({
        "id": INTEGER, "title": STRING, "survey": NULLABLE_STRING,
        "mode": {"enum": [Mode.ACTUAL.value, Mode.EXERCISE.value]}, "state": {"enum": values(CalloutState)},
        "chain": STRINGS, "interval_seconds": INTEGER, "cycles": INTEGER, "departments": STRINGS,
        "source": STRING, "started_at": {"type": "string", "format": "date-time"},
        "deadline_at": nullable("string", format="date-time"), "closed_at": nullable("string", format="date-time"),
    }),
    "CalloutInput": obj({
        "survey": {"type": "string", "default": "anpi", "description": "survey code (anpi, sanshu …)"},
        "departments": {"oneOf": [{"type": "array", "items": STRING, "maxItems": 64}, STRING],
                        "description": "codes or names, a list or comma-separated; `all` for every department"},
        "mode": {"enum": [Mode.ACTUAL.value, Mode.EXERCISE.value], "default": "actual"},
        "steps": {"oneOf": [{"type": "array", "items": {"enum": ["line", "voice", "email", "sms"]},
                             "maxItems": 64}, STRING, {"type": "null"}],
                  "description": "the chain, default line, voice, email"},
        "interval": {"type": ["string", "number", "null"], "description": "e.g. 5m, 90s, or seconds (≤ 7 days)"},
        "cycles": {"type": ["integer", "null"], "minimum": 1, "maximum": 10},
        "title": nullable("string", maxLength=200),
        "deadline": {"type": ["string", "number", "null"], "description": "closes the call-out after this long"},
    }, required=["departments"]),
    "CalloutSummary": {"allOf": [ref("Callout"), obj({"total": INTEGER, "answered": INTEGER})]},
    "CalloutList": obj({"items": {"type": "array", "items": ref("CalloutSummary")}}),
    "Tally": obj({
        "callout": ref("Callout"),
        "total": INTEGER, "answered": INTEGER, "unreached": INTEGER,
        "states": {"type": "object", "additionalProperties": INTEGER,
                   "propertyNames": {"enum": values(TargetState)}},
        "departments": {"type": "array", "items": obj({
            "code": NULLABLE_STRING, "name": STRING, "total": INTEGER, "answered": INTEGER, "unreached": INTEGER,
            "answers": {"type": "object", "additionalProperties": {"type": "object",
                                                                   "additionalProperties": INTEGER}}})},
        "questions": {"type": "array", "items": obj({"key": STRING, "label": STRING, "kind": STRING},
                                                    description="choice questions add counts, others answered")},
        "eta_histogram": {"type": "array", "items": obj({"label": STRING, "min": INTEGER,
                                                         "max": nullable("integer"), "count": INTEGER})},
        "arrivals": {"type": "array", "items": obj({"minutes": INTEGER, "at": STRING, "count": INTEGER})},
        "unreached_list": {"type": "array", "items": obj({
            "target_id": INTEGER, "name": STRING, "external_id": NULLABLE_STRING, "position": NULLABLE_STRING,
            "department": NULLABLE_STRING, "state": {"enum": values(TargetState)},
            "attempts": {"type": "array", "items": {"type": "object"}}})},
    }),
}

CSV: dict[str, Any] = {"description": "CSV attachment (UTF-8 with BOM)", "content": {"text/csv": {}}}

PATHS: dict[str, Any] = {
    "/messages": {
        "get": {"operationId": "listMessages", "summary": "Messages, newest first", "parameters": PAGING,
                "responses": {"200": reply("One page", ref("MessagePage")), **errors(400, 401)}},
        "post": {"operationId": "createMessage", "summary": "Compose once, deliver to every chosen channel",
                 "requestBody": {"required": True, "content": json_content(ref("MessageInput"))},
                 "responses": {"201": reply("Stored; queued, scheduled or awaiting approval",
                                            ref("MessageSummary")),
                               "200": reply("Follow-up to a message nothing of which had gone out: the "
                                            "original was withdrawn (its summary)", ref("MessageSummary")),
                               **errors(400, 401, 403, 422)}},
    },
    "/messages/preview": {
        "post": {"operationId": "previewMessage", "summary": "Render every channel without saving",
                 "requestBody": {"required": True, "content": json_content(ref("MessageDraft"))},
                 "responses": {"200": reply("Per-channel rendering and problems", ref("Preview")),
                               **errors(400, 401, 403)}},
    },
    "/messages/scheduled": {
        "get": {"operationId": "listScheduled", "summary": "Scheduled messages the caller may read, soonest first",
                "parameters": PAGING,
                "responses": {"200": reply("One page", ref("ScheduledPage")), **errors(400, 401)}},
    },
    "/messages/{message_id}/withdraw": {
        "parameters": [MESSAGE_ID],
        "post": {"operationId": "withdrawScheduled",
                 "summary": "Withdraw a scheduled message before it leaves (a sender of its department; audited)",
                 "requestBody": {"required": True, "content": json_content(ref("WithdrawInput"))},
                 "responses": {"200": reply("Withdrawn: nothing of it will be sent", ref("MessageSummary")),
                               **errors(400, 401, 403, 404, 409)}},
    },
    "/messages/translations": {
        "post": {"operationId": "translateMessage",
                 "summary": "Machine translations of a draft for review (nothing is stored or sent)",
                 "requestBody": {"required": True, "content": json_content(ref("MessageDraft"))},
                 "responses": {"200": reply("Every language the audience reads: the texts given, machine "
                                            "translations, or the fallback with the reason", ref("Translations")),
                               **errors(400, 401, 403)}},
    },
    "/messages/{message_id}": {
        "parameters": [MESSAGE_ID],
        "get": {"operationId": "getMessage", "summary": "Summary with per-channel counts",
                "responses": {"200": reply("The message", ref("MessageDetail")), **errors(401, 404)}},
    },
    "/messages/{message_id}/deliveries": {
        "parameters": [MESSAGE_ID],
        "get": {"operationId": "listDeliveries", "summary": "Delivery rows (proof of who got what)",
                "parameters": [*PAGING, query("channel", STRING, "only this channel"),
                               query("state", {"enum": values(DeliveryState)}, "only rows in this state")],
                "responses": {"200": reply("One page", ref("DeliveryPage")), **errors(400, 401, 404)}},
    },
    "/messages/{message_id}/deliveries.csv": {
        "parameters": [MESSAGE_ID],
        "get": {"operationId": "exportDeliveries", "summary": "Every delivery row as CSV (UTF-8 with BOM)",
                "responses": {"200": CSV, **errors(401, 404)}},
    },
    "/messages/{message_id}/approve": {
        "parameters": [MESSAGE_ID],
        "post": {"operationId": "approveMessage", "summary": "Second-person approval (not the creator)",
                 "responses": {"200": reply("Approved and released", ref("MessageSummary")),
                               **errors(401, 403, 404, 409)}},
    },
    "/messages/{message_id}/reject": {
        "parameters": [MESSAGE_ID],
        "post": {"operationId": "rejectMessage", "summary": "The second person refuses a waiting message",
                 "requestBody": {"required": True, "content": json_content(ref("RejectInput"))},
                 "responses": {"200": reply("Rejected: it will never go out", ref("MessageSummary")),
                               **errors(400, 401, 403, 404, 409)}},
    },
    "/contacts/import": {
        "post": {"operationId": "importContacts", "summary": "Import residents/staff from CSV",
                 "parameters": [query("list", {"type": "string", "maxLength": 200},
                                      "also keep the rows as a named list")],
                 "requestBody": {"required": True, "content": {
                     "multipart/form-data": {"schema": obj({"file": {"type": "string",
                                                                     "contentMediaType": "text/csv"}})},
                     "text/csv": {"schema": STRING}}},
                 "responses": {"200": reply("Rows created/updated and errors by line", ref("ImportReport")),
                               **errors(400, 401, 403, 415, 422)}},
    },
    "/contacts/{contact_id}/erase": {
        "parameters": [{"name": "contact_id", "in": "path", "required": True, "schema": ID}],
        "post": {"operationId": "eraseContact",
                 "summary": "Erase a person's details on a deletion request; their history stays, addresses masked",
                 "requestBody": {"required": True, "content": json_content(ref("EraseInput"))},
                 "responses": {"200": reply("Erased (or erased before)", ref("Erasure")),
                               **errors(400, 401, 404)}},
    },
    "/audit": {
        "get": {"operationId": "listAudit", "summary": "The audit log, oldest first (administrators only)",
                "parameters": [
                    query("since", {"type": "string", "format": "date-time"},
                          "ISO 8601; without an offset it is Japan time"),
                    query("after", {"type": "integer", "minimum": 0, "default": 0}, "rows after this id"),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 5000, "default": 500},
                          "rows per page")],
                "responses": {"200": reply("Entries with their chain hashes", ref("AuditPage")),
                              **errors(400, 401, 403)}},
    },
    "/callouts": {
        "get": {"operationId": "listCallouts", "summary": "The latest 100 call-outs (安否確認・参集)",
                "responses": {"200": reply("Newest first", ref("CalloutList")), **errors(401)}},
        "post": {"operationId": "startCallout", "summary": "Contact staff along the chain until they answer",
                 "requestBody": {"required": True, "content": json_content(ref("CalloutInput"))},
                 "responses": {"201": reply("Started; the live tally", ref("Tally")),
                               **errors(400, 401, 403)}},
    },
    "/callouts/{callout_id}": {
        "parameters": [CALLOUT_ID],
        "get": {"operationId": "getCallout", "summary": "The live tally per department and question",
                "responses": {"200": reply("The tally", ref("Tally")), **errors(401, 404)}},
    },
    "/callouts/{callout_id}/close": {
        "parameters": [CALLOUT_ID],
        "post": {"operationId": "closeCallout", "summary": "Stop every chain; late answers still count",
                 "responses": {"200": reply("Closed", ref("Callout")), **errors(401, 403, 404)}},
    },
    "/callouts/{callout_id}/export.csv": {
        "parameters": [CALLOUT_ID],
        "get": {"operationId": "exportCallout", "summary": "One row per person with answers and contact history",
                "responses": {"200": CSV, **errors(401, 404)}},
    },
    "/openapi.json": {
        "get": {"operationId": "openapiDocument", "summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}}},
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Bousai hub API", "version": "1",
        "description": "Compose once, deliver to SMS, voice, e-mail, LINE, X and the city's feeds. "
        "Authenticate with `Authorization: Bearer <token>`. "
        "Errors are `{\"error\": {\"code\", \"message\"}}`, in Japanese unless `Accept-Language: en`.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "an operator's API token; only its SHA-256 is stored",
        }},
        "schemas": SCHEMAS,
    },
}


@api_bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return jsonify(SPEC)


# Accounts and administration, CSV sends and resident surveys live in their own modules; merged
# here so SPEC stays the one document.
from hub.api.openapi_accounts import ACCOUNT_PATHS, ACCOUNT_SCHEMAS  # noqa: E402
from hub.api.openapi_notices import NOTICE_PATHS, NOTICE_SCHEMAS  # noqa: E402
from hub.api.openapi_surveys import SURVEY_PATHS, SURVEY_SCHEMAS  # noqa: E402

PATHS.update(ACCOUNT_PATHS)
SCHEMAS.update(ACCOUNT_SCHEMAS)
PATHS.update(NOTICE_PATHS)
SCHEMAS.update(NOTICE_SCHEMAS)
PATHS.update(SURVEY_PATHS)
SCHEMAS.update(SURVEY_SCHEMAS)

# The request guards (hub/api/guards.py) answer any operation with a 400 for a NUL character,
# malformed or over-deep JSON, or a method override, before the operation itself runs.
for _operations in PATHS.values():
    for _method, _operation in _operations.items():
        if _method != "parameters" and _operation.get("security") != []:
            _operation["responses"].setdefault("400", reply("Bad request (NUL character, malformed JSON, "
                                                              "method override)", ref("Error")))
