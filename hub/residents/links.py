"""Signed links a resident's message carries: the link itself is the only credential.

A resident has no account. Each link names the contact (and what it is for), is signed with the
hub's secret under its own salt, so a link of one kind can never be used as another, and carries
no timestamp: the same recipient always gets the same link, so a message re-checked with its
provider after a crash is recognised by its exact text. Preferences and unsubscribe links do not
expire (RFC 8058 expects a one-click link to keep working); answer links name their message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from hub.config import Settings

PREFERENCES = "preferences"  # the page where a resident chooses categories, area, language, stop
UNSUBSCRIBE = "unsubscribe"  # RFC 8058 one-click (POST) and the "stop" link of one channel
ANSWER = "answer"  # a resident survey's answer page for one message

SALTS = {PREFERENCES: "hub.residents.preferences", UNSUBSCRIBE: "hub.residents.unsubscribe",
         ANSWER: "hub.residents.answer"}
PATHS = {PREFERENCES: "/r/p/", UNSUBSCRIBE: "/r/u/", ANSWER: "/r/a/"}


class ResidentLinkError(Exception):
    """The token was not made by this hub for this purpose."""


@dataclass(frozen=True)
class ResidentLink:
    purpose: str
    contact_id: int
    channel: str = ""  # UNSUBSCRIBE: the channel to stop; ANSWER: the channel that carried the link
    message_id: int = 0  # ANSWER only


def _serializer(settings: Settings, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_keys_oldest_first, salt=SALTS[purpose])


def make_token(settings: Settings, link: ResidentLink) -> str:
    return str(_serializer(settings, link.purpose).dumps([link.contact_id, link.channel, link.message_id]))


def read_token(settings: Settings, purpose: str, token: str) -> ResidentLink:
    try:
        contact_id, channel, message_id = _serializer(settings, purpose).loads(token)
        return ResidentLink(purpose, int(contact_id), str(channel), int(message_id))
    except (BadSignature, TypeError, ValueError) as exc:
        raise ResidentLinkError("このリンクは正しくありません") from exc


def url_for(settings: Settings, link: ResidentLink) -> str:
    return f"{settings.public_url.rstrip('/')}{PATHS[link.purpose]}{make_token(settings, link)}"


def links_for(settings: Settings, message_id: int, channel: str, contact_ids: Iterable[tuple[int, int | None]],
              asks_question: bool = False) -> dict[int, Mapping[str, str]]:
    """Each recipient's links, by delivery id: ``contact_ids`` pairs (delivery_id, contact_id).

    Rows without a contact (an address typed in by hand) get none: there is nobody to keep a
    preference for.
    """
    out: dict[int, Mapping[str, str]] = {}
    for delivery_id, contact_id in contact_ids:
        if contact_id is None:
            continue
        links = {
            PREFERENCES: url_for(settings, ResidentLink(PREFERENCES, contact_id)),
            UNSUBSCRIBE: url_for(settings, ResidentLink(UNSUBSCRIBE, contact_id, channel)),
        }
        if asks_question:
            links[ANSWER] = url_for(settings, ResidentLink(ANSWER, contact_id, channel, message_id))
        out[delivery_id] = links
    return out
