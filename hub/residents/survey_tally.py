"""A resident survey's tally: counts per choice, by area and by category (from each resident's
areas and categories), by the path answers came, and who the message reached but has not answered.

A resident in two areas counts in both areas' rows (as they would be counted by either area's
officer); the totals count each resident once. Residents without an area or a category are
counted under 「（なし）」.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Select, func, literal, null, select, union, union_all
from sqlalchemy.orm import Session

from hub.compose.tally import CACHE_FROM_ROWS, TallyStore, shared
from hub.csvsafe import SafeWriter
from hub.models import Area, Category, Contact, Delivery, Message
from hub.models.contacts import contact_areas, contact_categories
from hub.models.resident_answers import ResidentAnswer
from hub.residents.questions import closes_at, is_open, label_of, stored_question

JST = timezone(timedelta(hours=9), "JST")
# Known to have reached the resident: a non-responder is someone the message did reach.
REACHED_STATES = ("sent", "delivered")
NONE_LABEL = "（なし）"
CHANNEL_LABELS = {"sms": "SMS", "line": "LINE", "web": "回答ページ", "email": "メール"}
STATUSES = ("all", "answered", "unanswered")
CSV_PAGE = 1000  # residents per query while exporting


@dataclass
class Person:
    contact_id: int
    external_id: str | None = None
    name: str = ""
    reached_on: set[str] = field(default_factory=set)
    areas: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    categories: list[tuple[str, str]] = field(default_factory=list)
    answer: ResidentAnswer | None = None


def status_ids(message_id: int, status: str = "all") -> Select[Any]:
    """The contact ids of ``status`` (all | answered | unanswered), in id order."""
    reached_ids = _reached_ids(message_id)
    if status == "answered":
        return (select(ResidentAnswer.contact_id.label("id")).where(ResidentAnswer.message_id == message_id)
                .order_by(ResidentAnswer.contact_id))
    if status == "unanswered":
        return (select(reached_ids.c.cid.label("id")).where(_unanswered(message_id, reached_ids))
                .order_by(reached_ids.c.cid))
    answered = select(ResidentAnswer.contact_id.label("id")).where(ResidentAnswer.message_id == message_id)
    everyone = union(select(reached_ids.c.cid.label("id")), answered).subquery()
    return select(everyone.c.id).order_by(everyone.c.id)


def people(session: Session, message_id: int, ids: list[int]) -> list[Person]:
    """These residents, with where the message reached them, their areas, categories and answer."""
    out: dict[int, Person] = {}
    for cid, external_id, name in session.execute(
            select(Contact.id, Contact.external_id, Contact.name).where(Contact.id.in_(ids))):
        out[cid] = Person(cid, external_id, name or "")
    for reached_id, channel in session.execute(
            select(Delivery.contact_id, Delivery.channel).where(
                Delivery.message_id == message_id, Delivery.contact_id.in_(ids),
                Delivery.state.in_(REACHED_STATES))):
        if reached_id in out:
            out[reached_id].reached_on.add(channel)
    for cid, code, name in session.execute(
            select(contact_areas.c.contact_id, Area.code, Area.name).join(Area, Area.id == contact_areas.c.area_id)
            .where(contact_areas.c.contact_id.in_(ids)).order_by(Area.code)):
        out[cid].areas.append((code, name))
    for cid, code, name in session.execute(
            select(contact_categories.c.contact_id, Category.code, Category.name)
            .join(Category, Category.id == contact_categories.c.category_id)
            .where(contact_categories.c.contact_id.in_(ids)).order_by(Category.code)):
        out[cid].categories.append((code, name))
    for answer in session.scalars(select(ResidentAnswer).where(ResidentAnswer.message_id == message_id,
                                                               ResidentAnswer.contact_id.in_(ids))):
        out[answer.contact_id].answer = answer
    return [out[cid] for cid in ids if cid in out]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def jst(value: datetime | None) -> str:
    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M") if value else ""


def _group(keys: list[str]) -> dict[str, Any]:
    return {"reached": 0, "answered": 0, "unanswered": 0, "counts": dict.fromkeys(keys, 0)}


def tally(session: Session, message: Message) -> dict[str, Any] | None:
    """The live counts of the message's survey (None: it asks no question).

    Counted by the database in one statement: one row per person (reached? answered what?) is made
    from the deliveries and answers once, and totals, areas and categories are all counted from it
    (``_facts``: about twice as fast as counting each of them from the deliveries).
    """
    question = stored_question(message)
    if question is None:
        return None
    keys = [str(c["key"]) for c in question["choices"]]
    totals = _group(keys)
    by_group: dict[str, defaultdict[int | None, dict[str, Any]]] = {
        "area": defaultdict(lambda: _group(keys)), "category": defaultdict(lambda: _group(keys))}
    for dimension, gid, reached, choice, n in session.execute(_facts(message.id)):
        target = totals if dimension == "total" else by_group[dimension][gid]
        _add(target, bool(reached), choice, n)
    end = closes_at(message)
    return {
        "message_id": message.id,
        "question": {"text": question["text"], "choices": [{"key": str(c["key"]), "label": str(c["label"])}
                                                           for c in question["choices"]]},
        "open": is_open(message), "closes_at": _iso(end),
        "reached": totals["reached"], "answered": totals["answered"], "unanswered": totals["unanswered"],
        "choices": [{"key": k, "label": label_of(question, k), "count": totals["counts"].get(k, 0)} for k in keys],
        "channels": {channel: n for channel, n in session.execute(
            select(ResidentAnswer.channel, func.count()).where(ResidentAnswer.message_id == message.id)
            .group_by(ResidentAnswer.channel))},
        "areas": _listed(session, by_group["area"], Area),
        "categories": _listed(session, by_group["category"], Category),
    }


def _facts(message_id: int) -> Any:
    """(dimension, group id, reached, choice, people) for the totals and for each area and category
    (group id None: people with none). A resident in two areas is in both areas' rows, once in the
    totals. One statement: who was reached is read from the deliveries once (CTEs, which PostgreSQL
    makes once however often they are named)."""
    reached = _reached(message_id).cte("reached")
    answers = (select(ResidentAnswer.contact_id.label("cid"), ResidentAnswer.choice_key)
               .where(ResidentAnswer.message_id == message_id).cte("answers"))
    people = union_all(
        select(reached.c.cid, literal(1).label("reached"), answers.c.choice_key)
        .select_from(reached.outerjoin(answers, answers.c.cid == reached.c.cid)),
        # Answered without being reached (an earlier send's link, say): counted as answers.
        select(answers.c.cid, literal(0), answers.c.choice_key)
        .where(~select(reached.c.cid).where(reached.c.cid == answers.c.cid).exists()),
    ).cte("people")

    def by(dimension: str, link_contact: Any, link_group: Any) -> Any:
        return (select(literal(dimension).label("dimension"), link_group.label("gid"), people.c.reached,
                       people.c.choice_key, func.count())
                .select_from(people.outerjoin(link_contact.table, link_contact == people.c.cid))
                .group_by(link_group, people.c.reached, people.c.choice_key))

    return union_all(
        select(literal("total").label("dimension"), null().label("gid"), people.c.reached, people.c.choice_key,
               func.count()).group_by(people.c.reached, people.c.choice_key),
        by("area", contact_areas.c.contact_id, contact_areas.c.area_id),
        by("category", contact_categories.c.contact_id, contact_categories.c.category_id),
    )


def _add(group: dict[str, Any], reached: bool, choice: str | None, n: int) -> None:
    if reached:
        group["reached"] += n
        if choice is None:
            group["unanswered"] += n
    if choice is not None:
        group["answered"] += n
        group["counts"][choice] = group["counts"].get(choice, 0) + n


def _listed(session: Session, groups: dict[int | None, dict[str, Any]],
            model: type[Area] | type[Category]) -> list[dict[str, Any]]:
    """Each area (category) by code, then those with none under 「（なし）」."""
    names = {row.id: (row.code, row.name) for row in session.execute(
        select(model.id, model.code, model.name).where(model.id.in_([g for g in groups if g is not None])))}
    listed = [{"code": names[gid][0], "name": names[gid][1], **g} for gid, g in groups.items() if gid in names]
    listed.sort(key=lambda g: g["code"])
    none = groups.get(None)
    if none and (none["reached"] or none["answered"]):
        listed.append({"code": None, "name": NONE_LABEL, **none})
    return listed


# A city-wide survey's tally costs the database seconds (about 7 s at a million residents reached,
# benchmarks/console.py): counted once for every viewer, and shown up to a minute.
SHARED_FRESH_MAX = 60.0


def watched(session: Session, message: Message, store: TallyStore) -> dict[str, Any] | None:
    """``tally`` as everyone watching the survey sees it, with ``counted_at``: a large survey's is
    made by one request for all of them (hub/compose/tally.py); closing it is counted at once."""
    if stored_question(message) is None:
        return None
    key = f"survey:{message.public_id}:{message.state}:{is_open(message)}"
    made = shared(store, key, lambda: tally(session, message),
                  worth_sharing=lambda t: t["reached"] + t["answered"] >= CACHE_FROM_ROWS,
                  fresh_max=SHARED_FRESH_MAX)
    return {**made.value, "counted_at": made.counted_at.isoformat()}


def silent(session: Session, message: Message, store: TallyStore, survey: dict[str, Any],
           limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` residents (by id) the message reached who have not answered, for its
    status page. Finding them reads every resident reached (1.6 s at a million), so a large survey's
    are found by one request for everyone watching, as its tally (``survey`` is it) is. Only their
    ids are shared: names are read on each view (an erased resident's is gone at once), and one who
    has answered since is left out."""
    question = stored_question(message)
    if question is None:
        return []
    key = f"survey-silent:{message.public_id}:{message.state}:{is_open(message)}:{limit}"
    large = survey["reached"] + survey["answered"] >= CACHE_FROM_ROWS
    made = shared(store, key, lambda: list(session.scalars(status_ids(message.id, "unanswered").limit(limit))),
                  worth_sharing=lambda _ids: large, fresh_max=SHARED_FRESH_MAX)
    return [_entry(p, question) for p in people(session, message.id, [int(i) for i in made.value])
            if p.answer is None]


