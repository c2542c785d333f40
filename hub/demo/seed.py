"""A demo municipality: departments with their own senders, categories, areas, residents and staff.

Deterministic (seeded random) so demos and tests see the same people every time.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from hub.accounts import issue_token
from hub.accounts.passwords import hash_password
from hub.models import (
    Area,
    Category,
    Consent,
    Contact,
    ContactKind,
    Department,
    Membership,
    Operator,
    Role,
    utcnow,
)
from hub.models.base import table_of
from hub.models.contacts import contact_areas, contact_categories
from hub.templating import load_templates

DEPARTMENTS = [
    ("bousai", "防災危機管理課", "+815011110001", "bousai@city.example.jp"),
    ("kenko", "健康推進課", "+815011110002", "kenko@city.example.jp"),
    ("zei", "税務課", "+815011110003", "zei@city.example.jp"),
    ("kosodate", "子育て支援課", "+815011110004", "kosodate@city.example.jp"),
]
CATEGORIES = [("bousai", "防災"), ("kenko", "健康"), ("zei", "税"), ("kosodate", "子育て")]
# Real JMA municipality codes (奥州市 appears in JMA's own VXSE53 samples) so triggers can be replayed.
AREAS = [("0321500", "奥州市", "municipality"), ("0320500", "花巻市", "municipality"),
         ("0321300", "北上市", "municipality"), ("0344200", "岩手県奥州市（警報区域）", "warning")]
# What foreign residents read instead (a city enters its own on the admin pages); the languages left
# out show how a missing one falls back (English, then Japanese).
NAMES = {
    "bousai": {"en": "Disaster prevention", "vi": "Thiên tai", "zh": "防灾", "ja-easy": "ぼうさい（さいがい）"},
    "kenko": {"en": "Health", "vi": "Sức khỏe", "zh": "健康", "ja-easy": "けんこう"},
    "zei": {"en": "Taxes", "vi": "Thuế", "zh": "税务", "ja-easy": "ぜいきん"},
    "kosodate": {"en": "Raising children", "vi": "Nuôi dạy con", "zh": "育儿", "ja-easy": "こそだて"},
    "0321500": {"en": "Oshu City", "vi": "Thành phố Oshu"},
    "0320500": {"en": "Hanamaki City", "vi": "Thành phố Hanamaki"},
    "0321300": {"en": "Kitakami City", "vi": "Thành phố Kitakami"},
    "0344200": {"en": "Oshu City, Iwate (warning area)"},
}
LANGUAGES = ["ja"] * 17 + ["en", "zh", "vi"]
DEMO_TOKEN = "demo-token"  # the demo only: `hub seed` and `hub demo` refuse to run in production
# Known passwords of the demo operators (printed by `hub demo`); never used outside the demo.
DEMO_PASSWORDS = {"admin": "demo-admin-pass", "bousai1": "demo-sender-pass", "bousai2": "demo-approver-pass"}


@cache
def _demo_hash(password: str) -> str:
    # argon2 is slow on purpose; tests seed a fresh demo city many times per process.
    return hash_password(password)


@dataclass
class SeedReport:
    residents: int
    staff: int


def _line_id(rng: random.Random) -> str:
    return "U" + "".join(rng.choice("0123456789abcdef") for _ in range(32))


def seed_demo(session: Session, residents: int = 1000, staff: int = 50, seed: int = 7) -> SeedReport:
    """Create the demo municipality unless it exists. The caller commits."""
    if session.scalar(select(func.count()).select_from(Department)):
        return SeedReport(0, 0)
    rng = random.Random(seed)
    depts = [Department(code=c, name=n, sms_sender=s, voice_sender=s, email_sender=e, email_sender_name=f"○○市 {n}")
             for c, n, s, e in DEPARTMENTS]
    session.add_all(depts)
    session.add_all(Category(code=c, name=n, names=NAMES.get(c, {})) for c, n in CATEGORIES)
    session.add_all(Area(code=c, name=n, family=f, names=NAMES.get(c, {})) for c, n, f in AREAS)
    admin = Operator(username="admin", display_name="防災管理者", is_admin=True, department=depts[0])
    session.add_all([
        admin,
        Operator(username="bousai1", display_name="防災 太郎", department=depts[0],
                 memberships=[Membership(department=depts[0], role=Role.SENDER)]),
        Operator(username="bousai2", display_name="防災 花子", department=depts[0],
                 memberships=[Membership(department=depts[0], role=Role.APPROVER)]),
    ])
    session.flush()
    for operator in session.scalars(select(Operator)):
        if operator.username in DEMO_PASSWORDS:
            operator.password_hash = _demo_hash(DEMO_PASSWORDS[operator.username])
    issue_token(session, admin, "demo", expires_at=None, actor="demo", token=DEMO_TOKEN)
    load_templates(session)  # the prepared JMA templates rules refer to
    categories = {c.code: c.id for c in session.scalars(select(Category))}
    areas = [a.id for a in session.scalars(select(Area).where(Area.family == "municipality"))]
    now = utcnow()

    contacts: list[dict[str, Any]] = []
    consents: list[dict[str, Any]] = []
    cat_links: list[dict[str, Any]] = []
    area_links: list[dict[str, Any]] = []
    for i in range(residents + staff):
        is_staff = i >= residents
        cid = i  # index into ``contacts``; real ids come back from the insert
        has_phone = rng.random() < 0.9
        landline = rng.random() < 0.05
        contacts.append({
            "external_id": f"{'S' if is_staff else 'R'}{i:06d}",
            "kind": ContactKind.STAFF if is_staff else ContactKind.RESIDENT,
            "name": f"{'職員' if is_staff else '住民'}{i:04d}",
            "language": "ja" if is_staff else rng.choice(LANGUAGES),
            "department_id": depts[i % len(depts)].id if is_staff else None,
            "phone": (None if not has_phone else f"+813{50000000 + cid}" if landline
                      else f"+81{rng.choice('789')}0{10000000 + cid}"),
            "email": f"user{cid:05d}@mail.example.jp" if rng.random() < 0.7 else None,
            "line_user_id": _line_id(rng) if rng.random() < 0.6 else None,
            "exercise_participant": is_staff or rng.random() < 0.1,
            "active": True,
            "created_at": now,
        })
        if not is_staff:
            for channel in ("sms", "voice", "email", "line"):
                if rng.random() < 0.95:
                    consents.append({"contact_id": cid, "channel": channel, "given_at": now,
                                     "source": "demo:registration"})
            cat_links += [{"contact_id": cid, "category_id": categories[c]}
                          for c in ("bousai", *rng.sample(["kenko", "zei", "kosodate"], k=rng.randint(0, 2)))]
            area_links.append({"contact_id": cid, "area_id": rng.choice(areas)})
    if not contacts:
        return SeedReport(residents, staff)
    # Let the database assign ids (explicit ids would leave PostgreSQL's sequence behind).
    # Ids are mapped back by external_id (the demo database is fresh): a bulk INSERT … RETURNING goes
    # quadratic in SQLAlchemy 2.1's ORM path.
    session.execute(insert(table_of(Contact)), contacts)
    by_external = {ext: cid for ext, cid in session.execute(select(Contact.external_id, Contact.id))}
    ids = [by_external[c["external_id"]] for c in contacts]
    for link in (*consents, *cat_links, *area_links):
        link["contact_id"] = ids[link["contact_id"]]
    for table, values in ((table_of(Consent), consents), (contact_categories, cat_links),
                          (contact_areas, area_links)):
        if values:  # an empty executemany would insert one row of defaults
            session.execute(insert(table), values)
    return SeedReport(residents, staff)


def give_operators_contacts(session: Session) -> None:
    """Each demo operator without a contact gets a staff contact of their own (LINE and e-mail), so
    approval requests and override notices reach them, and show in the sandbox's inbox, as in a real city.

    Only `hub demo` and `hub seed` do this: the tests' small cities keep their operators unreachable
    unless a test gives them contacts, so a test's messages are only the ones it made."""
    for operator in list(session.scalars(select(Operator).where(
            Operator.username.in_(DEMO_PASSWORDS), Operator.contact_id.is_(None)).order_by(Operator.id))):
        contact = Contact(external_id=f"OP-{operator.username}", kind=ContactKind.STAFF, name=operator.display_name,
                          language="ja", department_id=operator.department_id,
                          email=f"{operator.username}@city.example.jp",
                          line_user_id="U" + hashlib.sha256(operator.username.encode()).hexdigest()[:32],
                          exercise_participant=True, active=True)
        session.add(contact)
        session.flush()
        operator.contact_id = contact.id
