"""The approval rule at the core (hub.compose.approval), below every front door."""

from __future__ import annotations

from types import MappingProxyType

from sqlalchemy import select

from hub.compose.messages import Composition, create_message
from hub.config import Settings
from hub.contacts.importer import import_contacts, resident_registry
from hub.demo.seed import seed_demo
from hub.models import Contact, ContactKind, Department, RecipientList, Role
from hub.policy import Principal
from hub.runtime import Runtime


def _list_of(runtime: Runtime, kinds: tuple[str, ...]) -> int:
    with runtime.session() as s:
        members = [s.scalars(select(Contact).where(Contact.kind == kind)).first() for kind in kinds]
        recipients = RecipientList(name="test", members=[m for m in members if m is not None])
        s.add(recipients)
        s.flush()
        return recipients.id


def _state(runtime: Runtime, audience: str, channels: list[str] | None = None, mode: str = "actual") -> str:
    with runtime.session() as s:
        dept = s.scalar(select(Department.id).where(Department.code == "bousai"))
        message = create_message(s, runtime, Composition(
            title="t", body="b", channels=channels or ["email"], audience=audience, mode=mode, department_id=dept))
        return str(message.state)


def test_a_list_waits_only_when_a_resident_is_on_it(runtime: Runtime) -> None:
    with runtime.session() as s:
        seed_demo(s, residents=5, staff=4)
    assert _state(runtime, f"list:{_list_of(runtime, (ContactKind.STAFF,))}") == "queued"
    mixed = _list_of(runtime, (ContactKind.STAFF, ContactKind.RESIDENT))
    assert _state(runtime, f"list:{mixed}") == "awaiting_approval"
    assert _state(runtime, "department:bousai") == "queued"
    assert _state(runtime, "residents", channels=["x"]) == "awaiting_approval"
    assert _state(runtime, "area:0321500") == "awaiting_approval"
    assert _state(runtime, "residents", mode="exercise") == "queued"


def test_resident_register_belongs_to_admins_and_the_configured_departments(runtime: Runtime) -> None:
    with runtime.session() as s:
        seed_demo(s, residents=0, staff=0)
        bousai = s.scalar(select(Department.id).where(Department.code == "bousai"))
        assert bousai is not None
        assert resident_registry(s, Settings(resident_registry="bousai, nosuch")) == frozenset({bousai})
        assert resident_registry(s, Settings()) == frozenset()
    sender = Principal(id=None, username="s", display_name="s", roles=MappingProxyType({bousai: Role.SENDER}),
                       department_id=bousai)
    row = "external_id,name,phone\nR1,住民,090-3333-0001\n".encode()
    with runtime.session() as s:
        refused = import_contacts(s, row, secret_key="test", source="t", principal=sender)
        allowed = import_contacts(s, row, secret_key="test", source="t", principal=sender, registry=frozenset({bousai}))
    assert (refused.created, len(refused.errors)) == (0, 1) and "住民名簿" in refused.errors[0].reason
    assert (allowed.created, allowed.errors) == (1, [])
