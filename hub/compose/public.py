"""Which messages have a public page (/m/<public_id>), and its address.

The page needs no login, so it may only show what was meant for the public anyway: a message whose
audience reaches residents (everyone, residents, a category or an area), live or a public exercise
(clearly marked as 訓練 on the page). Staff-only messages, named lists, CSV audiences and system
tests have no public page: their link would publish internal text to anyone holding it.
The address is the message's random ``public_id``, never its sequential id.
"""

from __future__ import annotations

from collections.abc import Iterable

from channels import registry
from channels.base import Capability
from hub.compose.audience import Audience, AudienceError
from hub.config import Settings
from hub.models import Message, Mode

RESIDENT_AUDIENCES = frozenset({"all", "residents", "category", "area"})
PUBLIC_MODES = frozenset({Mode.ACTUAL, Mode.EXERCISE})
# The preview shows a link of the real length before the message (and its id) exists.
PLACEHOLDER_PUBLIC_ID = "x" * 22


def is_public(mode: str, audience: str, original: Message | None = None) -> bool:
    """``original``: for a follow-up (audience ``message:ID``), the message it follows."""
    return mode in PUBLIC_MODES and for_the_public(audience, original)


def for_the_public(audience: str, original: Message | None = None) -> bool:
    """Whether the audience is the public (or part of it), so its text may be published.

    The public channels (X, the feeds) and the public page may only carry such messages: a staff-only
    message, a named list or a CSV send posted there would be read by anyone.
    """
    try:
        kind = Audience.parse(audience).kind
    except AudienceError:
        return False
    if kind == "message":
        return original is not None and for_the_public(original.audience, original.references)
    return kind in RESIDENT_AUDIENCES


def public_channels(channels: Iterable[str]) -> list[str]:
    """The channels that publish (one post anyone can read) rather than deliver to addresses."""
    installed = registry.available()
    return [ch for ch in channels if ch in installed and installed[ch].capabilities & Capability.BROADCAST]


def public_channels_closed_to(audience: str, channels: Iterable[str]) -> list[str]:
    """The public channels among ``channels`` this audience may not use: all of them unless it is the
    public, whoever approves. A follow-up is not asked: a retraction goes wherever the original went."""
    return [] if for_the_public(audience) else public_channels(channels)


def message_is_public(message: Message) -> bool:
    return is_public(message.mode, message.audience, message.references)


def page_url(settings: Settings, public_id: str) -> str:
    return f"{settings.public_url.rstrip('/')}/m/{public_id}"


def public_link(settings: Settings, message: Message) -> str | None:
    return page_url(settings, message.public_id) if message_is_public(message) else None
