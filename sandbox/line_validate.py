"""Request checks the LINE Messaging API performs, with its error wording.

The SDK already refuses some mistakes before sending; these catch what it lets through (text
length, template limits) so the hub learns about them in the sandbox and not in production.
"""

from __future__ import annotations

import re
from typing import Any

USER_ID_RE = re.compile(r"^[UCR][0-9a-f]{32}$")
MESSAGE_TYPES = (
    "text", "textV2", "image", "video", "audio", "location", "sticker", "template", "imagemap", "flex",
)  # fmt: skip

Detail = dict[str, str]


def _length(details: list[Detail], value: Any, prop: str, low: int, high: int) -> None:
    if not isinstance(value, str) or not low <= len(value) <= high:
        details.append({"message": f"Length must be between {low} and {high}", "property": prop})


def _actions(details: list[Detail], actions: Any, prop: str, low: int, high: int) -> None:
    if not isinstance(actions, list) or not low <= len(actions) <= high:
        details.append({"message": f"Size must be between {low} and {high}", "property": prop})
        return
    for index, action in enumerate(actions):
        _action(details, action, f"{prop}[{index}]")


def _action(details: list[Detail], action: Any, where: str) -> None:
    kind = action.get("type") if isinstance(action, dict) else None
    if kind == "postback":
        _length(details, action.get("data"), f"{where}.data", 1, 300)
        if "label" in action:
            _length(details, action.get("label"), f"{where}.label", 1, 20)
    elif kind == "message":
        _length(details, action.get("text"), f"{where}.text", 1, 300)
    elif kind == "uri":
        _length(details, action.get("uri"), f"{where}.uri", 1, 1000)
    elif kind not in (
        "datetimepicker",
        "camera",
        "cameraRoll",
        "location",
        "richmenuswitch",
        "clipboard",
    ):
        details.append({"message": "Invalid action type", "property": f"{where}.type"})


def _template(details: list[Detail], template: Any, prop: str) -> None:
    if not isinstance(template, dict):
        details.append({"message": "Must not be null", "property": prop})
        return
    kind = template.get("type")
    if kind == "buttons":
        limit = 60 if template.get("title") or template.get("thumbnailImageUrl") else 160
        _length(details, template.get("text"), f"{prop}.text", 1, limit)
        _actions(details, template.get("actions"), f"{prop}.actions", 1, 4)
    elif kind == "confirm":
        _length(details, template.get("text"), f"{prop}.text", 1, 240)
        _actions(details, template.get("actions"), f"{prop}.actions", 2, 2)
    elif kind not in ("carousel", "image_carousel"):
        details.append({"message": "Invalid template type", "property": f"{prop}.type"})


def _quick_reply(details: list[Detail], quick: Any, prop: str) -> None:
    items = quick.get("items") if isinstance(quick, dict) else None
    if not isinstance(items, list) or not 1 <= len(items) <= 13:
        details.append({"message": "Size must be between 1 and 13", "property": f"{prop}.items"})
        return
    for index, item in enumerate(items):
        action = item.get("action") if isinstance(item, dict) else None
        where = f"{prop}.items[{index}].action"
        if not isinstance(action, dict):
            details.append({"message": "Must not be null", "property": where})
            continue
        if "label" not in action:  # required on a quick-reply button
            details.append({"message": "Must not be null", "property": f"{where}.label"})
        _action(details, action, where)


def validate_messages(messages: Any) -> list[Detail]:
    details: list[Detail] = []
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return [{"message": "Size must be between 1 and 5", "property": "messages"}]
    for index, message in enumerate(messages):
        prop = f"messages[{index}]"
        kind = message.get("type") if isinstance(message, dict) else None
        if kind not in MESSAGE_TYPES:
            allowed = ", ".join(MESSAGE_TYPES)
            details.append(
                {"message": f"Must be one of the following values: [{allowed}]", "property": f"{prop}.type"}
            )
            continue
        assert isinstance(message, dict)
        if "quickReply" in message:
            _quick_reply(details, message["quickReply"], f"{prop}.quickReply")
        if kind in ("text", "textV2"):
            _length(details, message.get("text"), f"{prop}.text", 1, 5000)
        elif kind in ("template", "flex"):
            _length(
                details, message.get("altText"), f"{prop}.altText", 1, 400 if kind == "template" else 1500
            )
            if kind == "template":
                _template(details, message.get("template"), f"{prop}.template")
            elif not isinstance(message.get("contents"), dict):
                details.append({"message": "Must not be null", "property": f"{prop}.contents"})
        elif kind == "sticker" and not (message.get("packageId") and message.get("stickerId")):
            details.append({"message": "Must not be null", "property": f"{prop}.stickerId"})
        elif kind in ("image", "video", "audio"):
            url = message.get("originalContentUrl")
            if not isinstance(url, str) or not url.startswith("https://"):
                details.append(
                    {"message": "Must be a valid HTTPS URL", "property": f"{prop}.originalContentUrl"}
                )
    return details


def validate_recipients(to: Any, multicast: bool) -> list[Detail]:
    if multicast:
        if not isinstance(to, list) or not 1 <= len(to) <= 500:
            return [{"message": "Size must be between 1 and 500", "property": "to"}]
        return [
            {"message": "Invalid user ID", "property": f"to[{index}]"}
            for index, user in enumerate(to)
            if not isinstance(user, str) or not USER_ID_RE.match(user)
        ]
    if not isinstance(to, str) or not USER_ID_RE.match(to):
        return [{"message": "Invalid user ID, group ID or room ID", "property": "to"}]
    return []


def message_text(messages: list[dict[str, Any]]) -> str:
    """What a person would read, for the inbox: text, or a template's alt text plus its text."""
    parts: list[str] = []
    for message in messages:
        kind = message.get("type")
        if kind in ("text", "textV2"):
            parts.append(str(message.get("text", "")))
        elif kind == "template":
            template = message.get("template") or {}
            inner = "\n".join(str(template[k]) for k in ("title", "text") if template.get(k))
            parts.append("\n".join(p for p in (str(message.get("altText", "")), inner) if p))
        elif kind in ("flex", "imagemap"):
            parts.append(str(message.get("altText", "")))
        elif kind == "sticker":
            parts.append("[スタンプ]")
        elif kind in ("image", "video", "audio"):
            parts.append(f"[{kind}] {message.get('originalContentUrl', '')}")
        elif kind == "location":
            parts.append(f"[位置情報] {message.get('title', '')} {message.get('address', '')}".strip())
    return "\n\n".join(parts)
