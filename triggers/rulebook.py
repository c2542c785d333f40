"""Storing rules: one validated shape for ``hub rules add``, ``hub rules load FILE`` and (later) the console.

Rule file format (YAML or TOML), documented with examples in docs/triggers.md::

    rules:
      - name: 奥州市 震度5弱以上
        when: earthquake              # the rule kind; source defaults to jma
        municipalities: ["0321500"]   # kind-specific conditions sit beside the common keys
        min_intensity: 5弱
        template: jma-earthquake
        audience: all
        channels: [sms, voice, email, line, x, rss]   # or "all"
        approval: auto                # auto | required (a second person approves first)
        hold_minutes: 0               # wait before sending; a 取消 in the meantime withdraws it
        max_per_hour: 3               # ceiling per rule

Every rule in a file is checked before any is stored, so a typo never leaves half a rule set.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.compose.audience import Audience, AudienceError
from hub.compose.public import public_channels_closed_to
from hub.models import Template, utcnow
from hub.models.triggers import TriggerRule
from hub.runtime import Runtime
from hub.templating import load_templates, shipped_codes
from triggers.base import RuleError, load_source

COMMON = frozenset({"name", "source", "when", "on", "template", "audience", "channels", "approval", "callout",
                    "hold_minutes", "max_per_hour", "department", "enabled"})
APPROVAL = {"auto": "auto", "自動": "auto", "required": "required", "needs approval": "required",
            "承認": "required", "承認が必要": "required"}
MAX_HOLD_MINUTES = 120


@dataclass(frozen=True)
class SavedRule:
    name: str
    action: str  # created | updated | unchanged
    notes: tuple[str, ...] = ()


def normalise(runtime: Runtime, data: Mapping[str, Any]) -> dict[str, Any]:
    """Column values for one rule, or :class:`RuleError` naming the rule and the problem."""
    name = str(data.get("name") or "").strip()
    if not name:
        raise RuleError("name（ルール名）が必要です")
    try:
        return _normalise(runtime, name, data)
    except RuleError as exc:
        raise RuleError(f"ルール「{name}」: {exc}") from None


def _normalise(runtime: Runtime, name: str, data: Mapping[str, Any]) -> dict[str, Any]:
    source = load_source(str(data.get("source") or "jma"), runtime.settings)
    kind = str(data.get("when") or "")
    if not kind:
        raise RuleError(f"when（条件の種類）が必要です（使えるもの: {'、'.join(source.kinds)}）")
    on = data.get("on")
    on_list = [str(on)] if isinstance(on, str) else [str(v) for v in on] if on else None
    conditions = source.parse_conditions(kind, {k: v for k, v in data.items() if k not in COMMON})
    template = str(data.get("template") or "").strip()
    if not template:
        raise RuleError("template（テンプレートのコード）が必要です")
    audience = str(data.get("audience") or "").strip()
    try:
        Audience.parse(audience)
    except AudienceError as exc:
        raise RuleError(str(exc)) from None
    approval = APPROVAL.get(str(data.get("approval", "auto")).strip().lower())
    if approval is None:
        raise RuleError("approval は auto（自動）か required（承認が必要）です")
    hold = _int(data.get("hold_minutes", 0), "hold_minutes", 0, MAX_HOLD_MINUTES)
    ceiling = _int(data.get("max_per_hour", 3), "max_per_hour", 1, 60)
    return {
        "name": name, "source": source.name, "kind": kind, "conditions": conditions,
        "on": sorted(source.rule_on(kind, on_list)), "template_code": template, "audience": audience,
        "channels": _channels(runtime, data.get("channels"), audience), "approval": approval, "hold_minutes": hold,
        "max_per_hour": ceiling, "department_code": _optional(data.get("department")),
        "enabled": bool(data.get("enabled", True)), "callout": _callout(data.get("callout")),
    }


CALLOUT_KEYS = frozenset({"survey", "departments", "steps", "interval", "cycles"})


def _callout(value: Any) -> dict[str, Any] | None:
    """The staff call-out a rule starts with its alert (checked again, fully, when it fires)."""
    if value in (None, False, ""):
        return None
    if not isinstance(value, Mapping):
        raise RuleError("callout は survey・departments などの表で指定してください")
    unknown = sorted(set(value) - CALLOUT_KEYS)
    if unknown:
        raise RuleError(f"callout に使えない項目があります: {', '.join(unknown)}（{', '.join(sorted(CALLOUT_KEYS))}）")
    survey = str(value.get("survey") or "").strip()
    if not survey:
        raise RuleError("callout.survey（アンケートのコード: anpi, sanshu, anpi_sanshu など）が必要です")
    return {"survey": survey, "departments": value.get("departments", "all"), "steps": value.get("steps"),
            "interval": value.get("interval"), "cycles": value.get("cycles")}


def _optional(value: Any) -> str | None:
    return str(value) if value else None


def _int(value: Any, key: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RuleError(f"{key} は数字で書いてください（{value!r}）") from None
    if not low <= number <= high:
        raise RuleError(f"{key} は {low}〜{high} です（{number}）")
    return number


def _channels(runtime: Runtime, value: Any, audience: str) -> list[str]:
    """The rule's channels; "all" for a staff-only audience means all but the public ones."""
    available = runtime.available_channels()
    if value is None or value == "all" or value == ["all"]:
        closed = public_channels_closed_to(audience, available)
        return [ch for ch in available if ch not in closed]
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v) for v in value]
    unknown = [item for item in items if item not in available]
    if unknown or not items:
        wrong = ", ".join(unknown) or "(なし)"
        raise RuleError(f"チャネル {wrong} は使えません（利用可能: {', '.join(available)}）")
    closed = public_channels_closed_to(audience, items)
    if closed:
        raise RuleError(f"宛先 {audience} は職員などに限られるため、誰でも読める公開チャネル"
                        f"（{', '.join(closed)}）は使えません")
    return list(dict.fromkeys(items))


