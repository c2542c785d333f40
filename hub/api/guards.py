"""Request guards every front door shares: JSON that is too deep, NUL, method overrides, huge ids.

Both used to reach a view or a 500: a 1,000-level JSON array raised RecursionError inside the
decoder, and ``POST /api/v1/messages?_method=DELETE`` created (and sent) a message its client
meant to delete. Each is now refused before any view runs.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from hub.i18n import gettext as _
from hub.models.base import MAX_BIG_ID, MAX_INT_ID

# No document the hub accepts is deeper than a few levels (overrides: 2, call-out steps: 2).
MAX_JSON_DEPTH = 32
# Names clients and proxies use to smuggle another method through POST; none is honoured here.
OVERRIDE_HEADERS = ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")
OVERRIDE_PARAMS = ("_method",)


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route, bounded to an INTEGER key: a larger number is 404.

    A larger one used to reach the database: an OverflowError on SQLite beyond 2⁶³, an
    out-of-range error on PostgreSQL beyond 2³¹ (both a 500).
    """

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_INT_ID)
        super().__init__(map, *args, **kwargs)


class BigIdConverter(IntegerConverter):
    """``<bigid:…>`` for the keys that are BIGINT (deliveries, contact attempts)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_BIG_ID)
        super().__init__(map, *args, **kwargs)


class JsonTooDeep(ValueError):
    """A JSON document nested deeper than MAX_JSON_DEPTH (a ValueError, so Flask answers 400)."""


class JsonHasNul(ValueError):
    """A string of the document holds NUL (``\\u0000``): PostgreSQL refuses it in any text (a 500)."""


def has_nul(value: Any) -> bool:
    """Whether any string (key or value) in decoded JSON, or a form's values, contains NUL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of decoded JSON, stopping as soon as ``limit`` is passed (so it stays cheap)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, but over-deep or undecodable documents are a ValueError, never a crash."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, **kwargs)
        except RecursionError as exc:  # the C decoder unwinds cleanly; deeper than Python's stack
            raise JsonTooDeep(f"deeper than {MAX_JSON_DEPTH} levels") from exc
        if depth(value) > MAX_JSON_DEPTH:
            raise JsonTooDeep(f"deeper than {MAX_JSON_DEPTH} levels")
        if has_nul(value):
            raise JsonHasNul("NUL in a string")
        return value


class MethodOverrideRefused(BadRequest):
    api_code = "method_override_not_supported"  # read by hub.api.common.handle_http_error


def _refuse_method_override() -> None:
    sent = [name for name in OVERRIDE_HEADERS if name in request.headers]
    sent += [name for name in OVERRIDE_PARAMS if name in request.args]
    if sent:
        # 400 rather than silently ignoring it: the client meant another method than it will get.
        raise MethodOverrideRefused(_("メソッドの上書き（{names}）には対応していません").format(names=", ".join(sent)))


class NulRefused(BadRequest):
    api_code = "nul_character"


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# Providers' signed posts read their own bodies, capped and unread until the cap and the signature
# allow (hub/callbacks.py): nothing here may read them first.
PROVIDER_POSTS = ("/callbacks/", "/relay/voice/")


def _refuse_nul() -> None:
    # Query values and form fields go to SQL as text (?channel=, a login's user name): PostgreSQL
    # refuses NUL in any text, a 500. (Uploaded files are read by their own parsers.)
    fields = list(request.args.items(multi=True))
    if request.mimetype in FORMS and not request.path.startswith(PROVIDER_POSTS):
        fields += list(request.form.items(multi=True))
    # (A multipart part whose name cannot be read comes back with the name None.)
    if any("\x00" in (key or "") or "\x00" in (value or "") for key, value in fields):
        raise NulRefused(_("NUL文字（\\0）は使えません"))


def init_app(app: Flask) -> None:
    """Call before any blueprint is registered (routes bind their converters then)."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["bigid"] = BigIdConverter
    provider = GuardedJSONProvider(app)
    provider.ensure_ascii = False
    app.json = provider
    app.before_request(_refuse_method_override)
    app.before_request(_refuse_nul)
