"""The placeholders of a personalised send: ``{{氏名}}様 {{予約日時}}に…`` filled from a row's columns.

Jinja like the prepared templates (hub/templating.py), but stricter, because the values come from a
file and the text goes to one resident: a placeholder the row leaves empty is the row's error, never
an empty string in someone's SMS (「様、に予約があります」); and no attribute or item access at all
(``{{氏名.__class__}}``), only names and Jinja's filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment


class PlaceholderError(ValueError):
    pass


class _NamesOnly(SandboxedEnvironment):
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self.undefined(obj=obj, name=str(argument))


_ENV = _NamesOnly(autoescape=False, undefined=StrictUndefined, keep_trailing_newline=False)
_ENV.globals.clear()  # no range(), dict(), lipsum(): a name is a column, nothing else


def used_names(*sources: str) -> list[str]:
    """The placeholders ``sources`` use, sorted; a syntax error raises PlaceholderError."""
    names: set[str] = set()
    for source in sources:
        if not source:
            continue
        try:
            names |= meta.find_undeclared_variables(_ENV.parse(source))
        except TemplateSyntaxError as exc:
            raise PlaceholderError(f"差し込みの書き方に誤りがあります（{exc.lineno}行目: {exc.message}）") from None
    return sorted(names)


def fill(source: str, values: Mapping[str, Any]) -> str:
    """``source`` with the row's values; raises PlaceholderError naming the empty or missing one.

    Deterministic: the same template and values always give the same text (a batch rebuilt after a
    crash sends, and an SMS reconcile compares, exactly what the first try had).
    """
    if not source or ("{{" not in source and "{%" not in source):
        return source
    empty = [name for name in used_names(source) if not str(values.get(name) or "").strip()]
    if empty:
        raise PlaceholderError(f"差し込む値が空です: {'、'.join(empty)}")
    try:
        return _ENV.from_string(source).render(**{k: v for k, v in values.items() if isinstance(k, str)})
    except UndefinedError as exc:
        raise PlaceholderError(f"差し込めません: {exc.message}") from None
    except (JinjaError, TypeError, ValueError, ArithmeticError) as exc:
        raise PlaceholderError(f"差し込めません: {type(exc).__name__}") from None
