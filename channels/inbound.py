"""What providers send to the hub, as typed events the routes can act on without any SDK.

Each adapter that receives posts offers signature verification over the raw request and parses
the body into these events; ``hub/callbacks.py`` and the relay's routes only apply them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from channels.base import Outcome, Rendered


class SignatureError(Exception):
    """The post is not signed by the provider with our secret: it must change nothing."""


class MalformedPost(ValueError):
    """A correctly signed post whose body is not what the provider sends: refused (400), changes nothing."""


@dataclass(frozen=True)
class StatusEvent:
    """A provider's later word on one request (e.g. a Twilio status callback)."""

    provider_id: str
    status: str  # the provider's own word, kept for the history
    outcome: Outcome | None  # DELIVERED or FAILED when final; None when it only confirms acceptance
    error_code: str | None = None


@dataclass(frozen=True)
class UserEvent:
    """Something a person did in a messaging app: followed, blocked, pressed a button, wrote."""

    kind: str  # "follow" | "unfollow" | "postback" | "message" | anything else the provider sends
    user_id: str | None
    data: str | None = None  # postback data
    text: str | None = None  # a text message
    extra: dict[str, str] = field(default_factory=dict)
    # The provider's id of this event (LINE webhookEventId): the same on every redelivery, so the
    # hub applies each id once.
    event_id: str | None = None
    redelivery: bool = False  # the provider says it is sending this event again
    # LINE: answers this event once, for free (the reply API), shortly after it happened.
    reply_token: str | None = None


@dataclass(frozen=True)
class KeypadAnswer:
    """Keys a person pressed during a call, and the number the call went to."""

    digits: str
    called: str


@runtime_checkable
class ReportsStatus(Protocol):
    """A channel whose provider posts signed status callbacks for the requests it accepted."""

    def verify_request(self, url: str, form: Mapping[str, str], signature: str) -> bool: ...

    def status_event(self, form: Mapping[str, str]) -> StatusEvent: ...


@runtime_checkable
class ReceivesUserEvents(Protocol):
    """A channel whose provider posts signed webhooks with what people did (LINE)."""

    def parse_webhook(self, body: str, signature: str) -> list[UserEvent]: ...


@runtime_checkable
class TakesKeypadAnswers(Protocol):
    """A voice channel whose calls can ask a question answered with the keypad."""

    def keypad_answer(self, form: Mapping[str, str]) -> KeypadAnswer: ...

    def reply(self, content: Rendered) -> str:
        """The document that answers the keypad post (the next question or the closing words)."""
