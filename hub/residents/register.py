"""Registration on the web with e-mail double opt-in: nothing is stored until the mailbox confirms.

The form's choices travel inside the confirmation link, signed with the hub's secret and a
timestamp (itsdangerous), so there is no table of half-registered addresses to clean up or leak,
and the link stops working ``register_link_max_age_hours`` after it was sent. The page answers
the same whatever the address (registered or not, throttled or not): it never tells who is
registered. Sending is throttled per client address (visible: 429) and per mailbox (silent).
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.base import Rendered
from channels.email import valid_email
from hub.accounts.throttle import FailureStore, LocalFailures, RedisFailures, SharedOrLocal
from hub.config import Settings
from hub.dispatch.batches import DEFAULT_SENDERS
from hub.i18n import EASY, gettext
from hub.models import Contact, ContactKind, Department, audit
from hub.residents import choices
from hub.residents.languages import JAPANESE, LANGUAGES
from hub.residents.links import PREFERENCES, ResidentLink, url_for
from hub.runtime import Runtime

SALT = "hub.residents.register"
CONFIRM_PATH = "/register/confirm/"
THROTTLE_WINDOW = 3600.0
ADDRESS_LIMIT = 20  # registrations per client address per hour: then 429
MAILBOX_LIMIT = 3  # confirmation e-mails per mailbox per hour: then silently none
MAX_EMAIL = 254


class RegisterLinkError(Exception):
    def __init__(self, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


@dataclass(frozen=True)
class Request:
    """What the form asked for: the mailbox and the choices to apply once it confirms."""

    email: str
    categories: frozenset[str]
    areas: frozenset[str]
    language: str = JAPANESE
    locale: str = "ja"  # the page's language: the e-mail is written in it
    # A resident registered another way (LINE) adding this mailbox from their preferences page:
    # the mailbox joins that registration, whose choices stay as they are.
    contact_id: int | None = None


def normalise_email(raw: str) -> str | None:
    email = raw.strip()
    if not email or len(email) > MAX_EMAIL or not valid_email(email):
        return None
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_keys_oldest_first, salt=SALT)


def make_token(settings: Settings, request: Request) -> str:
    fields = [request.email, sorted(request.categories), sorted(request.areas), request.language, request.locale]
    return str(_serializer(settings).dumps(fields if request.contact_id is None else [*fields, request.contact_id]))


def read_token(settings: Settings, token: str) -> Request:
    try:
        email, categories, areas, language, locale, *joining = _serializer(settings).loads(
            token, max_age=settings.register_link_max_age_hours * 3600)
        contact_id = int(joining[0]) if joining else None
        return Request(str(email), frozenset(map(str, categories)), frozenset(map(str, areas)), str(language),
                       str(locale), contact_id)
    except SignatureExpired as exc:
        raise RegisterLinkError(expired=True) from exc
    except (BadSignature, TypeError, ValueError) as exc:
        raise RegisterLinkError(expired=False) from exc


def confirm_url(settings: Settings, request: Request) -> str:
    return f"{settings.public_url.rstrip('/')}{CONFIRM_PATH}{make_token(settings, request)}"


# -- throttling ----------------------------------------------------------------------------------

def _store(rt: Runtime) -> FailureStore:
    store: FailureStore | None = current_app.extensions.get("hub.residents.throttle")
    if store is None:
        local = LocalFailures(window=THROTTLE_WINDOW)
        store = (SharedOrLocal(RedisFailures(rt.redis_url, prefix="hub:register:", window=THROTTLE_WINDOW), local)
                 if rt.redis_url else local)
        current_app.extensions["hub.residents.throttle"] = store
    return store


def _key(kind: str, value: str) -> str:
    # Hashed: Redis never holds the addresses people registered in clear text.
    return f"{kind}:{hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]}"


def address_refused(rt: Runtime, client: str | None) -> bool:
    """Too many registrations from this client address: the page answers 429."""
    return bool(client) and _store(rt).count(_key("address", client or ""))[0] >= ADDRESS_LIMIT


def may_send(rt: Runtime, client: str | None, email: str) -> bool:
    """Count this registration; False when its mailbox had enough confirmation e-mails this hour
    (the page still says "sent": nobody learns anything about an address from it)."""
    store = _store(rt)
    if client:
        store.add(_key("address", client))
    return store.add(_key("mailbox", email)) <= MAILBOX_LIMIT


# -- the e-mail ----------------------------------------------------------------------------------

def sender_of(session: Session, rt: Runtime) -> tuple[str, str | None]:
    """The residents' department's sender identity (``residents_department``), else the hub's default."""
    dept = session.scalar(select(Department).where(Department.code == rt.settings.residents_department))
    if dept is not None and dept.email_sender:
        return dept.email_sender, dept.email_sender_name
    return DEFAULT_SENDERS["email"], None


