"""Public Atom / RSS / CAP feeds: an rss delivery row in state delivered is a published entry.

Every feed is Japanese unless asked for another language with ``?lang=<code>`` (hub/residents/
languages.py): its entries are then in that language where the message has a text in it, Japanese
(marked with its own xml:lang) where not. A CAP alert carries every language at once, one <info> each.

Exercises (and system tests) are served only from /feeds/exercise.atom: a drill must never show
up in a public feed a newsroom or another system may be polling. That feed carries each entry's
CAP alert inline, so a drill's receivers see <status>Exercise</status> exactly as a live system would.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from channels.feeds import FeedEntry, FeedMeta, Translation, atom_feed, cap_alert, cap_feed, rss2_feed
from hub.compose.audience import Audience, AudienceError
from hub.compose.public import public_link
from hub.dispatch.planning import broadcast_address
from hub.i18n import gettext as _
from hub.models import Area, Category, Delivery, DeliveryState, Message, MessageBody, Mode
from hub.residents.languages import JAPANESE, LANGUAGES, name_for
from hub.runtime import Runtime

if TYPE_CHECKING:
    from channels.rss import RssChannel

feeds_bp = Blueprint("feeds", __name__, url_prefix="/feeds")

FEED_SIZE = 50
CATEGORY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
PUBLIC_MODES = (Mode.ACTUAL,)
EXERCISE_MODES = (Mode.EXERCISE, Mode.TEST)
# Hub categories → CAP 1.2 <category>; anything else is "Other".
CAP_CATEGORY = {"bousai": "Safety", "kenko": "Health"}
ATOM_TYPE = "application/atom+xml; charset=utf-8"
RSS_TYPE = "application/rss+xml; charset=utf-8"
CAP_TYPE = "application/cap+xml; charset=utf-8"


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hub"]
    return rt


def _rss(rt: Runtime) -> RssChannel:
    # Entry ids and the CAP sender come from the rss channel, so feeds and delivery rows agree.
    return cast("RssChannel", rt.channel("rss"))


class EntryBuilder:
    """Turns published rows into FeedEntry objects, with the same id and time a CAP reader saw."""

    def __init__(self, session: Session, rt: Runtime, language: str = JAPANESE) -> None:
        self.session = session
        self.rss = _rss(rt)
        self.settings = rt.settings
        self.language = language
        self._area_rows: dict[str, Area | None] = {}

    def published_rows(self, modes: Sequence[str], address: str | None = None,
                       message_id: int | None = None) -> list[tuple[Delivery, Message]]:
        q = (select(Delivery, Message).join(Message, Message.id == Delivery.message_id)
             .where(Delivery.channel == "rss", Delivery.state == DeliveryState.DELIVERED,
                    Message.mode.in_([str(m) for m in modes])))
        if address is not None:
            q = q.where(Delivery.address == address)
        if message_id is not None:
            q = q.where(Message.id == message_id)
        q = q.order_by(Delivery.delivered_at.desc(), Delivery.id.desc()).limit(FEED_SIZE)
        return [(row[0], row[1]) for row in self.session.execute(q)]

    def entry(self, message: Message, delivery: Delivery | None, follow_references: bool = True) -> FeedEntry:
        bodies = {b.language: b for b in self.session.scalars(select(MessageBody).where(
            MessageBody.message_id == message.id, MessageBody.channel == "rss"))}
        language = self.language if self.language in bodies else JAPANESE
        body = bodies.get(language)
        translations = [Translation(code, b.subject or message.title, b.text, self._areas(message.audience, code))
                        for code, b in bodies.items() if code != language]
        published = (delivery.delivered_at if delivery else None) or message.created_at
        references = None
        if follow_references and message.references is not None:
            original = message.references
            row = self.session.scalar(select(Delivery).where(
                Delivery.message_id == original.id, Delivery.channel == "rss",
                Delivery.address == broadcast_address("rss", original)))
            references = self.entry(original, row, follow_references=False)
        return FeedEntry(
            message_id=message.id,
            title=(body.subject if body and body.subject else message.title),
            text=body.text if body else message.body,
            mode=message.mode,
            msg_type=message.msg_type,
            published=published,
            updated=(delivery.updated_at if delivery else None) or published,
            link=public_link(self.settings, message),  # None for a message with no public page
            references=references,
            category=CAP_CATEGORY.get(message.category_code or "", "Other"),
            sender_name=message.department.name if message.department else "",
            areas=self._areas(message.audience, language),
            entry_id=self.rss.entry_id(message.id),
            sender=self.rss.config.authority,
            language=language,
            translations=sorted(translations, key=lambda t: list(LANGUAGES).index(t.language)
                                if t.language in LANGUAGES else len(LANGUAGES)),
        )

    def _areas(self, spec: str, language: str) -> list[tuple[str, str]]:
        try:
            audience = Audience.parse(spec)
        except AudienceError:
            return []
        if audience.kind != "area":
            return []
        if audience.value not in self._area_rows:  # asked once per language of each entry
            self._area_rows[audience.value] = self.session.scalar(
                select(Area).where(or_(Area.code == audience.value, Area.name == audience.value)))
        area = self._area_rows[audience.value]
        return [(area.code, name_for(area, language))] if area is not None else []

    def entries(self, modes: Sequence[str], address: str | None = None) -> list[FeedEntry]:
        return [self.entry(m, d) for d, m in self.published_rows(modes, address)]


def _language() -> str:
    """The feed language asked for (``?lang=``); an unknown code is a 404, never a guess."""
    code = request.args.get("lang") or JAPANESE
    if code not in LANGUAGES:
        abort(404)
    return code


def _feed_locale() -> str:
    """The feed's own words (title, description): Japanese for Japanese and やさしい日本語 feeds, English
    for every other language (the entries are in the feed's language; these words have a catalog
    in Japanese and English only)."""
    return "ja" if _language().startswith("ja") else "en"


def _meta(title: str, description: str, feed_id: str) -> FeedMeta:
    rt = _runtime()
    config = _rss(rt).config
    # Our own address from HUB_PUBLIC_URL, never from the Host header: a cache in front of the hub
    # would otherwise serve a feed whose links a forged Host pointed elsewhere.
    public = rt.settings.public_url.rstrip("/")
    return FeedMeta(title=title, link=public + "/", feed_url=public + request.full_path.rstrip("?"),
                    id=f"tag:{config.authority},{config.tag_year}:feed:{feed_id}{_feed_suffix()}",
                    author=config.authority, description=description, language=_language())


def _feed_suffix() -> str:
    # Each language's feed is a feed of its own (its own id); Japanese keeps the id it always had.
    language = _language()
    return "" if language == JAPANESE else f":{language}"


def _xml(data: bytes, content_type: str) -> Response:
    response = Response(data, content_type=content_type)
    response.headers["Cache-Control"] = "public, max-age=30"
    response.add_etag()
    response.make_conditional(request)
    return response


def _category_feed(category: str) -> tuple[FeedMeta, list[FeedEntry]]:
    if not CATEGORY_RE.match(category):
        abort(404)
    rt = _runtime()
    with rt.session() as s:
        label = "すべて"
        if category != "all":
            found = s.scalar(select(Category).where(Category.code == category))
            if found is None:
                abort(404)
            label = name_for(found, _language())
        address = f"rss:{category}" if category != "all" else None
        entries = EntryBuilder(s, rt, _language()).entries(PUBLIC_MODES, address=address)
    words = _feed_locale()
    label = _("すべて", words) if category == "all" else label
    title = _("防災・行政情報（{label}）", words).format(label=label)
    return _meta(title, _("市からのお知らせ", words), category), entries


def _cap_index(modes: Sequence[str], meta: FeedMeta) -> Response:
    rt = _runtime()
    with rt.session() as s:
        entries = EntryBuilder(s, rt, _language()).entries(modes)
    return _xml(cap_feed(entries, meta), ATOM_TYPE)


@feeds_bp.get("/exercise.atom")
def exercise_atom() -> Response:
    words = _feed_locale()
    # 【訓練】 stays first in every language, as in every message: readers and systems key on it.
    return _cap_index(EXERCISE_MODES, _meta("【訓練】" + _("防災・行政情報（訓練・試験）", words),
                                            _("訓練・試験の配信です。実際の情報ではありません。", words), "exercise"))


@feeds_bp.get("/cap.atom")
def cap_index() -> Response:
    words = _feed_locale()
    return _cap_index(PUBLIC_MODES, _meta(_("防災・行政情報（CAP）", words),
                                          _("CAP 1.2 形式の警報・お知らせ", words), "cap"))


@feeds_bp.get("/cap/<int:message_id>.xml")
def cap_document(message_id: int) -> Response:
    # One alert, whatever its mode: its CAP <status> (Actual / Exercise / Test) says what it is.
    rt = _runtime()
    with rt.session() as s:
        builder = EntryBuilder(s, rt, _language())
        rows = builder.published_rows((*PUBLIC_MODES, *EXERCISE_MODES), message_id=message_id)
        if not rows:
            abort(404)
        delivery, message = rows[0]
        data = cap_alert(builder.entry(message, delivery))
    return _xml(data, CAP_TYPE)


@feeds_bp.get("/<category>.atom")
def category_atom(category: str) -> Response:
    return _xml(atom_feed(*_category_feed(category)), ATOM_TYPE)


@feeds_bp.get("/<category>.rss")
def category_rss(category: str) -> Response:
    return _xml(rss2_feed(*_category_feed(category)), RSS_TYPE)

