"""The base every channel adapter builds on.

To add a channel: subclass :class:`Channel` in its own module, set the class attributes (``name``,
limits, capabilities, ``config_class``), implement :meth:`Channel.render` and :meth:`Channel._send`,
and register it in ``pyproject.toml`` under ``[project.entry-points."hub.channels"]``. The public
:meth:`Channel.deliver` is final: it owns the bookkeeping (one result per recipient, no silent
drops, provider errors translated into outcomes) so adapters stay small.
"""

from __future__ import annotations

import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, final

from channels.errors import AmbiguousError, DeliveryError, PermanentError, RateLimited, TransientError

log = logging.getLogger(__name__)

EXERCISE_PREFIX = "【訓練】"
CANCEL_PREFIX = "【取消】"
CORRECTION_PREFIX = "【訂正】"


class Capability(enum.Flag):
    NONE = 0
    PERSONAL = enum.auto()  # one copy per recipient address
    BROADCAST = enum.auto()  # one public post (X, feeds): a single delivery row per message
    STATUS_CALLBACKS = enum.auto()  # the provider reports delivered/undelivered later
    RECONCILE = enum.auto()  # can ask the provider whether an ambiguous send was accepted
    RETRACT = enum.auto()  # a published copy can be withdrawn (tweet deleted, feed entry replaced)


