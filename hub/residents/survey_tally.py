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

from sqlalchemy import Select, select, union
from sqlalchemy.orm import Session

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


@dataclass
class Person:
    contact_id: int
    external_id: str | None = None
    name: str = ""
    reached_on: set[str] = field(default_factory=set)
    areas: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    categories: list[tuple[str, str]] = field(default_factory=list)
    answer: ResidentAnswer | None = None


def _people_ids(message_id: int) -> Select[Any]:
    reached = select(Delivery.contact_id.label("id")).where(
        Delivery.message_id == message_id, Delivery.contact_id.is_not(None), Delivery.state.in_(REACHED_STATES))
    answered = select(ResidentAnswer.contact_id.label("id")).where(ResidentAnswer.message_id == message_id)
    return select(union(reached, answered).subquery().c.id)


def people(session: Session, message_id: int) -> dict[int, Person]:
    """Everyone the message reached or who answered, with their areas, categories and answer."""
    ids = _people_ids(message_id)
    out: dict[int, Person] = {}
    for cid, external_id, name in session.execute(
            select(Contact.id, Contact.external_id, Contact.name).where(Contact.id.in_(ids))):
        out[cid] = Person(cid, external_id, name or "")
    for reached_id, channel in session.execute(
            select(Delivery.contact_id, Delivery.channel).where(
                Delivery.message_id == message_id, Delivery.contact_id.is_not(None),
                Delivery.state.in_(REACHED_STATES))):
        if reached_id is not None and reached_id in out:
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
    for answer in session.scalars(select(ResidentAnswer).where(ResidentAnswer.message_id == message_id)):
        if answer.contact_id in out:
            out[answer.contact_id].answer = answer
    return out


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def jst(value: datetime | None) -> str:
    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M") if value else ""


def _group(keys: list[str]) -> dict[str, Any]:
    return {"reached": 0, "answered": 0, "unanswered": 0, "counts": dict.fromkeys(keys, 0)}


def tally(session: Session, message: Message) -> dict[str, Any] | None:
    """The live counts of the message's survey (None: it asks no question)."""
    question = stored_question(message)
    if question is None:
        return None
    keys = [str(c["key"]) for c in question["choices"]]
    everyone = people(session, message.id)
    counts = dict.fromkeys(keys, 0)
    via: dict[str, int] = defaultdict(int)
    areas: dict[tuple[str | None, str], dict[str, Any]] = {}
    categories: dict[tuple[str | None, str], dict[str, Any]] = {}
    reached = answered = unanswered = 0
    for p in everyone.values():
        is_reached, answer = bool(p.reached_on), p.answer
        reached += is_reached
        if answer is not None:
            answered += 1
            counts[answer.choice_key] = counts.get(answer.choice_key, 0) + 1
            via[answer.channel] += 1
        elif is_reached:
            unanswered += 1
        for groups, places in ((areas, p.areas), (categories, p.categories)):
            places_or_none: list[tuple[str | None, str]] = list(places) or [(None, NONE_LABEL)]
            for place in places_or_none:
                group = groups.setdefault(place, _group(keys))
                group["reached"] += is_reached
                if answer is not None:
                    group["answered"] += 1
                    group["counts"][answer.choice_key] = group["counts"].get(answer.choice_key, 0) + 1
                elif is_reached:
                    group["unanswered"] += 1

    def listed(groups: dict[tuple[str | None, str], dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"code": code, "name": name, **g}
                for (code, name), g in sorted(groups.items(), key=lambda kv: (kv[0][0] is None, kv[0][0] or ""))]

    end = closes_at(message)
    return {
        "message_id": message.id,
        "question": {"text": question["text"], "choices": [{"key": str(c["key"]), "label": str(c["label"])}
                                                           for c in question["choices"]]},
        "open": is_open(message), "closes_at": _iso(end),
        "reached": reached, "answered": answered, "unanswered": unanswered,
        "choices": [{"key": k, "label": label_of(question, k), "count": counts.get(k, 0)} for k in keys],
        "channels": dict(via),
        "areas": listed(areas),
        "categories": listed(categories),
    }


def _status_of(p: Person) -> str:
    return "answered" if p.answer is not None else "unanswered"


def respondents(session: Session, message: Message, status: str = "all") -> list[dict[str, Any]]:
    """One entry per resident (reached or answered), by contact id; ``status`` filters."""
    question = stored_question(message) or {"choices": []}
    out = []
    for p in sorted(people(session, message.id).values(), key=lambda p: p.contact_id):
        if status == "unanswered" and (p.answer is not None or not p.reached_on):
            continue
        if status == "answered" and p.answer is None:
            continue
        a = p.answer
        out.append({
            "contact_id": p.contact_id, "external_id": p.external_id, "name": p.name,
            "areas": [name for _code, name in p.areas], "categories": [name for _code, name in p.categories],
            "reached_on": sorted(p.reached_on), "status": _status_of(p),
            "answer": None if a is None else {
                "key": a.choice_key, "label": label_of(question, a.choice_key), "channel": a.channel,
                "answered_at": _iso(a.answered_at), "first_answered_at": _iso(a.first_answered_at),
                "changes": a.changes},
        })
    return out


CSV_COLUMNS = ["住民番号", "氏名", "地域", "分類", "届いたチャネル", "回答", "回答番号", "回答経路", "回答日時",
               "変更回数"]


def export_csv(session: Session, message: Message, status: str = "all") -> Iterator[str]:
    """CSV chunks for Excel (UTF-8 with BOM): every cell through SafeWriter, as names and labels
    are text residents or imports wrote."""
    buf = io.StringIO()
    writer = SafeWriter(buf)
    buf.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    for n, r in enumerate(respondents(session, message, status), start=1):
        a = r["answer"] or {}
        writer.writerow([
            r["external_id"] or "", r["name"], "・".join(r["areas"]), "・".join(r["categories"]),
            "・".join(CHANNEL_LABELS.get(c, c) for c in r["reached_on"]),
            a.get("label", "未回答"), a.get("key", ""), CHANNEL_LABELS.get(a.get("channel", ""), a.get("channel", "")),
            jst(datetime.fromisoformat(a["answered_at"])) if a else "", a.get("changes", ""),
        ])
        if n % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
