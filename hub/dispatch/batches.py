"""Building a channel Batch from claimed rows and the message's stored bodies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.base import RETURN_PATH, Batch, Channel, Recipient, Rendered
from hub.bounces.addresses import return_path
from hub.config import Settings
from hub.models import Contact, Department, Message, MessageBody, Mode
from hub.notices.personal import is_personal, personal_contents
from hub.residents.links import links_for
from hub.residents.questions import poll_of

DEFAULT_SENDERS = {"sms": "+815000000000", "voice": "+815000000000", "email": "bousai@city.example.jp"}


def batch_key(message_id: int, channel: str, batch_no: int) -> str:
    return f"hub:{message_id}:{channel}:{batch_no}"


def department_sender(dept: Department | None, channel: Channel) -> str | None:
    """The department's own sender identity on ``channel``, else the hub's default."""
    field = channel.sender_field
    if field and dept is not None and getattr(dept, field):
        return str(getattr(dept, field))
    return DEFAULT_SENDERS.get(channel.name)


def contents_for(session: Session, message_id: int, channel: str) -> dict[str, Rendered]:
    bodies = session.scalars(
        select(MessageBody).where(MessageBody.message_id == message_id, MessageBody.channel == channel)
    )
    contents = {b.language: Rendered(subject=b.subject, text=b.text, html=b.html) for b in bodies}
    if "ja" not in contents:
        raise LookupError(f"message {message_id} has no stored body for {channel}")
    return contents


def senders_by_gateway(message: Message, channel: Channel) -> dict[str | None, str | None]:
    """The department's sender identity on each gateway of ``channel`` (None: the channel's own)."""
    from hub.dispatch.gateways import gateways_of, sender_for

    default = department_sender(message.department, channel)
    multi = gateways_of(channel)
    names: list[str | None] = [None, *(multi.gateways if multi is not None else ())]
    return {g: sender_for(channel, message.department, g, default) for g in names}


def build_batch(session: Session, message: Message, channel: Channel, batch_no: int,
                recipients: Sequence[Recipient], attempt: int, gateway: str | None = None,
                settings: Settings | None = None) -> Batch:
    dept = message.department
    contents = contents_for(session, message.id, channel.name)
    personal = personal_contents(session, message, channel, recipients) if is_personal(message) else {}
    if dept is not None:
        # The department's display name, for channels that show one (the e-mail From): its own
        # e-mail name, else the department's name, so residents see who writes before opening.
        sender_name = dept.email_sender_name or dept.name

        def named(c: Rendered) -> Rendered:
            return Rendered(subject=c.subject, text=c.text, html=c.html, units=c.units,
                            meta={**c.meta, "sender_name": sender_name})
        contents = {language: named(c) for language, c in contents.items()}
        personal = {delivery_id: named(c) for delivery_id, c in personal.items()}
    poll = poll_of(message)
    if poll is not None:
        # Not in the stored bodies (only text is): LINE makes its buttons of it, in the text's language.
        contents = {language: replace(c, meta={**c.meta, "poll": poll_of(message, language)})
                    for language, c in contents.items()}
    links: dict[int, Mapping[str, str]] = {}
    if channel.personal_links and settings is not None:
        links = links_for(settings, message.id, channel.name, [(r.delivery_id, r.contact_id) for r in recipients],
                          asks_question=poll is not None)
    if channel.bounces_to_return_path and settings is not None and settings.bounce_domain:
        key, domain = settings.secret_key, settings.bounce_domain
        for r in recipients:
            own = return_path(key, domain, r.delivery_id)
            links[r.delivery_id] = {**links.get(r.delivery_id, {}), RETURN_PATH: own}
    return Batch(
        message_id=message.id, batch_no=batch_no, recipients=list(recipients), contents=contents, links=links,
        personal=personal,
        sender=senders_by_gateway(message, channel)[gateway], mode=message.mode,
        idempotency_key=batch_key(message.id, channel.name, batch_no), attempt=attempt, gateway=gateway,
    )


def held_back(session: Session, message: Message, contact_ids: Sequence[int | None],
              channel: str = "") -> dict[int, str]:
    """The last check right before sending, one query per batch: the contacts not to send to now,
    each with its skip reason — erased since the send was planned (``erased``: planning may have read
    them just before the erasure committed), not a drill participant for an exercise
    (``exercise_only``), or, on e-mail, an address reported unknown since (``address_bounced``)."""
    ids = [c for c in contact_ids if c is not None]
    if not ids:
        return {}
    exercise = message.mode != Mode.ACTUAL
    # For an exercise, a contact deleted since planning is no drill participant either.
    held = dict.fromkeys(ids, "exercise_only") if exercise else {}
    for contact_id, participant, erased_at, bounced_at in session.execute(
            select(Contact.id, Contact.exercise_participant, Contact.erased_at, Contact.email_bounced_at)
            .where(Contact.id.in_(ids))):
        if erased_at is not None:
            held[contact_id] = "erased"
        elif channel == "email" and bounced_at is not None:
            held[contact_id] = "address_bounced"
        elif participant or not exercise:
            held.pop(contact_id, None)
    return held