def _reached(message_id: int) -> Select[Any]:
    """The contact ids the message reached (a delivery sent or delivered), each once, as ``cid``."""
    return (select(Delivery.contact_id.label("cid")).distinct()
            .where(Delivery.message_id == message_id, Delivery.contact_id.is_not(None),
                   Delivery.state.in_(REACHED_STATES)))


def _reached_ids(message_id: int) -> Any:
    return _reached(message_id).subquery()


def _answers(message_id: int) -> Any:
    return select(ResidentAnswer.contact_id, ResidentAnswer.choice_key, ResidentAnswer.channel).where(
        ResidentAnswer.message_id == message_id).subquery()


def _unanswered(message_id: int, reached_ids: Any) -> Any:
    return ~select(ResidentAnswer.id).where(ResidentAnswer.message_id == message_id,
                                            ResidentAnswer.contact_id == reached_ids.c.cid).exists()


def respondents(session: Session, message: Message, status: str = "all", offset: int = 0,
                limit: int = 500) -> tuple[list[dict[str, Any]], int]:
    """One page of residents (reached or answered, ``status`` filters) by contact id, and how many
    there are in all."""
    question = stored_question(message) or {"choices": []}
    ids_query = status_ids(message.id, status)
    total = int(session.scalar(select(func.count()).select_from(ids_query.subquery())) or 0)
    ids = list(session.scalars(ids_query.offset(offset).limit(limit)))
    return [_entry(p, question) for p in people(session, message.id, ids)], total


