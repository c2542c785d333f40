"""The OpenAPI description of /api/v1/tokens and /api/v1/admin/… (merged into hub.api.openapi)."""

from __future__ import annotations

from typing import Any

from hub.accounts.directory import OTHER_LANGUAGES
from hub.accounts.tokens import DEFAULT_DAYS, MAX_DAYS
from hub.accounts.validate import AREA_FAMILIES
from hub.api.openapi import json_content, nullable, obj, ref, reply
from hub.models import ApprovalPolicy

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
ROLE = {"enum": ["viewer", "sender", "approver"]}
WHEN = nullable("string", format="date-time")
ERRORS = {400: "Bad request", 401: "Missing or unknown token", 403: "Not an admin (or not your token)",
          404: "No such operator, token, department, category or area",
          409: "Already exists, or the last admin would be lost",
          422: "Invalid input; problems per field"}


def errors(*statuses: int) -> dict[str, Any]:
    return {str(s): reply(ERRORS[s], ref("Error")) for s in statuses}


def items(name: str) -> dict[str, Any]:
    return obj({"items": {"type": "array", "items": ref(name)}})


def body(name: str) -> dict[str, Any]:
    return {"required": True, "content": json_content(ref(name))}


def path_param(name: str, schema: dict[str, Any] = STRING) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def changes(fields: dict[str, Any]) -> dict[str, Any]:
    return obj(fields, required=[], additionalProperties=False)


DEPARTMENT_FIELDS: dict[str, Any] = {
    "name": STRING,
    "sms_sender": nullable("string", description="Japanese national (050-1234-5678) or E.164 (+815012345678); "
                           "stored and returned in E.164"),
    "voice_sender": nullable("string", description="as sms_sender"),
    "email_sender": nullable("string", format="email"),
    "email_sender_name": nullable("string"),
    "approval": {"enum": [p.value for p in ApprovalPolicy]},
    "sms_gateway": nullable("string", description="twilio | karaden; null: HUB_SMS_GATEWAY"),
    "sms_failover_gateway": nullable("string", description="twilio | karaden | auto | none; null: the hub's"),
    "karaden_service_id": nullable("integer", description="Karaden サービス設定ID (the sender on Karaden)"),
    "quiet_hours": nullable("string", description="Japan-time window in which everyday notices wait, e.g. "
                            "21:00-08:00; none: no window; null: HUB_QUIET_HOURS"),
}
NAMES: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {code: {"type": "string", "maxLength": 100} for code in OTHER_LANGUAGES},
    "description": "The name residents read in their language, by language code; given names replace those "
                   "languages only, an empty one removes it (residents then read the English, else the Japanese name)"}
AREA_FIELDS: dict[str, Any] = {"name": STRING, "names": NAMES, "family": {"enum": list(AREA_FAMILIES),
                                                          "description": "JMA code list; default municipality"}}
DISABLED = {"disabled": {"type": "boolean", "description": "true disables (nothing new may use it), false enables"}}

ACCOUNT_SCHEMAS: dict[str, Any] = {
    "Token": obj({"id": INTEGER, "name": STRING, "operator": STRING, "created_at": {"type": "string"},
                  "expires_at": WHEN, "last_used_at": WHEN, "revoked_at": WHEN, "active": BOOLEAN}),
    "IssuedToken": {"allOf": [ref("Token"), obj({"token": {"type": "string",
                                                           "description": "shown this once; only its hash is kept"}})]},
    "TokenInput": obj({"name": {"type": "string", "maxLength": 100},
                       "expires_in_days": {"type": "integer", "minimum": 1, "maximum": MAX_DAYS,
                                           "default": DEFAULT_DAYS},
                       "operator": {"type": "string", "description": "admins only: someone else's username"}},
                      required=["name"]),
    "TokenList": items("Token"),
    "Operator": obj({
        "id": INTEGER, "username": STRING, "display_name": STRING, "is_admin": BOOLEAN, "can_override": BOOLEAN,
        "department": nullable("string", description="home department code"), "contact_id": nullable("integer"),
        "roles": {"type": "object", "additionalProperties": ROLE, "description": "department code → role"},
        "disabled": BOOLEAN, "must_change_password": BOOLEAN, "totp_enrolled": BOOLEAN, "created_at": WHEN,
    }),
    "OperatorList": items("Operator"),
    "OperatorInput": obj({
        "username": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{1,63}$"}, "display_name": STRING,
        "department": nullable("string"), "contact_id": nullable("integer"), "is_admin": BOOLEAN,
        "can_override": BOOLEAN, "roles": {"type": "object", "additionalProperties": ROLE},
    }, required=["username", "display_name"]),
    "OperatorChanges": changes({"display_name": STRING, "department": nullable("string"),
                                "contact_id": nullable("integer"), "is_admin": BOOLEAN, "can_override": BOOLEAN,
                                **DISABLED}),
    "OperatorCreated": obj({"operator": ref("Operator"),
                            "one_time_password": {"type": "string", "description": "shown once; must be changed "
                                                  "at first login"}}),
    "PasswordReset": obj({"username": STRING, "one_time_password": STRING}),
    "RoleInput": obj({"role": ROLE}),
    "Department": obj({"id": INTEGER, "code": STRING, **DEPARTMENT_FIELDS, "disabled": BOOLEAN}),
    "DepartmentList": items("Department"),
    "DepartmentInput": obj({"code": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"},
                            **DEPARTMENT_FIELDS}, required=["code", "name"]),
    "DepartmentChanges": changes({**DEPARTMENT_FIELDS, **DISABLED}),
    "Category": obj({"id": INTEGER, "code": STRING, "name": STRING, "names": NAMES, "disabled": BOOLEAN}),
    "CategoryList": items("Category"),
    "CategoryInput": obj({"code": STRING, "name": STRING, "names": NAMES}, required=["code", "name"]),
    "CategoryChanges": changes({"name": STRING, "names": NAMES, **DISABLED}),
    "Area": obj({"id": INTEGER, "code": STRING, **AREA_FIELDS, "disabled": BOOLEAN}),
    "AreaList": items("Area"),
    "AreaInput": obj({"code": {"type": "string", "pattern": "^[0-9]{3}([0-9]{4})?$",
                               "description": "JMA area code: 7 digits (municipality, warning), 3 (quake, tsunami)"},
                      **AREA_FIELDS}, required=["code", "name"]),
    "AreaChanges": changes({**AREA_FIELDS, **DISABLED}),
}

