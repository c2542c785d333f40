"""``POST /api/v1/easy-japanese/check``: what makes a やさしい日本語 text hard, for the composer to show."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from hub.api import api_bp
from hub.api.common import ApiError, json_body
from hub.api.openapi import PATHS, SCHEMAS, errors, json_content, obj, ref, reply
from hub.i18n import gettext as _
from hub.residents.easy_japanese import MAX_SENTENCE, MESSAGES, check, check_template

MAX_TEXT = 10_000  # a message, not a book: the check is linear but the answer lists every finding


@api_bp.post("/easy-japanese/check")
def check_easy_japanese() -> ResponseReturnValue:
    # Any signed-in operator may ask (authenticate() ran): it reads nothing and changes nothing.
    data = json_body()
    text = data.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "invalid_parameter", _("text に文字列を入れてください"))
    if len(text) > MAX_TEXT:
        raise ApiError(400, "too_long", _("text は {max} 文字までです").format(max=MAX_TEXT))
    template = data.get("template", False)
    if not isinstance(template, bool):
        raise ApiError(400, "invalid_parameter", _("template は true か false で指定してください"))
    findings = check_template(text) if template else check(text)
    return jsonify({"clean": not findings, "max_sentence": MAX_SENTENCE,
                    "findings": [finding.as_dict() for finding in findings]})


FINDING: dict[str, Any] = obj({
    "rule": {"enum": sorted(MESSAGES)},
    "start": {"type": "integer", "minimum": 0, "description": "offset of the first character (Python str index)"},
    "end": {"type": "integer", "minimum": 0},
    "text": {"type": "string"},
    "message": {"type": "string", "description": "what to change, in やさしい日本語"},
})
SCHEMAS["EasyJapaneseFinding"] = FINDING
SCHEMAS["EasyJapaneseInput"] = obj({
    "text": {"type": "string", "maxLength": MAX_TEXT},
    "template": {"type": "boolean", "default": False,
                 "description": "a template: {{ values }} count as one character and are not checked"},
}, required=["text"])
SCHEMAS["EasyJapaneseReport"] = obj({
    "clean": {"type": "boolean"},
    "max_sentence": {"type": "integer", "description": "characters a sentence may have (spaces not counted)"},
    "findings": {"type": "array", "items": ref("EasyJapaneseFinding")},
})
PATHS["/easy-japanese/check"] = {
    "post": {"operationId": "checkEasyJapanese",
             "summary": "Flag what makes a やさしい日本語 text hard (long sentences, rare kanji, double "
                        "negatives, 尊敬語・謙譲語, loanwords); the rules: docs/residents.md",
             "requestBody": {"required": True, "content": json_content(ref("EasyJapaneseInput"))},
             "responses": {"200": reply("Findings with their positions", ref("EasyJapaneseReport")),
                           **errors(400, 401)}},
}
