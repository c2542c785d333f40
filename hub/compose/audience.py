"""Turn an audience spec (``all``, ``category:防災``, ``area:0321500`` …) into a contact query."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.orm import Session

from hub.models import (
    Area,
    Category,
    Contact,
    ContactKind,
    CsvRow,
    CsvSend,
    Delivery,
    Department,
    Message,
    RecipientList,
)
from hub.models.base import MAX_INT_ID
from hub.models.contacts import contact_areas, contact_categories, recipient_list_members

AUDIENCE_HELP = (
    "all | residents | staff | category:CODE | area:CODE | department:CODE_OR_NAME | list:ID | csv:FILE"
    " | message:ID (whoever received that message)"
)


# A follow-up goes to everyone who may have the original, including outcomes we cannot confirm.
RECEIVED_STATES = ("sent", "delivered", "unknown", "checking", "sending")


class AudienceError(ValueError):
    pass


@dataclass(frozen=True)
class Audience:
    kind: str
    value: str = ""

    @classmethod
    def parse(cls, spec: str) -> Audience:
        spec = spec.strip()
        kind, _, value = spec.partition(":")
        if kind in {"all", "residents", "staff"} and not value:
            return cls(kind)
        if kind in {"category", "area", "department"} and value:
            return cls(kind, value)
        # Ids are checked here so a query never meets int("abc") nor an id beyond the column (500s).
        if kind in {"list", "message", "personal"} and value.isascii() and value.isdigit() and int(value) <= MAX_INT_ID:
            return cls(kind, value)
        raise AudienceError(f"宛先の指定が正しくありません: {spec!r}（使えるもの: {AUDIENCE_HELP}）")

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}" if self.value else self.kind


# The rows an audience kind names; a disabled one stays for history but starts nothing new.
_NAMED: dict[str, tuple[type[Category] | type[Area] | type[Department], str]] = {
    "category": (Category, "分類"), "area": (Area, "地域"), "department": (Department, "部署"),
}


def require_usable(session: Session, audience: Audience) -> None:
    """Refuse a new message to a category, area or department that is unknown or disabled.

    Only new messages are checked: planning an approved one, or a follow-up, never re-asks.
    ``personal:ID`` is made by a CSV send only (hub/notices/store.py): typed into the composer it
    would be a message to nobody.
    """
    if audience.kind == "personal":
        raise AudienceError("personal: は差し込み送信（CSV）だけが使う宛先です")
    if audience.kind not in _NAMED:
        return
    model, label = _NAMED[audience.kind]
    rows: list[Category | Area | Department] = list(session.scalars(select(model).where(
        (model.code == audience.value) | (model.name == audience.value))))
    if not rows:
        raise AudienceError(f"{label}「{audience.value}」は登録されていません")
    if all(row.disabled_at is not None for row in rows):
        raise AudienceError(f"{label}「{audience.value}」は無効になっているため新しい配信には使えません")


def unknown_part(session: Session, audience: Audience) -> str | None:
    """The part of ``audience`` that names nothing in the database, e.g. ``area:9999999``; else None.

    Without this check a typo is accepted and the message reports 完了 0/0: nobody is told, and
    nobody notices. Codes and names are both accepted, as ``contact_ids_query`` matches both.
    """
    named = _NAMED.get(audience.kind)
    if named is not None:
        model = named[0]
        found: object = session.scalar(select(model.id).where(or_(model.code == audience.value,
                                                                  model.name == audience.value)).limit(1))
    elif audience.kind == "list":
        found = session.get(RecipientList, int(audience.value))
    elif audience.kind == "message":
        found = session.get(Message, int(audience.value))
    elif audience.kind == "personal":
        found = session.get(CsvSend, int(audience.value))
    else:
        return None
    return None if found is not None else str(audience)


# Audiences a message's category narrows (docs/residents.md): residents choose an area and the
# categories they want there. "all" and "residents" stay everyone: the operator chose to reach the
# whole city. A list, a department, a category or a follow-up's recipients are never narrowed.
NARROWED_BY_CATEGORY = frozenset({"area"})


def wants_category(category_code: str) -> ColumnElement[bool]:
    """Contacts who want a message of this category: staff, residents who chose no category (they
    get everything addressed to them, as before choosing existed), and residents who chose it."""
    chosen = select(contact_categories.c.contact_id).where(contact_categories.c.contact_id == Contact.id)
    this_one = chosen.join(Category, Category.id == contact_categories.c.category_id).where(
        Category.code == category_code)
    return or_(Contact.kind != ContactKind.RESIDENT, ~exists(chosen), exists(this_one))


def contact_ids_query(audience: Audience, distinct: bool = True, category: str | None = None) -> Select[int]:
    """Active contacts in the audience (ids only, so planning streams without loading objects).

    ``distinct=False`` for keyset pages: DISTINCT would make the database read the whole audience
    before the first row; the caller drops the rare repeated id (a contact in two matching areas).
    ``category``: the message's category, which narrows the audiences of ``NARROWED_BY_CATEGORY``
    to the contacts who want it (:func:`wants_category`).
    """
    q = select(Contact.id).where(Contact.active.is_(True))
    if category and audience.kind in NARROWED_BY_CATEGORY:
        q = q.where(wants_category(category))
    match audience.kind:
        case "all":
            pass
        case "residents":
            q = q.where(Contact.kind == ContactKind.RESIDENT)
        case "staff":
            q = q.where(Contact.kind == ContactKind.STAFF)
        case "category":
            q = q.join(contact_categories, contact_categories.c.contact_id == Contact.id).join(
                Category, Category.id == contact_categories.c.category_id
            ).where((Category.code == audience.value) | (Category.name == audience.value))
        case "area":
            q = q.join(contact_areas, contact_areas.c.contact_id == Contact.id).join(
                Area, Area.id == contact_areas.c.area_id
            ).where((Area.code == audience.value) | (Area.name == audience.value))
        case "department":
            q = q.join(Department, Department.id == Contact.department_id).where(
                (Department.code == audience.value) | (Department.name == audience.value)
            )
        case "list":
            q = q.join(recipient_list_members, recipient_list_members.c.contact_id == Contact.id).where(
                recipient_list_members.c.list_id == int(audience.value)
            )
        case "personal":
            q = q.join(CsvRow, CsvRow.contact_id == Contact.id).where(CsvRow.csv_send_id == int(audience.value))
        case "message":
            q = q.join(Delivery, Delivery.contact_id == Contact.id).where(
                Delivery.message_id == int(audience.value), Delivery.state.in_(RECEIVED_STATES)
            )
        case _:
            raise AudienceError(f"unknown audience kind {audience.kind}")
    return q.distinct() if distinct else q
