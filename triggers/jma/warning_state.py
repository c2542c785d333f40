"""Transitions of weather warnings between full-state telegrams (no storage, no clock).

A warning telegram carries no EventID: it is the complete state of one prefecture (for R06, of
one hazard in it). Alerts therefore come from comparing the state the hub last knew with the
new snapshot, per (area code, hazard), on the level scale 0 (nothing) / 2 注意報 / 3 警報 /
4 危険警報 / 5 特別警報.

Clearing rules (the decision behind ``Transition.explicit``):

* A kind with Status 解除, an area marked 「発表警報・注意報はなし」, and steps such as
  「特別警報から注意報」 are changes **the telegram states**: ``explicit=True``.
* The 市町村等 block lists every municipality with everything in effect, so a hazard that is
  covered by the telegram type but absent for a listed area is not in effect. If the hub
  believed it was, the hub missed a telegram; the state is corrected and a CLEARED transition is
  returned with ``explicit=False`` so the rule engine can log it instead of announcing a 解除
  that JMA never sent in this telegram. The same applies to a 継続 kind whose level differs
  from what the hub knew (a missed upgrade).
* Areas not listed and hazards outside ``snapshot.hazards_covered`` are left untouched: an R06
  大雨 telegram says nothing about 暴風.

Keep one state per (Control/Status, ``snapshot.scheme``): legacy VPWW53/54 and R06 VPWW55–61 are
issued side by side during the transition period and disagree on levels (3 vs 4), and an
exercise must never move the live state. Apply telegrams of one unit in ReportDateTime order.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from .codes import (
    LEVEL_NONE,
    WARNING_STATUS_CLEARED,
    WARNING_STATUS_CONTINUED,
    WARNING_STATUS_ISSUED,
    level_from_status_origin,
    municipality_in,
    warning_kind,
)
from .events import Area, Change, WarningArea, WarningKind, WarningSnapshot, change_between

StateKey = tuple[str, str]  # (area code, hazard)
WarningState = Mapping[StateKey, int]


@dataclass(frozen=True)
class Transition:
    area: Area
    hazard: str
    old_level: int  # 0 = nothing in effect
    new_level: int
    kind: Change  # ISSUED / UPGRADED / DOWNGRADED / CLEARED
    explicit: bool  # the telegram itself states the change (see module docstring)
    kind_code: str | None = None  # the JMA kind now in effect, or the one just cleared
    kind_name: str | None = None


def warning_transitions(
    previous: WarningState,
    snapshot: WarningSnapshot,
    area_codes: Collection[str] | None = None,
) -> tuple[list[Transition], dict[StateKey, int]]:
    """Transitions for the areas of interest and the new state (``previous`` is not modified).

    ``area_codes`` are 7-digit 市町村等 codes; a ward or split part of a wanted city counts
    (warnings are issued for the whole designated city). ``None`` means every area. Entries with
    level 0 are kept in the state on purpose: they record "known to be clear", which lets a
    later issue be told apart from a state the hub has never seen.
    """
    wanted = None if area_codes is None else frozenset(area_codes)
    state = dict(previous)
    transitions: list[Transition] = []
    for area in snapshot.areas:
        if wanted is not None and not municipality_in(area.area.code, wanted):
            continue
        levels = area.levels()
        for hazard in sorted(snapshot.hazards_covered):
            kinds = [kind for kind in area.kinds if kind.hazard == hazard]
            key = (area.area.code, hazard)
            new = levels.get(hazard, LEVEL_NONE)
            old = previous[key] if key in previous else _inferred_previous(kinds)
            state[key] = new
            change = change_between(old, new)
            if change is Change.UNCHANGED:
                continue
            shown = _shown_kind(kinds, new)
            transitions.append(
                Transition(
                    area=area.area,
                    hazard=hazard,
                    old_level=old,
                    new_level=new,
                    kind=change,
                    explicit=_stated(kinds, area),
                    kind_code=shown.code if shown else None,
                    kind_name=shown.name if shown else None,
                )
            )
    return transitions, state


def _inferred_previous(kinds: list[WarningKind]) -> int:
    """Level before this telegram, read from the telegram when the hub has no state for it."""
    candidates = [LEVEL_NONE]
    for kind in kinds:
        if kind.last_kind_code or kind.last_kind_name:
            last = warning_kind(kind.last_kind_code, kind.last_kind_name)
            candidates.append(last[1] if last and last[0] == kind.hazard else LEVEL_NONE)
        elif kind.status in (WARNING_STATUS_CONTINUED, WARNING_STATUS_CLEARED):
            candidates.append(kind.level)
        elif (origin := level_from_status_origin(kind.status)) is not None:
            candidates.append(origin)
        # 発表 without LastKind (legacy): as far as the telegram says, nothing was in effect.
    return max(candidates)


def _stated(kinds: list[WarningKind], area: WarningArea) -> bool:
    if not kinds:
        return area.nothing_in_effect
    return any(
        kind.status in (WARNING_STATUS_ISSUED, WARNING_STATUS_CLEARED) or "から" in kind.status
        for kind in kinds
    )


def _shown_kind(kinds: list[WarningKind], new: int) -> WarningKind | None:
    """The kind to quote in a message: the one in effect, else the one just cleared."""
    active = [kind for kind in kinds if not kind.cleared and kind.level == new]
    if active:
        return active[0]
    cleared = [kind for kind in kinds if kind.cleared]
    return cleared[0] if cleared else None