def _ensure_template(session: Session, code: str) -> str | None:
    """The rule's template must exist before the night it is needed; shipped ones are loaded on demand."""
    if session.scalar(select(Template.id).where(Template.code == code)) is not None:
        return None
    shipped = shipped_codes()
    if code not in shipped:
        raise RuleError(f"テンプレート「{code}」がありません"
                        "（hub templates list で確認し、hub templates load で登録してください）")
    load_templates(session, [shipped[code]])
    return f"同梱テンプレート「{code}」を登録しました"


def save_rules(session: Session, runtime: Runtime, items: Iterable[Mapping[str, Any]]) -> list[SavedRule]:
    """Create or update rules by name (all validated first). Caller commits."""
    records = [normalise(runtime, item) for item in items]
    names = [record["name"] for record in records]
    if len(set(names)) != len(names):
        raise RuleError("同じ name のルールが複数あります")
    results: list[SavedRule] = []
    for record in records:
        note = _ensure_template(session, record["template_code"])
        rule = session.scalar(select(TriggerRule).where(TriggerRule.name == record["name"]))
        notes = (note,) if note else ()
        if rule is None:
            session.add(TriggerRule(**record))
            results.append(SavedRule(record["name"], "created", notes))
            continue
        changed = rule.removed_at is not None or any(getattr(rule, k) != v for k, v in record.items())
        for key, value in record.items():
            setattr(rule, key, value)
        rule.removed_at = None
        if changed:
            rule.updated_at = utcnow()
        results.append(SavedRule(record["name"], "updated" if changed else "unchanged", notes))
    session.flush()
    return results


def read_rule_file(path: Path) -> list[dict[str, Any]]:
    """Rules from ``path`` (``.yaml``/``.yml`` or ``.toml``): a top-level ``rules`` list."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else yaml.safe_load(text)
    except (OSError, yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(f"{path}: 読み込めません（{exc}）") from None
    items = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise RuleError(f"{path}: 先頭に rules: の一覧を書いてください（TOML では [[rules]]）")
    # YAML 1.1 reads the bare key ``on:`` as the boolean true.
    return [{("on" if key is True else str(key)): value for key, value in item.items()} for item in items]


def find_rule(session: Session, name_or_id: str) -> TriggerRule | None:
    query = select(TriggerRule).where(TriggerRule.removed_at.is_(None))
    if name_or_id.isdigit():
        return session.scalar(query.where(TriggerRule.id == int(name_or_id)))
    return session.scalar(query.where(TriggerRule.name == name_or_id))


def remove_rule(session: Session, name_or_id: str) -> TriggerRule:
    """Stop a rule. It stays in the database: the ledger names it as the reason for past sends."""
    rule = find_rule(session, name_or_id)
    if rule is None:
        raise RuleError(f"ルール「{name_or_id}」はありません")
    rule.enabled, rule.removed_at, rule.updated_at = False, utcnow(), utcnow()
    return rule


def list_rules(session: Session) -> list[TriggerRule]:
    return list(session.scalars(select(TriggerRule).where(TriggerRule.removed_at.is_(None))
                                .order_by(TriggerRule.id)))
