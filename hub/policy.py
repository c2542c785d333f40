"""One authorization policy for the CLI, the API and the web console.

Every front door turns its caller into a :class:`Principal` and asks :func:`require` (or the
``may_*`` questions) before acting; none of them compares roles itself. Roles are per department
(``Membership``); an admin holds every role everywhere. The trigger engine acts as :data:`SYSTEM`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from hub.i18n import gettext as _
from hub.models.org import Role

RANK = {Role.VIEWER: 1, Role.SENDER: 2, Role.APPROVER: 3, Role.ADMIN: 4}


class Action(enum.StrEnum):
    """What a caller wants to do in a department, and the least role that may."""

    READ = "read"  # history, status, tallies
    SEE_ADDRESSES = "see_addresses"  # recipients' phone numbers, e-mail and LINE ids
    SEND = "send"  # compose, send, cancel and correct the department's messages
    MANAGE_CONTACTS = "manage_contacts"  # import and edit the department's contacts
    CALL = "call"  # start and close call-outs of the department's staff
    APPROVE = "approve"  # the second person for a live message
    ADMINISTER = "administer"  # accounts, departments, categories, areas, audit


LEAST_ROLE: Mapping[Action, Role] = MappingProxyType({
    Action.READ: Role.VIEWER,
    Action.SEE_ADDRESSES: Role.SENDER,
    Action.SEND: Role.SENDER,
    Action.MANAGE_CONTACTS: Role.SENDER,
    Action.CALL: Role.SENDER,
    Action.APPROVE: Role.APPROVER,
    Action.ADMINISTER: Role.ADMIN,
})

ACTION_LABELS: Mapping[Action, str] = MappingProxyType({
    Action.READ: "閲覧",
    Action.SEE_ADDRESSES: "宛先の表示",
    Action.SEND: "送信",
    Action.MANAGE_CONTACTS: "連絡先の管理",
    Action.CALL: "呼び出し",
    Action.APPROVE: "承認",
    Action.ADMINISTER: "管理",
})


class Forbidden(PermissionError):
    """The caller may not do this; the message says what and where, in the operator's language."""


@dataclass(frozen=True)
class Principal:
    """Who is acting. ``roles`` maps department id → role; ``department_id`` is the home department."""

    id: int | None
    username: str
    display_name: str
    is_admin: bool = False
    roles: Mapping[int, Role] = field(default_factory=lambda: MappingProxyType({}))
    department_id: int | None = None
    can_override: bool = False
    is_system: bool = False

    def role_in(self, department_id: int | None) -> Role | None:
        if self.is_admin:
            return Role.ADMIN
        return self.roles.get(department_id) if department_id is not None else None

    def may(self, action: Action, department_id: int | None = None) -> bool:
        """Whether the caller may do ``action`` in the department (``None``: a department-less thing)."""
        if self.is_admin:
            return True
        if action is Action.ADMINISTER or department_id is None:
            return False
        role = self.roles.get(department_id)
        return role is not None and RANK[role] >= RANK[LEAST_ROLE[action]]

    def departments(self, action: Action) -> frozenset[int] | None:
        """The departments where ``action`` is allowed; ``None`` means every department (an admin)."""
        if self.is_admin:
            return None
        least = RANK[LEAST_ROLE[action]]
        return frozenset(d for d, role in self.roles.items() if RANK[role] >= least)

    @property
    def role(self) -> Role | None:
        """The highest role held anywhere (what a page shows next to the name)."""
        if self.is_admin:
            return Role.ADMIN
        return max(self.roles.values(), key=RANK.__getitem__, default=None)


SYSTEM = Principal(id=None, username="system", display_name="自動送信", is_admin=True, is_system=True)


def require(principal: Principal, action: Action, department_id: int | None = None) -> Principal:
    """Raise :class:`Forbidden` unless ``principal`` may do ``action`` in the department."""
    if not principal.may(action, department_id):
        raise Forbidden(_("この操作（{what}）を行う権限がありません").format(what=_(ACTION_LABELS[action])))
    return principal


class HasDepartment(Protocol):
    @property
    def department_id(self) -> int | None: ...


def may_follow_up(principal: Principal, original: HasDepartment) -> bool:
    """Cancel or correct: only someone who may SEND in the original's department."""
    return principal.may(Action.SEND, original.department_id)


def may_send_somewhere(principal: Principal) -> bool:
    """Whether the composer is for this operator at all (SEND in at least one department)."""
    return principal.departments(Action.SEND) != frozenset()


def may_override(principal: Principal) -> bool:
    """The single-officer emergency override is held explicitly (``can_override``); being an admin
    does not grant it, so that every use is by someone chosen for it in advance."""
    return principal.can_override and not principal.is_system


def may_see_addresses(principal: Principal, department_id: int | None) -> bool:
    return principal.may(Action.SEE_ADDRESSES, department_id)


def may_manage_contact(principal: Principal, department_id: int | None, registry: frozenset[int]) -> bool:
    """A staff contact: MANAGE_CONTACTS in its department. A department-less (resident) contact:
    admins, and senders of the departments that keep the resident register (``registry``)."""
    if department_id is not None:
        return principal.may(Action.MANAGE_CONTACTS, department_id)
    return principal.is_admin or any(principal.may(Action.MANAGE_CONTACTS, d) for d in registry)
