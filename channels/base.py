"""The base every channel adapter builds on.

To add a channel: subclass :class:`Channel` in its own module, set the class attributes (``name``,
limits, capabilities, ``config_class``), implement :meth:`Channel.render` and :meth:`Channel._send`,
and register it in ``pyproject.toml`` under ``[project.entry-points."hub.channels"]``. The public
:meth:`Channel.deliver` is final: it owns the bookkeeping (one result per recipient, no silent
drops, provider errors translated into outcomes) so adapters stay small.
"""

from __future__ import annotations

import enum
import itertools
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Protocol, final

from channels.errors import DeliveryError, PermanentError, RateLimited, TransientError, Unreachable
from channels.locale import EASY_DRILL, is_japanese, marks_for

log = logging.getLogger(__name__)

EXERCISE_PREFIX = "【訓練】"
CANCEL_PREFIX = "【取消】"
CORRECTION_PREFIX = "【訂正】"
EASY_JAPANESE_CODE = "ja-easy"


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

    # Not live: the provider's address is overridden (the sandbox or another stand-in) or the live
    # credentials are missing, so nothing reaches a real recipient (``Settings.uses_sandbox``).
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
    language: str = "ja"  # the language of title and body (hub/residents/languages.py)
    poll: Poll | None = None  # a resident survey the message asks (SMS, LINE and e-mail carry it)


@dataclass(frozen=True)
class Poll:
    """One question a message asks residents, answered by a choice's key (a digit 1–9).

    SMS appends how to reply, LINE adds quick-reply buttons, e-mail the recipient's own answer
    link (``Batch.links``). Dispatch puts it in ``Rendered.meta["poll"]`` of every content it sends.
    """

    text: str
    choices: tuple[tuple[str, str], ...]  # (key, label), keys "1".."9"
    message_id: int | None = None

    def listing(self) -> str:
        """``1:はい 2:いいえ``: how an SMS says the choices (the key is what a resident replies)."""
        return " ".join(f"{key}:{label}" for key, label in self.choices)

    def reply_hint(self, language: str = "ja") -> str:
        """The question and how to answer it by replying, as an SMS ends."""
        if language.startswith("ja"):
            return f"{self.text}\n{self.listing()} を返信してください"
        return f"{self.text}\nReply with the number: {self.listing()}"

    def postback_data(self, key: str) -> str:
        """What a LINE button sends back: the same for every recipient of a multicast (the webhook's
        user id says who answered)."""
        return f"{POLL_POSTBACK_PREFIX}{self.message_id or 0}:{key}"


POLL_POSTBACK_PREFIX = "ans:"


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
class Choice:
    label: str
    data: str  # what comes back when it is chosen (a LINE postback's data)


@dataclass(frozen=True)
class Question:
    """A question answered inside the message: buttons on LINE, the keypad on a call.

    Put it in ``Rendered.meta["question"]``; ``Rendered.text`` is then what comes before it (the
    opening text, or what is said before the question). On a call, ``meta["question"] = None``
    ends the call after the text.
    """

    text: str  # as written
    spoken: str  # as said on a call
    choices: tuple[Choice, ...] = ()  # a button / a key each
    suggestions: tuple[Choice, ...] = ()  # LINE: quick replies under a free-form answer
    keypad_digits: int = 1  # on a call; more than one: the person finishes with #
    answer_url: str | None = None  # on a call: where the pressed keys are posted
    no_input: str = ""  # said when no key was pressed


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
    # For channels with more than one gateway (SMS: twilio | karaden): the one that carries this
    # batch, recorded on each row before the request. None: the channel's first gateway.
    gateway: str | None = None
    # Each recipient's own signed links (preferences, unsubscribe, answer), by delivery id; only
    # channels with ``personal_links`` get them (hub/residents/links.py makes them). Also, on
    # channels with ``bounces_to_return_path``, the row's own return address (RETURN_PATH).
    links: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    # A personalised send's own text per recipient, by delivery id (hub/notices/personal.py): it
    # wins over ``contents``. Adapters that send one text to many (LINE multicast) must then send
    # each recipient its own request.
    personal: Mapping[int, Rendered] = field(default_factory=dict)

    def content_for(self, recipient: Recipient) -> Rendered:
        own = self.personal.get(recipient.delivery_id)
        if own is not None:
            return own
        return self.contents.get(recipient.language) or self.contents["ja"]

    def language_for(self, recipient: Recipient) -> str:
        """The language of :meth:`content_for`: the recipient's when it has a text, else Japanese."""
        return recipient.language if recipient.language in self.contents else "ja"

    def links_for(self, recipient: Recipient) -> Mapping[str, str]:
        return self.links.get(recipient.delivery_id, {})


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: int
    outcome: Outcome
    provider_id: str | None = None
    error: str | None = None
    error_code: str | None = None
    reason: str | None = None  # machine-readable skip reason, e.g. "not_mobile"
    retry_after: float | None = None
    # Whether a provider request carrying this row was made (an attempt is used only then).
    # None: deliver() fills it in from the adapter's Requesting events.
    attempted: bool | None = None