class Outcome(enum.StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"
    RETRY = "retry"  # transient: dispatch schedules another attempt
    NOT_SENT = "not_sent"  # reconcile only: the provider has no record, so sending again is safe


@dataclass(frozen=True)
class ChannelConfig:
    """Typed per-channel settings. Fields with ``metadata={"secret": True}`` are masked in output."""

    sandbox: bool = True

    def masked(self) -> dict[str, Any]:
        return {
            f.name: ("********" if f.metadata.get("secret") and getattr(self, f.name) else getattr(self, f.name))
            for f in fields(self)
        }


@dataclass(frozen=True)
class Draft:
    """What the officer wrote, before a channel shapes it."""

    title: str
    body: str
    mode: str = "actual"  # actual | exercise | test
    msg_type: str = "alert"  # alert | update | cancel
    override: str | None = None  # channel-specific text chosen by the officer
    link: str | None = None  # public page with the full text
    message_id: int | None = None
    sender_name: str | None = None
    update_label: str = "訂正"  # 訂正 for corrections, 続報 for follow-ups that add information


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None = None
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # non-empty: this channel cannot send this text
    units: int = 1  # billing units: SMS segments, calls, posts
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    address: str
    language: str = "ja"
    contact_id: int | None = None


@dataclass(frozen=True)
class Batch:
    """A fixed set of delivery rows: the same rows every time the batch is (re)tried."""

    message_id: int
    batch_no: int
    recipients: Sequence[Recipient]
    contents: dict[str, Rendered]  # by language; "ja" is always present
    sender: str | None = None
    mode: str = "actual"
    idempotency_key: str = ""  # stable per batch: e.g. LINE X-Line-Retry-Key is derived from it
    attempt: int = 1  # 1 on the first try; adapters read provider "duplicate" answers in its light

    def content_for(self, recipient: Recipient) -> Rendered:
        return self.contents.get(recipient.language) or self.contents["ja"]


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: int
    outcome: Outcome
    provider_id: str | None = None
    error: str | None = None
    error_code: str | None = None
    reason: str | None = None  # machine-readable skip reason, e.g. "not_mobile"
    retry_after: float | None = None


@dataclass(frozen=True)
class ChannelContext:
    """What an adapter may know about the hub: URLs for callbacks and a throttle shared by workers."""

    public_url: str = "http://127.0.0.1:8000"
    throttle: Callable[[str | None, int], None] = lambda sender, n: None
    timeout: float = 10.0


ProgressCallback = Callable[[list[DeliveryResult]], None]


class StopDelivery(Exception):
    """Raised by a progress callback to abandon the batch at once (e.g. the rows were taken over)."""


class Channel(ABC):
    name: ClassVar[str]
    label: ClassVar[str]  # Japanese display name
    capabilities: ClassVar[Capability] = Capability.PERSONAL
    config_class: ClassVar[type[ChannelConfig]] = ChannelConfig
    batch_size: ClassVar[int] = 200
    max_chars: ClassVar[int | None] = None
    address_field: ClassVar[str | None] = None  # Contact attribute holding this channel's address

    def __init__(self, config: ChannelConfig, context: ChannelContext | None = None) -> None:
        self.config = config
        self.context = context or ChannelContext()

    @abstractmethod
    def render(self, draft: Draft) -> Rendered:
        """Shape the draft for this channel's limits; say what is wrong in ``errors`` instead of raising."""

    def check_address(self, address: str) -> str | None:
        """Return a skip reason if this address can never receive on this channel, else None."""
        return None

    @abstractmethod
    def _send(self, batch: Batch) -> Iterable[DeliveryResult]:
        """Send the batch; yield results as they happen (a crash then loses as little as possible).

        Raise a :class:`DeliveryError` subclass for a failure that hits every recipient not yet
        answered for; per-recipient failures are yielded as results.
        """

    def reconcile(self, recipients: Sequence[Recipient], batch: Batch) -> list[DeliveryResult]:
        """For rows left in ``sending`` by a dead worker: ask the provider what it accepted.

        Adapters without a way to ask return UNKNOWN: a second copy is worse than an honest gap.
        """
        return [
            DeliveryResult(r.delivery_id, Outcome.UNKNOWN, error="送信結果が不明です（送信処理が中断されました）")
            for r in recipients
        ]

    @final
    def deliver(self, batch: Batch, on_progress: ProgressCallback | None = None) -> list[DeliveryResult]:
        """Send ``batch`` and return exactly one result per recipient, in no particular order."""
        wanted = {r.delivery_id: r for r in batch.recipients}
        results: dict[int, DeliveryResult] = {}
        pending_report: list[DeliveryResult] = []

        def report(result: DeliveryResult) -> None:
            if result.delivery_id not in wanted or result.delivery_id in results:
                log.error("%s adapter reported an unexpected result %s", self.name, result)
                return
            results[result.delivery_id] = result
            pending_report.append(result)
            if on_progress is not None and len(pending_report) >= 25:
                on_progress(list(pending_report))
                pending_report.clear()

        sendable = [r for r in batch.recipients if not self._skip(r, report)]
        if sendable:
            inner = Batch(**{**batch.__dict__, "recipients": sendable})
            try:
                for result in _iterate(self._send(inner)):
                    report(result)
            except StopDelivery:
                raise
            except DeliveryError as exc:
                for r in sendable:
                    if r.delivery_id not in results:
                        report(_result_from_error(r.delivery_id, exc))
            except Exception as exc:  # an adapter bug must not lose rows: the outcome is unknown
                log.exception("%s adapter crashed", self.name)
                for r in sendable:
                    if r.delivery_id not in results:
                        report(DeliveryResult(r.delivery_id, Outcome.UNKNOWN, error=f"内部エラー: {exc!r}"))
        for r in batch.recipients:
            if r.delivery_id not in results:
                report(DeliveryResult(r.delivery_id, Outcome.UNKNOWN, error="アダプタが結果を返しませんでした"))
        if on_progress is not None and pending_report:
            on_progress(list(pending_report))
        return list(results.values())

    def _skip(self, recipient: Recipient, report: Callable[[DeliveryResult], None]) -> bool:
        reason = self.check_address(recipient.address)
        if reason is None:
            return False
        report(DeliveryResult(recipient.delivery_id, Outcome.SKIPPED, reason=reason, error=skip_message(reason)))
        return True


def _iterate(results: Iterable[DeliveryResult]) -> Iterator[DeliveryResult]:
    yield from results


def _result_from_error(delivery_id: int, exc: DeliveryError) -> DeliveryResult:
    if isinstance(exc, RateLimited):
        return DeliveryResult(delivery_id, Outcome.RETRY, error=exc.message, error_code=exc.code,
                              retry_after=exc.retry_after)
    if isinstance(exc, TransientError):
        return DeliveryResult(delivery_id, Outcome.RETRY, error=exc.message, error_code=exc.code)
    if isinstance(exc, PermanentError):
        return DeliveryResult(delivery_id, Outcome.FAILED, error=exc.message, error_code=exc.code)
    if isinstance(exc, AmbiguousError):
        return DeliveryResult(delivery_id, Outcome.UNKNOWN, error=exc.message, error_code=exc.code)
    return DeliveryResult(delivery_id, Outcome.UNKNOWN, error=exc.message, error_code=exc.code)


def result_from_error(delivery_id: int, exc: DeliveryError) -> DeliveryResult:
    """For adapters that handle per-recipient errors themselves."""
    return _result_from_error(delivery_id, exc)


SKIP_MESSAGES = {
    "not_mobile": "携帯電話番号ではないためSMSを送信できません",
    "invalid_address": "宛先の形式が正しくありません",
    "no_consent": "このチャネルでの連絡に同意がありません",
    "exercise_only": "訓練対象ではありません",
    "too_long": "本文がこのチャネルの上限を超えています",
}


def skip_message(reason: str) -> str:
    return SKIP_MESSAGES.get(reason, reason)


def prefix_for(draft: Draft) -> str:
    """【訓練】 always comes first: a 'this is a test' buried mid-text has been sent as live before."""
    parts = []
    if draft.mode != "actual":
        parts.append(EXERCISE_PREFIX if draft.mode == "exercise" else "【試験】")
    if draft.msg_type == "cancel":
        parts.append(CANCEL_PREFIX)
    elif draft.msg_type == "update":
        parts.append(f"【{draft.update_label}】")
    return "".join(parts)