def _entry(p: Person, question: dict[str, Any]) -> dict[str, Any]:
    a = p.answer
    return {
        "contact_id": p.contact_id, "external_id": p.external_id, "name": p.name,
        "areas": [name for _code, name in p.areas], "categories": [name for _code, name in p.categories],
        "reached_on": sorted(p.reached_on), "status": "answered" if a is not None else "unanswered",
        "answer": None if a is None else {
            "key": a.choice_key, "label": label_of(question, a.choice_key), "channel": a.channel,
            "answered_at": _iso(a.answered_at), "first_answered_at": _iso(a.first_answered_at),
            "changes": a.changes},
    }


CSV_COLUMNS = ["住民番号", "氏名", "地域", "分類", "届いたチャネル", "回答", "回答番号", "回答経路", "回答日時",
               "変更回数"]


def export_csv(session: Session, message: Message, status: str = "all") -> Iterator[str]:
    """CSV chunks for Excel (UTF-8 with BOM): every cell through SafeWriter, as names and labels
    are text residents or imports wrote."""
    buf = io.StringIO()
    writer = SafeWriter(buf)
    buf.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    offset = 0
    while True:
        page, _total = respondents(session, message, status, offset, CSV_PAGE)
        for r in page:
            a = r["answer"] or {}
            writer.writerow([
                r["external_id"] or "", r["name"], "・".join(r["areas"]), "・".join(r["categories"]),
                "・".join(CHANNEL_LABELS.get(c, c) for c in r["reached_on"]),
                a.get("label", "未回答"), a.get("key", ""),
                CHANNEL_LABELS.get(a.get("channel", ""), a.get("channel", "")),
                jst(datetime.fromisoformat(a["answered_at"])) if a else "", a.get("changes", ""),
            ])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        if len(page) < CSV_PAGE:
            return
        offset += CSV_PAGE