def confirmation_mail(settings: Settings, request: Request, sender_name: str | None) -> Rendered:
    def _(text: str) -> str:
        return gettext(text, request.locale)

    link = confirm_url(settings, request)
    hours = settings.register_link_max_age_hours
    subject = _("配信登録の確認")
    lines = [
        _("配信登録のお申し込みを受け付けました。") if request.contact_id is None
        else _("登録済みの配信設定に、このメールアドレスを追加するお申し込みを受け付けました。"),
        _("次のリンクを開き、「登録を確定する」を押すと登録が完了します（{hours}時間有効）。").format(hours=hours),
        link,
        _("お申し込みに心当たりがない場合は、このメールを破棄してください。登録されることはありません。"),
    ]
    text = "\n\n".join([subject, *lines, *([sender_name] if sender_name else [])]) + "\n"
    href = html.escape(link, quote=True)
    body_html = "".join(f"<p>{html.escape(line)}</p>\n" if line != link else f'<p><a href="{href}">{href}</a></p>\n'
                        for line in lines)
    lang = "ja" if request.locale == EASY else html.escape(request.locale)  # やさしい日本語 is Japanese
    page = (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head><meta charset="utf-8">'
            f"<title>{html.escape(subject)}</title></head>\n<body>\n<h1 style=\"font-size:1.2em\">"
            f"{html.escape(subject)}</h1>\n{body_html}</body>\n</html>\n")
    meta: dict[str, Any] = {"from_name": sender_name} if sender_name else {}
    return Rendered(subject=subject, text=text, html=page, meta=meta)


# -- confirming ----------------------------------------------------------------------------------

def confirm(session: Session, settings: Settings, request: Request) -> tuple[Contact, str]:
    """The mailbox confirmed: create or update the resident with e-mail consent and the choices.

    Returns the contact and its preferences link. An address held by staff contacts only gets a
    resident contact of its own: staff records are the city's, not the resident's to change.
    """
    if request.contact_id is not None:
        joined = add_mailbox(session, request)
        return joined, url_for(settings, ResidentLink(PREFERENCES, joined.id))
    contact = session.scalar(
        select(Contact).where(func.lower(Contact.email) == request.email.lower(),
                              Contact.kind == ContactKind.RESIDENT).order_by(Contact.id).limit(1))
    if contact is None:
        contact = Contact(kind=ContactKind.RESIDENT, name="", email=request.email, language=JAPANESE)
        session.add(contact)
        session.flush()
    _mailbox_works(session, contact)
    choices.give_consent(session, contact, "email", choices.WEB_REGISTER)
    choices.choose(session, contact, categories=request.categories, areas=request.areas,
                   language=request.language if request.language in LANGUAGES else None,
                   source=choices.WEB_REGISTER)
    return contact, url_for(settings, ResidentLink(PREFERENCES, contact.id))


def add_mailbox(session: Session, request: Request) -> Contact:
    """The mailbox confirmed joining the registration ``request.contact_id`` (made on LINE, say):
    its address and e-mail consent are that resident's now, their choices unchanged.

    The same person's earlier e-mail-only registration of this mailbox is folded into it (its
    e-mail consent revoked, the address moved, the record kept inactive for its history): one
    person, one record, one copy of each message. A record of this address that also has a phone
    or LINE is someone else's (a family sharing a mailbox) and is left alone.
    """
    contact = session.get(Contact, request.contact_id)
    if contact is None or contact.kind != ContactKind.RESIDENT or contact.erased_at is not None:
        raise RegisterLinkError(expired=False)
    from hub.residents.optout import revoke

    actor = choices.actor_of(contact)
    same_mailbox = session.scalars(
        select(Contact).where(func.lower(Contact.email) == request.email.lower(), Contact.id != contact.id,
                              Contact.kind == ContactKind.RESIDENT, Contact.phone.is_(None),
                              Contact.line_user_id.is_(None)))
    for earlier in same_mailbox:
        revoke(session, Contact.id == earlier.id, "email", choices.WEB_PREFERENCES, actor=actor)
        earlier.email, earlier.active = None, False
        audit(session, actor, "contact.merged", earlier, into=contact.id)
    replaced = contact.email is not None and contact.email.lower() != request.email.lower()
    contact.email = request.email
    _mailbox_works(session, contact)
    choices.give_consent(session, contact, "email", choices.WEB_PREFERENCES)
    audit(session, actor, "contact.email_added", contact, replaced=replaced)
    return contact


def _mailbox_works(session: Session, contact: Contact) -> None:
    """The confirmation mail was opened: the mailbox receives mail now, whatever an earlier bounce
    report said of it (a mailbox deleted and made again under the same address)."""
    if contact.email_bounced_at is not None:
        audit(session, choices.actor_of(contact), "contact.email_bounce_cleared", contact, source="double_opt_in")
        contact.clear_email_bounce()
