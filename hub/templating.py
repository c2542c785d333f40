"""Prepared message templates: a sandboxed Jinja environment, Japanese dates, and the YAML loader.

Templates are filled at night with values from untrusted telegrams, so they run in Jinja's
sandbox and a missing value renders as empty text (and is reported) instead of stopping an
alert. Place lists are shortened on purpose — 「奥州市、一関市ほか12か所」 — so an SMS or a post
on X keeps the message itself instead of a cut-off list.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_datetime
from jinja2 import ChainableUndefined, TemplateSyntaxError, meta
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Template

JST = ZoneInfo("Asia/Tokyo")
SHIPPED = Path(__file__).resolve().parent.parent / "templates"
DEFAULT_TIME_FORMAT = "M月d日 H時mm分"


class TemplateError(ValueError):
    """A template file cannot be used; the message names the file and the problem."""


def jst(value: Any, pattern: str = DEFAULT_TIME_FORMAT, locale: str = "ja") -> str:
    """A time as residents read it: Japan time, Japanese words (「2月17日 23時06分」).

    ``locale``: a translation's words for the same Japan time (``en``: 「June 14, 8:43 AM」).
    """
    moment = _as_datetime(value)
    if moment is None:
        return ""
    return str(format_datetime(moment, pattern, tzinfo=JST, locale=locale))


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=JST)
    if isinstance(value, str) and value:
        try:
            return _as_datetime(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _same(value: str) -> str:
    return value


@dataclass(frozen=True)
class ListStyle:
    """How a place list is written in one language; ``term`` renders JMA's values (「震度６強」) in it."""

    separator: str = "、"
    more: str = "{names}ほか{rest}{unit}"
    pair: str = "{name}（{value}）"
    unit: str = "か所"  # what is counted when no unit is given
    more_one: str | None = None  # ``more`` when one is left out (English: no plural)
    term: Callable[[str], str] = _same


JAPANESE_LIST = ListStyle()


def _name_of(item: Any, value_key: str | None, style: ListStyle) -> str:
    if isinstance(item, Mapping):
        name = str(item.get("name", ""))
        value = item.get(value_key) if value_key else None
        return style.pair.format(name=name, value=style.term(str(value))) if value not in (None, "") else name
    return str(item)


def listing(items: Iterable[Any] | None, limit: int = 5, value: str | None = None, unit: str | None = None,
            max_chars: int | None = None, style: ListStyle = JAPANESE_LIST) -> str:
    """「A、B、Cほか4か所」: at most ``limit`` names (and ``max_chars`` characters), then a count."""
    unit = style.unit if unit is None else unit
    names = list(dict.fromkeys(_name_of(item, value, style) for item in items or ()))
    names = [name for name in names if name]
    shown = names[: max(limit, 1)]
    while max_chars and len(shown) > 1 and len(_joined(shown, len(names), unit, style)) > max_chars:
        shown = shown[:-1]
    return _joined(shown, len(names), unit, style)


def _joined(shown: list[str], total: int, unit: str = "か所", style: ListStyle = JAPANESE_LIST) -> str:
    rest = total - len(shown)
    names = style.separator.join(shown)
    if rest <= 0:
        return names
    return ((rest == 1 and style.more_one) or style.more).format(names=names, rest=rest, unit=unit)


def environment() -> SandboxedEnvironment:
    # ChainableUndefined: ``places[:3]`` on a value the event lacks renders empty instead of failing.
    env = SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True, undefined=ChainableUndefined)
    env.filters["jst"] = jst
    env.filters["listing"] = listing
    env.filters["areas"] = lambda items, limit=5, max_chars=None: listing(items, limit, max_chars=max_chars)
    return env


_ENV = environment()


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def render_text(source: str, variables: Mapping[str, Any],
                env: SandboxedEnvironment = _ENV) -> tuple[str, list[str]]:
    """Rendered text and the problems: names ``variables`` did not provide, or why it failed.

    A template that fails (or tries to leave the sandbox) renders as empty text; the caller
    falls back to JMA's own headline rather than sending nothing.
    """
    if not source:
        return "", []
    try:
        ast = env.parse(source)
        missing = sorted(meta.find_undeclared_variables(ast) - set(variables))
        return _tidy(env.from_string(source).render(**variables)), missing
    except (JinjaError, TypeError, ValueError, ArithmeticError) as exc:
        return "", [f"error: {type(exc).__name__}: {exc}"]


@dataclass(frozen=True)
class FilledTemplate:
    title: str
    body: str
    overrides: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()  # variables the template used but the event did not provide


