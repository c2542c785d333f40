"""Signed, expiring links to the mobile answer page: the link itself is the only credential.

No login on a phone after an earthquake: whoever holds the link can answer for that person in
that call-out, so the token names both, is signed with the hub's secret and expires. The expiry
is part of the signed data (not a signing timestamp) so the same attempt always yields the same
link — an SMS re-checked with the provider after a worker crash is recognised by its exact text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from hub.config import Settings
from hub.relay import clock

SALT = "hub.relay.answer-link"


@dataclass(frozen=True)
class AnswerLink:
    callout_id: int
    target_id: int
    channel: str  # the step that carried the link (email | sms | line): recorded as how they answered


class LinkError(Exception):
    def __init__(self, message: str, expired: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_keys_oldest_first, salt=SALT)


def make_token(settings: Settings, link: AnswerLink, issued_at: datetime) -> str:
    expires = clock.aware(issued_at) + timedelta(hours=settings.relay_link_max_age_hours)
    return str(_serializer(settings).dumps(
        [link.callout_id, link.target_id, link.channel, int(expires.timestamp())]))


def answer_url(settings: Settings, link: AnswerLink, issued_at: datetime) -> str:
    return f"{settings.public_url.rstrip('/')}/relay/a/{make_token(settings, link, issued_at)}"


def read_token(settings: Settings, token: str) -> AnswerLink:
    try:
        callout_id, target_id, channel, expires = _serializer(settings).loads(token)
        link = AnswerLink(int(callout_id), int(target_id), str(channel))
        expires_at = float(expires)
    except (BadSignature, TypeError, ValueError) as exc:
        raise LinkError("このリンクは正しくありません") from exc
    if clock.now().timestamp() > expires_at:
        raise LinkError("このリンクは有効期限が切れています", expired=True)
    return link