USERNAME = path_param("username")


def _directory(plural: str, single: str) -> dict[str, Any]:
    return {
        f"/admin/{plural}": {
            "get": {"operationId": f"list{single}s", "summary": f"Every {single.lower()}, disabled ones too",
                    "responses": {"200": reply("All", ref(f"{single}List")), **errors(401, 403)}},
            "post": {"operationId": f"create{single}", "summary": f"Create a {single.lower()} (admins)",
                     "requestBody": body(f"{single}Input"),
                     "responses": {"201": reply("Created", ref(single)), **errors(400, 401, 403, 409, 422)}},
        },
        f"/admin/{plural}/{{code}}": {
            "parameters": [path_param("code")],
            "patch": {"operationId": f"update{single}", "summary": f"Edit, disable or enable a {single.lower()}",
                      "requestBody": body(f"{single}Changes"),
                      "responses": {"200": reply("Changed", ref(single)), **errors(400, 401, 403, 404, 422)}},
        },
    }


ACCOUNT_PATHS: dict[str, Any] = {
    "/tokens": {
        "get": {"operationId": "listTokens", "summary": "The caller's API tokens (admins: ?operator= or ?all=1)",
                "parameters": [{"name": "operator", "in": "query", "required": False, "schema": STRING},
                               {"name": "all", "in": "query", "required": False, "schema": {"enum": ["1", "true"]}}],
                "responses": {"200": reply("Tokens, never their values", ref("TokenList")),
                              **errors(401, 403, 404)}},
        "post": {"operationId": "issueToken", "summary": "Issue a token (shown once); ends the owner's sessions",
                 "requestBody": body("TokenInput"),
                 "responses": {"201": reply("Issued", ref("IssuedToken")), **errors(400, 401, 403, 404, 422)}},
    },
    "/tokens/{token_id}": {
        "parameters": [path_param("token_id", INTEGER)],
        "delete": {"operationId": "revokeToken", "summary": "Revoke a token; ends the owner's sessions",
                   "responses": {"200": reply("Revoked", ref("Token")), **errors(401, 404)}},
    },
    "/admin/operators": {
        "get": {"operationId": "listOperators", "summary": "Every operator account",
                "responses": {"200": reply("All", ref("OperatorList")), **errors(401, 403)}},
        "post": {"operationId": "createOperator", "summary": "Create an operator with a one-time password",
                 "requestBody": body("OperatorInput"),
                 "responses": {"201": reply("Created", ref("OperatorCreated")),
                               **errors(400, 401, 403, 404, 409, 422)}},
    },
    "/admin/operators/{username}": {
        "parameters": [USERNAME],
        "get": {"operationId": "getOperator", "summary": "One operator",
                "responses": {"200": reply("The operator", ref("Operator")), **errors(401, 403, 404)}},
        "patch": {"operationId": "updateOperator",
                  "summary": "Edit, disable or enable; flags and department changes end their sessions",
                  "requestBody": body("OperatorChanges"),
                  "responses": {"200": reply("Changed", ref("Operator")), **errors(400, 401, 403, 404, 409, 422)}},
    },
    "/admin/operators/{username}/roles/{department}": {
        "parameters": [USERNAME, path_param("department")],
        "put": {"operationId": "grantRole", "summary": "Grant or change the role in a department",
                "requestBody": body("RoleInput"),
                "responses": {"200": reply("Changed", ref("Operator")), **errors(400, 401, 403, 404, 422)}},
        "delete": {"operationId": "revokeRole", "summary": "Remove the role in a department",
                   "responses": {"200": reply("Changed", ref("Operator")), **errors(401, 403, 404)}},
    },
    "/admin/operators/{username}/password": {
        "parameters": [USERNAME],
        "post": {"operationId": "resetPassword", "summary": "A new one-time password; ends their sessions",
                 "responses": {"200": reply("Shown once", ref("PasswordReset")), **errors(401, 403, 404)}},
    },
    "/admin/operators/{username}/totp": {
        "parameters": [USERNAME],
        "delete": {"operationId": "resetTotp", "summary": "Forget their TOTP (lost phone); they enrol again",
                   "responses": {"200": reply("Changed", ref("Operator")), **errors(401, 403, 404)}},
    },
    **_directory("departments", "Department"),
    **_directory("categories", "Category"),
    **_directory("areas", "Area"),
}