def fill(template: Template, variables: Mapping[str, Any], part: str = "body") -> FilledTemplate:
    """Fill the main text (``part="body"``), the correction or the cancellation of ``template``."""
    title, missing = render_text(template.title, variables)
    if part == "body":
        body, more = render_text(template.body, variables)
        overrides: dict[str, str] = {}
        for channel, text in sorted((template.channel_bodies or {}).items()):
            overrides[channel], extra = render_text(text, variables)
            more += extra
    else:
        source = template.correction_body if part == "correction" else template.cancellation_body
        body, more = render_text(source, variables)
        overrides = {}
    return FilledTemplate(title=title, body=body, overrides=overrides,
                          missing=tuple(sorted(set(missing) | set(more))))


# --- Loading the prepared templates ---------------------------------------------------------------

_FIELDS = {"code", "name", "category", "title", "body", "channels", "correction", "cancellation", "variables",
           "kind", "description"}


@dataclass(frozen=True)
class LoadResult:
    code: str
    name: str
    action: str  # created | updated | unchanged


def read_fields(path: Path, allowed: Collection[str], what: str) -> dict[str, Any]:
    """A YAML file of ``項目名: 値`` with only ``allowed`` fields (``what``: テンプレート, 翻訳)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = copy.deepcopy(_parsed_yaml(text))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: 読み込めません（{exc}）") from None
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: {what}は項目名: 値 の形式で書いてください")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise TemplateError(f"{path}: 使えない項目があります: {', '.join(unknown)}")
    return data


def read_template_file(path: Path) -> dict[str, Any]:
    """Validated fields of one template file (syntax checked in the sandbox before anything is stored)."""
    data = read_fields(path, _FIELDS, "テンプレート")
    for key in ("code", "name", "title", "body", "correction", "cancellation"):
        if not str(data.get(key) or "").strip():
            # Hawaii 2018: a correction that has to be written during the emergency comes 38 minutes late.
            raise TemplateError(f"{path}: 「{key}」が必要です（訂正文・取消文も事前に用意してください）")
    channels = data.get("channels") or {}
    if not isinstance(channels, dict):
        raise TemplateError(f"{path}: channels はチャネル名: 本文 の形式で書いてください")
    used = used_variables(path, [data["title"], data["body"], data["correction"], data["cancellation"],
                                 *channels.values()])
    return {
        "code": str(data["code"]), "name": str(data["name"]), "category_code": data.get("category", "bousai"),
        "title": str(data["title"]), "body": str(data["body"]),
        "channel_bodies": {str(k): str(v) for k, v in channels.items()},
        "variables": sorted(data.get("variables") or used),
        "correction_body": str(data["correction"]), "cancellation_body": str(data["cancellation"]),
    }


def used_variables(path: Path, texts: Iterable[Any], env: SandboxedEnvironment = _ENV) -> set[str]:
    """The variables ``texts`` use; a syntax error names the file and the line."""
    used: set[str] = set()
    for text in texts:
        try:
            used |= _undeclared(env, str(text))
        except TemplateSyntaxError as exc:
            where = f"{exc.lineno}行目: {exc.message}"
            raise TemplateError(f"{path}: テンプレートの書き方に誤りがあります（{where}）") from None
    return used


# Every start, `hub templates load` and the demo's seeding read the same shipped files again: the
# YAML and the Jinja parse of each text are kept by content (a changed file is simply new content).
@functools.lru_cache(maxsize=1024)
def _parsed_yaml(text: str) -> Any:
    return yaml.safe_load(text)


@functools.lru_cache(maxsize=8192)
def _undeclared(env: SandboxedEnvironment, text: str) -> frozenset[str]:
    return frozenset(meta.find_undeclared_variables(env.parse(text)))


def template_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]
    return found


def load_templates(session: Session, paths: Iterable[Path] = (SHIPPED,),
                   translated: Path | None = None) -> list[LoadResult]:
    """Create or update templates by code. Every file is checked before any is stored. Caller commits.

    Each template's reviewed translations are read by its code from ``translated`` (default: the
    shipped ``translations/templates/<language>/<code>.yaml``) and stored with it.
    """
    from hub.template_languages import TRANSLATED, read_translations  # it builds on this module

    records = [read_template_file(path) for path in template_files(paths)]
    for record in records:
        record["translations"] = read_translations(record, translated or TRANSLATED)
    results: list[LoadResult] = []
    for record in records:
        template = session.scalar(select(Template).where(Template.code == record["code"]))
        if template is None:
            session.add(Template(**record))
            results.append(LoadResult(record["code"], record["name"], "created"))
            continue
        changed = any(getattr(template, key) != value for key, value in record.items())
        for key, value in record.items():
            setattr(template, key, value)
        results.append(LoadResult(record["code"], record["name"], "updated" if changed else "unchanged"))
    session.flush()
    return results


def shipped_codes() -> dict[str, Path]:
    return {read_template_file(path)["code"]: path for path in template_files([SHIPPED])}
