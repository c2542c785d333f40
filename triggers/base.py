"""Trigger plugin framework: a source turns raw input into typed events; rules map events to messages.

How to add a source (a CAP feed, P2PQuake, a manual webhook) — see also docs/triggers.md:

1. Subclass :class:`Source` in its own package. Set ``name`` (used in rule files and in the
   message source ``trigger:<name>:<rule id>``), ``label`` and ``kinds`` (the rule kinds it
   understands, with the ``on`` changes each allows).
2. Implement :meth:`Source.decode` (bytes → :class:`Envelope`; raise :class:`SourceInputError`
   for input that cannot be trusted — it is quarantined, never crashes the caller),
   :meth:`Source.parse_conditions` (validate a rule's conditions, raise :class:`RuleError` in
   Japanese) and :meth:`Source.evaluate` (rule + envelope → :class:`Finding` or None). Override
   :meth:`Source.prepare` only if items carry state between them (JMA warnings are snapshots).
3. Register the class under ``[project.entry-points."hub.triggers"]`` in pyproject.toml.
4. Hand every item to :func:`triggers.engine.process` from wherever it arrives (a poller task,
   a webhook view). The engine owns everything else — dedupe, the 通常/訓練/試験 safety rule,
   incidents, hold window, approval, rate ceiling, messages, 取消 and 訂正 — so a new source
   cannot get those wrong.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from hub.config import Settings

GROUP = "hub.triggers"
log = logging.getLogger(__name__)

Told = frozenset[tuple[str, str]]


def utc(value: datetime) -> datetime:
    """Aware UTC. SQLite returns naive datetimes (stored as UTC) and drops offsets on the way in,
    so every time is converted before it is stored or compared."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Status(enum.StrEnum):
    """What the sender says the item is. Only ACTUAL may reach real recipients."""

    ACTUAL = "actual"
    EXERCISE = "exercise"
    TEST = "test"


class InfoKind(enum.StrEnum):
    ISSUED = "issued"
    CORRECTED = "corrected"
    CANCELLED = "cancelled"


# Changes a finding can report, relative to the rule's own threshold.
CHANGES = frozenset({"issued", "upgraded", "downgraded", "cleared", "observed"})
# A rule listening only to these announces an end (解除), not a danger.
CLEARING = frozenset({"cleared", "downgraded"})


class SourceInputError(Exception):
    """The item cannot be read; ``message`` says why, for the quarantine list."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleError(ValueError):
    """A rule cannot be stored as written; the message tells the operator what to change."""


@dataclass(frozen=True)
class Envelope:
    """What the engine needs to know about any item, whatever its source."""

    source: str
    type_code: str | None
    status: Status
    info_kind: InfoKind
    unit_key: tuple[str, ...]  # identity of the information unit the item belongs to
    version: str  # distinct for every item of a unit; equal for the same item seen twice
    reported_at: datetime
    incident_key: str  # shared by items describing one happening (one quake, one prefecture)
    title: str
    headline: str
    payload: Any  # the source's own typed event
    ignored: str | None = None  # recognised, deliberately not acted on: why

    @property
    def unit_hash(self) -> str:
        return hashlib.sha256("\x1f".join(self.unit_key).encode()).hexdigest()


@dataclass(frozen=True)
class Finding:
    """How one item looks through one rule.

    ``changes`` — what happened in this item at the rule's threshold (``issued``, ``cleared`` …);
    ``active`` — whether the rule's condition holds after this item; ``told`` — the facts
    recipients would be told (an update is sent only when they differ from what was sent);
    ``variables`` — values for the template.
    """

    changes: frozenset[str]
    active: bool
    told: Told
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleKind:
    name: str
    label: str  # Japanese, shown by ``hub rules list``
    allowed_on: frozenset[str]
    default_on: frozenset[str]


@dataclass(frozen=True)
class RuleSpec:
    """The part of a stored rule a source looks at."""

    id: int
    name: str
    kind: str
    conditions: Mapping[str, Any]
    on: frozenset[str]

    @property
    def clearing(self) -> bool:
        return bool(self.on) and self.on <= CLEARING


class Source(ABC):
    name: ClassVar[str]
    label: ClassVar[str]
    kinds: ClassVar[Mapping[str, RuleKind]]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def decode(self, raw: bytes, hint: str | None = None) -> Envelope:
        """Read one item. ``hint`` is what the transport knew (e.g. the type code in a feed URL)."""

    @abstractmethod
    def parse_conditions(self, kind: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Validated, normalised conditions for a rule of ``kind`` (raise :class:`RuleError`)."""

    @abstractmethod
    def evaluate(self, rule: RuleSpec, envelope: Envelope, prepared: Any) -> Finding | None:
        """None: the item says nothing about this rule's scope (state is left as it is)."""

    def prepare(self, session: Session, envelope: Envelope) -> Any:
        """Per-item work shared by all rules (state carried between items). Runs in the item's
        transaction, once, before any rule is evaluated."""
        return None

    def rule_on(self, kind: str, on: list[str] | None) -> frozenset[str]:
        spec = self.kinds.get(kind)
        if spec is None:
            known = "、".join(self.kinds)
            raise RuleError(f"「{kind}」は {self.name} の条件の種類にありません（使えるもの: {known}）")
        chosen = frozenset(on) if on else spec.default_on
        wrong = sorted(chosen - spec.allowed_on)
        if wrong:
            allowed = "、".join(sorted(spec.allowed_on))
            raise RuleError(f"on に使えない値があります: {', '.join(wrong)}（{kind} で使えるもの: {allowed}）"
                            )
        return chosen


@functools.cache
def _entry_points() -> tuple[EntryPoint, ...]:
    # Scanned once per process (installed packages' metadata): a new plugin needs a restart.
    return tuple(sorted(entry_points(group=GROUP), key=lambda ep: ep.name))


def available() -> dict[str, type[Source]]:
    """Every installed source that loads, by entry-point name."""
    found: dict[str, type[Source]] = {}
    for ep in _entry_points():
        try:
            cls = ep.load()
        except Exception:
            # One broken plugin must not stop the others from watching for disasters.
            log.exception("trigger source %s (%s) could not be loaded", ep.name, ep.value)
            continue
        if isinstance(cls, type) and issubclass(cls, Source):
            found[ep.name] = cls
        else:
            log.error("trigger source %s points at %r, which is not a Source subclass", ep.name, cls)
    return found


def load_source(name: str, settings: Settings) -> Source:
    sources = available()
    cls = sources.get(name)
    if cls is None:
        known = ", ".join(sorted(sources)) or "なし"
        raise RuleError(f"トリガーの情報源「{name}」は登録されていません（利用可能: {known}）")
    return cls(settings)