@dataclass(frozen=True)
class Requesting:
    """Yielded by an adapter right before the provider request that carries these rows.

    It is how ``deliver()`` knows which rows a request was really made for: a row that was never
    in a request can always be retried cleanly, and only rows in flight can be in doubt.
    """

    delivery_ids: tuple[int, ...]


RETURN_PATH = "return_path"  # Batch.links key: the envelope sender that brings a bounce back to its row

SendEvent = DeliveryResult | Requesting


class Observer(Protocol):
    """Told how long each provider request took and how a batch ended (the hub's metrics)."""

    def request(self, channel: str, seconds: float) -> None: ...

    def results(self, channel: str, results: Sequence[DeliveryResult]) -> None: ...


@dataclass(frozen=True)
class ChannelContext:
    """What an adapter may know about the hub: URLs for callbacks and a throttle shared by workers."""

    public_url: str = "http://127.0.0.1:8000"
    throttle: Callable[[str | None, int], None] = lambda sender, n: None
    timeout: float = 10.0
    # Provider requests one batch may have unanswered at a time (HUB_REQUESTS_IN_FLIGHT), for
    # adapters that can make them concurrently; each still passes the throttle first.
    requests_in_flight: int = 16
    # Told, per request to a gateway, whether the gateway answered (True) or failed it (5xx,
    # timeout, unreachable, credentials refused): the hub's circuit breaker counts these.
    gateway_health: Callable[[str, bool], None] = lambda gateway, ok: None
    observer: Observer | None = None


