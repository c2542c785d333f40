"""Checking sandbox responses against the providers' OpenAPI specs (tests/contracts/).

OpenAPI 3.0 schemas are JSON Schema draft 4 plus ``nullable``; they are dereferenced and
converted here, then validated with ``jsonschema``.  On top of the schema, keys are checked
strictly: the specs leave ``additionalProperties`` open, so a renamed or invented field would
otherwise pass unnoticed.  Twilio resources must carry every documented property, as the real
API always does.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts"
SPEC_FILES = {
    "twilio": CONTRACTS / "twilio" / "twilio_api_v2010.yaml",
    "line": CONTRACTS / "line" / "messaging-api.yml",
    # Written by this project from Karaden's public documentation (no official OpenAPI file exists).
    "karaden": Path(__file__).resolve().parents[2] / "sandbox" / "contracts" / "karaden_sms_api.yaml",
}

# Twilio's spec documents no error bodies; this is the shape its docs and SDK rely on.
TWILIO_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message", "more_info", "status"],
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string"},
        "status": {"type": "integer"},
    },
    "additionalProperties": False,
}
# LINE documents one error body for all endpoints but lists only some statuses per path.
LINE_UNLISTED_ERROR_STATUSES = {401, 404, 500}


class ContractError(AssertionError):
    pass


@functools.cache
def load_spec(provider: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_FILES[provider].open(encoding="utf-8") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=loader)
    return spec


def _lookup(spec: dict[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def to_json_schema(node: Any, spec: dict[str, Any], depth: int = 0) -> Any:
    """Inline ``$ref``s and turn ``nullable`` into a null type (response schemas are not recursive)."""
    if depth > 40:
        raise ContractError("schema nesting too deep: recursive $ref?")
    if isinstance(node, list):
        return [to_json_schema(item, spec, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return to_json_schema(_lookup(spec, node["$ref"]), spec, depth + 1)
    converted = {
        key: to_json_schema(value, spec, depth + 1)
        for key, value in node.items()
        if key not in ("nullable", "example", "examples", "x-twilio", "externalDocs", "discriminator")
    }
    if node.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


def response_schema(provider: str, route: str, method: str, status: int) -> dict[str, Any]:
    spec = load_spec(provider)
    operation = spec["paths"].get(route, {}).get(method.lower())
    if operation is None:
        raise ContractError(f"{method} {route} is not in the {provider} spec")
    documented = operation.get("responses", {}).get(str(status))
    if documented is not None and "$ref" in documented:  # a shared response (components/responses)
        documented = _lookup(spec, documented["$ref"])
    if documented is not None:
        if status == 204 or "content" not in documented:
            return {}
        raw = documented["content"]["application/json"]["schema"]
        schema: dict[str, Any] = to_json_schema(raw, spec)
        return schema
    if status >= 400 and provider == "twilio":
        return TWILIO_ERROR_SCHEMA
    if status >= 400 and provider == "line" and status in LINE_UNLISTED_ERROR_STATUSES:
        error: dict[str, Any] = to_json_schema({"$ref": "#/components/schemas/ErrorResponse"}, spec)
        return error
    raise ContractError(f"{method} {route} answered {status}, which the {provider} spec does not list")


def check_keys(schema: dict[str, Any], body: Any, exact: bool, where: str = "$") -> None:
    """No undocumented keys anywhere; with ``exact``, every documented key present too."""
    if isinstance(body, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(body):
            check_keys(schema["items"], item, exact, f"{where}[{index}]")
        return
    properties = schema.get("properties")
    if not isinstance(body, dict) or not isinstance(properties, dict):
        return
    extra = set(body) - set(properties)
    if extra:
        raise ContractError(f"{where}: keys not in the spec: {sorted(extra)}")
    missing = set(properties) - set(body)
    if exact and missing:
        raise ContractError(f"{where}: documented keys missing: {sorted(missing)}")
    for key, value in body.items():
        if isinstance(properties[key], dict):
            check_keys(properties[key], value, exact, f"{where}.{key}")


def check_response(provider: str, route: str, method: str, status: int, body: Any) -> None:
    schema = response_schema(provider, route, method, status)
    try:
        jsonschema.Draft4Validator(schema).validate(body)
    except jsonschema.ValidationError as exc:
        raise ContractError(f"{method} {route} {status}: {exc.message} at {list(exc.absolute_path)}") from exc
    # Twilio and Karaden resources are returned whole; LINE omits optional fields, so only extra
    # keys count there.
    check_keys(schema, body, exact=provider in ("twilio", "karaden") and status < 400)
