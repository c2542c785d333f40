"""A message for an area carries its category: residents there who chose categories get it only
if it is one of theirs; residents who chose none, and staff, get it whatever its category."""

from __future__ import annotations

from hub.compose.audience import Audience, contact_ids_query
from hub.models import Area, Category, Contact
from hub.runtime import Runtime


def test_a_category_narrows_area_messages_only(runtime: Runtime) -> None:
    with runtime.session() as s:
        bousai, kenko = Category(code="bousai", name="防災"), Category(code="kenko", name="健康")
        oshu = Area(code="0321500", name="奥州市")
        people = {
            "chose bousai": Contact(kind="resident", categories=[bousai], areas=[oshu]),
            "chose kenko": Contact(kind="resident", categories=[kenko], areas=[oshu]),
            "chose nothing": Contact(kind="resident", areas=[oshu]),
            "staff": Contact(kind="staff", categories=[kenko], areas=[oshu]),
        }
        s.add_all(people.values())
        s.flush()
        names = {c.id: name for name, c in people.items()}

        def reached(spec: str, category: str | None) -> set[str]:
            return {names[i] for i in s.scalars(contact_ids_query(Audience.parse(spec), category=category))}

        assert reached("area:0321500", "bousai") == {"chose bousai", "chose nothing", "staff"}
        assert reached("area:0321500", None) == set(people)
        # The whole city, a category or a list stay what the operator named.
        assert reached("residents", "bousai") == {"chose bousai", "chose kenko", "chose nothing"}
        assert reached("category:kenko", "bousai") == {"chose kenko", "staff"}