class ProgressCallback(Protocol):
    def __call__(self, results: list[DeliveryResult], requesting: Sequence[int] = ()) -> None:
        """Record ``results``; then, if ``requesting`` is given, that those rows are about to be requested."""


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
    # One request per recipient, so each can carry the recipient's own links (Batch.links).
    personal_links: ClassVar[bool] = False
    # Each request can carry its own return address (SMTP's MAIL FROM): Batch.links[RETURN_PATH],
    # which names the delivery, so a later bounce report finds its row (hub/bounces).
    bounces_to_return_path: ClassVar[bool] = False
    # Results are written back in reports of this many, or after progress_seconds, whichever comes
    # first. A killed worker leaves at most these (and the requests in flight) to be reconciled
    # with the provider; each report is a database transaction, so not one per SMS.
    progress_every: ClassVar[int] = 100
    progress_seconds: ClassVar[float] = 1.0
    # Department attribute holding this channel's sender identity (a number, a mailbox), if any.
    sender_field: ClassVar[str | None] = None
    # Our own publication (the city's feed) keeps exercises in a feed of their own, so it may carry
    # them; a public account of a provider never gets an exercise.
    publishes_exercises: ClassVar[bool] = False

    @classmethod
    def records_each_request(cls) -> bool:
        """Channels that cannot ask the provider afterwards have each request recorded before it is
        made and each outcome as it comes, so a crash leaves at most one request's rows in doubt."""
        return not cls.capabilities & Capability.RECONCILE

    def __init__(self, config: ChannelConfig, context: ChannelContext | None = None) -> None:
        self.config = config
        self.context = context or ChannelContext()

    @abstractmethod
    def render(self, draft: Draft) -> Rendered:
        """Shape the draft for this channel's limits; say what is wrong in ``errors`` instead of raising."""

    def check_address(self, address: str) -> str | None:
        """Return a skip reason if this address can never receive on this channel, else None."""
        return None

    def sender_used(self, batch: Batch) -> str | None:
        """The sender identity a request for ``batch`` goes out with (the batch's, or the channel's
        default), for the delivery record; None on channels without one of their own."""
        return batch.sender if self.sender_field else None

    @abstractmethod
    def _send(self, batch: Batch) -> Iterable[SendEvent]:
        """Send the batch; yield results as they happen (a crash then loses as little as possible).

        Yield :class:`Requesting` right before each provider request, with the rows it carries.
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
        requested: set[int] = set()
        unreported: list[DeliveryResult] = []
        each_request = self.records_each_request()
        report_by = time.monotonic() + self.progress_seconds

        def flush(requesting: Sequence[int] = ()) -> None:
            nonlocal report_by
            if on_progress is not None and (unreported or requesting):
                on_progress(list(unreported), requesting)
            unreported.clear()
            report_by = time.monotonic() + self.progress_seconds

        def report(result: DeliveryResult) -> None:
            if result.delivery_id not in wanted or result.delivery_id in results:
                log.error("%s adapter reported an unexpected result %s", self.name, result)
                return
            if result.attempted is None:
                result = replace(result, attempted=result.delivery_id in requested)
            results[result.delivery_id] = result
            unreported.append(result)
            if len(unreported) >= self.progress_every or time.monotonic() >= report_by:
                flush()

        # A request lasts from the adapter's Requesting to the first result for a row it carried
        # (several may be in flight at once; a multicast's rows all answer together), or to an
        # error that ends the batch.
        began: dict[int, float] = {}  # request number -> when it began
        request_of: dict[int, int] = {}  # delivery id -> request number
        numbers = itertools.count()

        def answered(seconds_since: float) -> None:
            seconds = time.monotonic() - seconds_since
            self._observe(lambda o: o.request(self.name, seconds))

        def answered_all() -> None:
            for start in began.values():
                answered(start)
            began.clear()

        sendable = [r for r in batch.recipients if not self._skip(r, report)]
        if sendable:
            inner = Batch(**{**batch.__dict__, "recipients": sendable})
            try:
                for event in _iterate(self._send(inner)):
                    if isinstance(event, Requesting):
                        ids = [i for i in event.delivery_ids if i in wanted and i not in results]
                        requested.update(ids)
                        if each_request:
                            flush(ids)
                        number = next(numbers)
                        began[number] = time.monotonic()
                        request_of.update((i, number) for i in ids)
                        continue
                    start = began.pop(request_of.pop(event.delivery_id, -1), None)
                    if start is not None:
                        answered(start)
                    report(event)
            except StopDelivery:
                raise
            except DeliveryError as exc:
                answered_all()
                for r in sendable:
                    if r.delivery_id not in results:
                        report(result_from_error(r.delivery_id, exc, r.delivery_id in requested))
            except Exception as exc:  # an adapter bug must not lose rows
                log.exception("%s adapter crashed", self.name)
                for r in sendable:
                    if r.delivery_id not in results:
                        report(crashed_result(r.delivery_id, r.delivery_id in requested, repr(exc)))
        for r in batch.recipients:
            if r.delivery_id not in results:
                report(crashed_result(r.delivery_id, r.delivery_id in requested, "アダプタが結果を返しませんでした"))
        flush()
        final = list(results.values())
        self._observe(lambda o: o.results(self.name, final))
        return final

    def _observe(self, tell: Callable[[Observer], None]) -> None:
        if self.context.observer is None:
            return
        try:
            tell(self.context.observer)
        except Exception:  # measuring must never disturb a send
            log.exception("%s: the delivery observer failed", self.name)

    def _skip(self, recipient: Recipient, report: Callable[[DeliveryResult], None]) -> bool:
        reason = self.check_address(recipient.address)
        if reason is None:
            return False
        report(DeliveryResult(recipient.delivery_id, Outcome.SKIPPED, reason=reason, error=skip_message(reason)))
        return True


def _iterate(events: Iterable[SendEvent]) -> Iterator[SendEvent]:
    yield from events


def crashed_result(delivery_id: int, requested: bool, what: str) -> DeliveryResult:
    """Our own failure: unknown only if a request for the row was under way, else a clean retry."""
    if requested:
        return DeliveryResult(delivery_id, Outcome.UNKNOWN, attempted=True,
                              error=f"送信処理が途中で止まりました（送信済みの可能性があります）: {what}")
    return DeliveryResult(delivery_id, Outcome.RETRY, attempted=False,
                          error=f"送信処理が止まったため未送信です: {what}")


def result_from_error(delivery_id: int, exc: DeliveryError, requested: bool) -> DeliveryResult:
    if isinstance(exc, RateLimited):
        return DeliveryResult(delivery_id, Outcome.RETRY, error=exc.message, error_code=exc.code,
                              retry_after=exc.retry_after, attempted=False)
    if isinstance(exc, Unreachable):
        return DeliveryResult(delivery_id, Outcome.RETRY, error=exc.message, error_code=exc.code, attempted=False)
    if isinstance(exc, TransientError):
        return DeliveryResult(delivery_id, Outcome.RETRY, error=exc.message, error_code=exc.code,
                              attempted=requested)
    if isinstance(exc, PermanentError):
        return DeliveryResult(delivery_id, Outcome.FAILED, error=exc.message, error_code=exc.code,
                              attempted=requested)
    if not requested:  # a request that was never made cannot be in doubt
        return DeliveryResult(delivery_id, Outcome.RETRY, error=exc.message, error_code=exc.code, attempted=False)
    return DeliveryResult(delivery_id, Outcome.UNKNOWN, error=exc.message, error_code=exc.code, attempted=True)


SKIP_MESSAGES = {
    "not_mobile": "携帯電話番号ではないためSMSを送信できません",
    "invalid_address": "宛先の形式が正しくありません",
    "no_consent": "このチャネルでの連絡に同意がありません",
    "opted_out": "本人の申し出により、このチャネルでの配信を停止しています",
    "exercise_only": "訓練対象ではありません",
    "too_long": "本文がこのチャネルの上限を超えています",
    "category_unwanted": "本人が希望していない分類のお知らせのため送信しません",
    "inactive": "連絡先が無効になっているため送信しません",
    "erased": "本人の請求により連絡先を消去したため送信しません",
    "address_bounced": ("このアドレスは相手のメールサーバーから「宛先不明」と返されたため送信しません"
                        "（アドレスを変更すると再開）"),
}


def skip_message(reason: str) -> str:
    return SKIP_MESSAGES.get(reason, reason)


def prefix_for(draft: Draft) -> str:
    """【訓練】 always comes first: a 'this is a test' buried mid-text has been sent as live before.

    The hub's marks (【訓練】【試験】【取消】【訂正】【続報】) stay first in every language: staff and the
    hub's own checks recognise them. In another language each is followed by the language's own
    word (【訓練】[EXERCISE], 【取消】[CANCELLED]; channels/locale.py).
    """
    japanese = is_japanese(draft.language)
    marks = marks_for(draft.language)
    parts = []
    if draft.mode != "actual":
        exercise = draft.mode == "exercise"
        parts.append(EXERCISE_PREFIX if exercise else "【試験】")
        if not japanese:
            parts.append(marks.drill if exercise else marks.test)
        elif exercise and draft.language == EASY_JAPANESE_CODE:
            parts.append(EASY_DRILL)
    if draft.msg_type == "cancel":
        parts.append(CANCEL_PREFIX)
        if not japanese:
            parts.append(marks.cancel)
    elif draft.msg_type == "update":
        parts.append(f"【{draft.update_label}】")
        word = {"訂正": marks.correction, "続報": marks.update}.get(draft.update_label)
        if not japanese and word:
            parts.append(word)
    return "".join(parts)
