"""LINE official account messages through the Messaging API (multicast).

A batch holds at most 500 rows, so it is one multicast per language of its content. Every request
carries an ``X-Line-Retry-Key`` derived from the batch and the language only: the rows of a batch
and their languages never change, so a retry is exactly the same request with the same key, and
LINE answers 409 for what it already accepted instead of sending a second copy.

A personalised batch (``Batch.personal``: each recipient has a text of their own) cannot be
multicast: it is one push per recipient, each with its own retry key derived from the batch and
the row, so the same guarantee holds per person.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from channels.base import (
    Batch,
    Capability,
    Channel,
    ChannelConfig,
    ChannelContext,
    DeliveryResult,
    Draft,
    Outcome,
    Poll,
    Question,
    Recipient,
    Rendered,
    Requesting,
    SendEvent,
    prefix_for,
)
from channels.errors import PermanentError, RateLimited, TransientError, Unreachable
from channels.inbound import MalformedPost, SignatureError, UserEvent
from channels.net import may_have_reached_provider
from channels.text import join_nonempty, signature, with_prefix

if TYPE_CHECKING:
    from linebot.v3.messaging import MessagingApi

    from hub.config import Settings

MAX_CHARS = 5000
MULTICAST_MAX = 500
USER_ID_RE = re.compile(r"^U[0-9a-f]{32}$")
RETRY_KEY_NAMESPACE = uuid.UUID("6f1c2b0e-4f0a-5d5e-9a51-6c9e1b2d3a40")
RATE_LIMIT_DEFAULT_WAIT = 10.0
BUTTON_TEXT_MAX = 160  # a buttons template without title or image
ALT_TEXT_MAX = 400
QUICK_REPLY_MAX = 13
BUTTON_LABEL_MAX = 20  # a quick-reply button's label; a longer one is refused by LINE
# A multicast carries one text for everyone, so no personal link: residents send this word to the
# account instead and the hub answers with their own preferences link (hub/residents/line_flow.py).
SETTINGS_KEYWORD = "設定"
SETTINGS_HINTS = {
    "ja": "配信設定（分類・地域・言語・停止）の変更は「設定」と送信してください。",
    "ja-easy": "うけとる じょうほうを かえるときは「設定」と おくってください。",
    "en": "To change what you receive (topics, area, language, stop), send 「設定」 to this account.",
}


@dataclass(frozen=True)
class LineConfig(ChannelConfig):
    access_token: str = field(default="", metadata={"secret": True})
    channel_secret: str = field(default="", metadata={"secret": True})  # for webhooks (ack, follow)
    base_url: str | None = None  # None: the real api.line.me
    notification_disabled: bool = False
    # Live, but with the secret published in this repository (the sandbox's): anyone can sign with
    # it, so no webhook signed with it is trusted (Settings.published_secret).
    published_secret: bool = False
    settings_hint: bool = False  # end each message with how to reach one's settings (SETTINGS_HINTS)

    @classmethod
    def from_settings(cls, settings: Settings) -> LineConfig:
        """From settings only: ``line_base_url`` if set (e.g. the sandbox), else the real api.line.me."""
        return cls(
            sandbox=settings.uses_sandbox("line"),
            access_token=settings.line_channel_access_token,
            channel_secret=settings.line_channel_secret,
            base_url=settings.line_base_url or None,
            published_secret=settings.published_secret("line"),
            settings_hint=settings.line_settings_hint,
        )


def retry_key(idempotency_key: str, language: str) -> str:
    """The X-Line-Retry-Key of one request: the batch and the language fix which rows it carries.

    Nothing else may go into it: a key that changed between tries (e.g. with the set of rows still
    pending) would let LINE accept the retry as a new request and send a second copy.
    """
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, f"{idempotency_key}|{language}"))


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _retry_after(headers: Mapping[str, Any] | None) -> float:
    value = _header(headers, "retry-after")
    try:
        return float(value) if value is not None else RATE_LIMIT_DEFAULT_WAIT
    except ValueError:
        return RATE_LIMIT_DEFAULT_WAIT


def _api_message(body: Any) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    return text[:300]


class LineChannel(Channel):
    name = "line"
    label = "LINE"
    capabilities = Capability.PERSONAL | Capability.RECONCILE
    config_class = LineConfig
    batch_size = MULTICAST_MAX  # one request per language: a retry can never regroup rows
    max_chars = MAX_CHARS
    address_field = "line_user_id"
    config: LineConfig

    def __init__(self, config: ChannelConfig, context: ChannelContext | None = None) -> None:
        super().__init__(config, context)
        self._api: MessagingApi | None = None

    def api(self) -> MessagingApi:
        if self._api is None:
            from channels.clients import make_line_api

            self._api = make_line_api(self.config.access_token, self.config.base_url, self.context.timeout)
        return self._api

    def render(self, draft: Draft) -> Rendered:
        prefix = prefix_for(draft)
        hint = SETTINGS_HINTS.get(draft.language, SETTINGS_HINTS["en"]) if self.config.settings_hint else None
        text = with_prefix(prefix, join_nonempty(draft.override or join_nonempty(draft.title, draft.body),
                                                 signature(draft.sender_name), draft.link))
        # A survey's question comes last, right above the quick-reply buttons that answer it.
        question = f"\n\n{draft.poll.text}" if draft.poll is not None else ""
        warnings = []
        if draft.poll is not None and any(len(label) > BUTTON_LABEL_MAX for _key, label in draft.poll.choices):
            # A translation too long for a button: the buttons are cut, the text says them whole.
            question += "\n" + draft.poll.listing()
            warnings.append(f"LINEのボタンには選択肢の{BUTTON_LABEL_MAX}文字までしか表示されません"
                            "（本文の最後に選択肢を全文で添えます）")
        errors = []
        if len(text) + len(question) > MAX_CHARS:
            errors.append(f"LINEは{MAX_CHARS}文字までです（現在{len(text) + len(question)}文字）")
        elif hint and len(text) + len(hint) + 2 + len(question) <= MAX_CHARS:  # the officer's words come first
            text = join_nonempty(text, hint, sep="\n\n")
        return Rendered(subject=None, text=text + question, errors=tuple(errors), warnings=tuple(warnings), units=1,
                        meta={"poll": draft.poll} if draft.poll is not None else {})

    def check_address(self, address: str) -> str | None:
        return None if USER_ID_RE.match(address) else "invalid_address"

    def requests_for(self, batch: Batch) -> list[tuple[str, str, list[Recipient]]]:
        """(language, key suffix, recipients) per request: one per language of content, stable order.

        Batches planned before batches were capped at 500 rows can be larger: they are cut into
        requests of 500 by delivery id, each with a key of its own.
        """
        if batch.personal:
            return [("", f"p{r.delivery_id}", [r]) for r in sorted(batch.recipients, key=lambda r: r.delivery_id)]
        groups: dict[str, list[Recipient]] = {}
        for recipient in sorted(batch.recipients, key=lambda r: r.delivery_id):
            language = recipient.language if recipient.language in batch.contents else "ja"
            groups.setdefault(language, []).append(recipient)
        requests = []
        for language, members in sorted(groups.items()):
            chunks = [members[i : i + MULTICAST_MAX] for i in range(0, len(members), MULTICAST_MAX)]
            for n, chunk in enumerate(chunks):
                requests.append((language, f"{language}#{n}" if len(chunks) > 1 else language, chunk))
        return requests

    @staticmethod
    def messages_for(content: Rendered) -> list[Any]:
        """The LINE messages of one content: its text, and a question's buttons when it asks one."""
        from linebot.v3.messaging import (
            ButtonsTemplate,
            PostbackAction,
            QuickReply,
            QuickReplyItem,
            TemplateMessage,
            TextMessage,
        )

        question = content.meta.get("question")
        if not isinstance(question, Question):
            poll = content.meta.get("poll")
            if isinstance(poll, Poll):
                return [TextMessage(text=content.text, quick_reply=poll_quick_reply(poll))]
            return [TextMessage(text=content.text)]
        messages: list[Any] = [TextMessage(text=content.text)] if content.text else []
        if question.choices:
            actions = [PostbackAction(label=c.label, display_text=c.label, data=c.data) for c in question.choices]
            template = ButtonsTemplate(text=question.text[:BUTTON_TEXT_MAX], actions=actions)
            messages.append(TemplateMessage(alt_text=question.text[:ALT_TEXT_MAX], template=template))
        else:
            items = [QuickReplyItem(action=PostbackAction(label=c.label, display_text=c.label, data=c.data))
                     for c in question.suggestions[:QUICK_REPLY_MAX]]
            messages.append(TextMessage(text=question.text, quick_reply=QuickReply(items=items) if items else None))
        return messages

    def reply(self, reply_token: str, content: Rendered) -> bool:
        """Answer one webhook event with its reply token (free: no message quota).

        False when LINE refused the token (already used, or too late) or did not answer: the
        caller may push instead.
        """
        from linebot.v3.messaging import ReplyMessageRequest
        from linebot.v3.messaging.exceptions import ApiException

        request = ReplyMessageRequest(reply_token=reply_token, messages=self.messages_for(content))
        try:
            self.api().reply_message(request, _request_timeout=self.context.timeout)
        except ApiException:
            return False
        except Exception as exc:
            if not _is_network_error(exc):
                raise
            return False
        return True

    def _send(self, batch: Batch) -> Iterable[SendEvent]:
        from linebot.v3.messaging import MulticastRequest, PushMessageRequest
        from linebot.v3.messaging.exceptions import ApiException

        api = self.api()
        base_key = batch.idempotency_key or f"message:{batch.message_id}:batch:{batch.batch_no}"
        for language, key_part, members in self.requests_for(batch):
            key = retry_key(base_key, key_part)
            self.context.throttle(batch.sender, 1)
            yield Requesting(tuple(r.delivery_id for r in members))
            try:
                if batch.personal:
                    push = PushMessageRequest(to=members[0].address,
                                              messages=self.messages_for(batch.content_for(members[0])),
                                              notification_disabled=self.config.notification_disabled)
                    response = api.push_message_with_http_info(
                        push, x_line_retry_key=key, _request_timeout=self.context.timeout)
                else:
                    request = MulticastRequest(
                        to=[r.address for r in members],
                        messages=self.messages_for(batch.contents[language]),
                        notification_disabled=self.config.notification_disabled,
                    )
                    response = api.multicast_with_http_info(
                        request, x_line_retry_key=key, _request_timeout=self.context.timeout
                    )
            except ApiException as exc:
                yield from self._api_error(exc, members)
                continue
            except Exception as exc:
                if not _is_network_error(exc):
                    raise
                if not may_have_reached_provider(exc):
                    raise Unreachable(f"LINEに接続できませんでした（未送信）: {type(exc).__name__}") from exc
                # A timeout could hide an accepted request, but the same retry key makes the retry
                # safe (LINE answers 409 if it had accepted it): a retry, not an unknown.
                for r in members:
                    yield DeliveryResult(r.delivery_id, Outcome.RETRY, error_code="timeout",
                                         error=f"LINEから応答がありませんでした: {type(exc).__name__}")
                raise TransientError("LINEから応答がなかったため、この宛先はまだ送っていません") from exc
            request_id = _header(response.headers, "x-line-request-id")
            for r in members:
                yield DeliveryResult(r.delivery_id, Outcome.SENT, provider_id=request_id)

    def _api_error(self, exc: Any, members: Sequence[Recipient]) -> Iterable[DeliveryResult]:
        status = int(exc.status or 0)
        detail = f"（LINE {status}: {_api_message(exc.body)}）"
        if status == 409:
            # Our earlier try with this retry key was accepted: these people have the message.
            accepted = _header(exc.headers, "x-line-accepted-request-id")
            for r in members:
                yield DeliveryResult(r.delivery_id, Outcome.SENT, provider_id=accepted)
            return
        if status == 429:
            raise RateLimited(
                "LINEの送信数の上限に達しました（月間の上限の場合は管理画面を確認してください）" + detail,
                retry_after=_retry_after(exc.headers),
                code="429",
            )
        if status == 401:
            raise PermanentError("LINEのチャネルアクセストークンが無効です" + detail, code="401")
        if status == 0 or status >= 500:
            for r in members:
                yield DeliveryResult(
                    r.delivery_id,
                    Outcome.RETRY,
                    error_code=str(status),
                    error="LINE側の一時的な障害です" + detail,
                )
            return
        for r in members:
            yield DeliveryResult(
                r.delivery_id,
                Outcome.FAILED,
                error_code=str(status),
                error="LINEが送信を受け付けませんでした" + detail,
            )

    def parse_webhook(self, body: str, signature: str) -> list[UserEvent]:
        """The events of a webhook post whose ``X-Line-Signature`` matches our channel secret."""
        from linebot.v3.webhook import SignatureValidator

        if not self.config.channel_secret:
            raise SignatureError("LINEのチャネルシークレットが設定されていません")
        if self.config.published_secret:
            raise SignatureError("公開されているサンドボックスのチャネルシークレットでは本番のWebhookを受け付けません")
        if not SignatureValidator(self.config.channel_secret).validate(body, signature):
            raise SignatureError("LINEの署名が一致しません")
        try:
            raw_events = json.loads(body)["events"]
        except (ValueError, LookupError, TypeError) as exc:
            raise MalformedPost(f"LINEのWebhookの形式が正しくありません ({type(exc).__name__})") from exc
        if not isinstance(raw_events, list) or not all(isinstance(e, dict) for e in raw_events):
            raise MalformedPost("LINEのWebhookの events が一覧ではありません")
        # One by one: the SDK's parser reads a post whole, so one event it cannot read (a new
        # ``mode``, a missing field) would refuse a follow or an answer beside it too.
        return [_user_event(raw) for raw in raw_events]

    def reconcile(self, recipients: Sequence[Recipient], batch: Batch) -> list[DeliveryResult]:
        # Resending with the same retry key cannot make a second copy: LINE answers 409.
        return [DeliveryResult(r.delivery_id, Outcome.NOT_SENT,
                               error="同じ再送キーで送るため、LINEが受け付け済みでも二重には届きません")
                for r in recipients]


def poll_quick_reply(poll: Poll) -> Any:
    """A resident survey's choices as quick-reply postback buttons (at most 9 of LINE's 13).

    The button shows the label (LINE: at most 20 characters); the chat shows ``1:はい`` as the
    resident's own message, which is their confirmation.
    """
    from linebot.v3.messaging import PostbackAction, QuickReply, QuickReplyItem

    return QuickReply(items=[
        QuickReplyItem(action=PostbackAction(label=button_label(label), display_text=f"{key}:{label}",
                                             data=poll.postback_data(key)))
        for key, label in poll.choices[:QUICK_REPLY_MAX]])


def button_label(label: str) -> str:
    return label if len(label) <= BUTTON_LABEL_MAX else label[:BUTTON_LABEL_MAX - 1] + "…"


def _user_event(raw: Mapping[str, Any]) -> UserEvent:
    """The SDK's reading of one event; LINE's JSON fields where it cannot read it, or reads it as
    unknown (an unknown event keeps ``source`` as a plain dict, losing the user)."""
    from linebot.v3.models.events import UnknownEvent
    from linebot.v3.webhooks import Event

    try:
        event = Event.from_dict(raw)
    except (ValueError, LookupError, TypeError, AttributeError):
        event = None
    if event is not None and not isinstance(event, UnknownEvent):
        message = getattr(event, "message", None)
        return UserEvent(
            kind=str(getattr(event, "type", "") or ""),
            user_id=_text_or_none(getattr(getattr(event, "source", None), "user_id", None)),
            data=_text_or_none(getattr(getattr(event, "postback", None), "data", None)),
            text=_text_or_none(getattr(message, "text", None) if message is not None else None),
            event_id=_text_or_none(getattr(event, "webhook_event_id", None)),
            redelivery=bool(getattr(getattr(event, "delivery_context", None), "is_redelivery", False)),
            reply_token=_text_or_none(getattr(event, "reply_token", None)),
        )

    def part(key: str) -> Mapping[str, Any]:
        value = raw.get(key)
        return value if isinstance(value, Mapping) else {}

    message_part = part("message")
    return UserEvent(
        kind=_text_or_none(raw.get("type")) or "",
        user_id=_text_or_none(part("source").get("userId")),
        data=_text_or_none(part("postback").get("data")),
        text=_text_or_none(message_part.get("text")) if message_part.get("type") == "text" else None,
        event_id=_text_or_none(raw.get("webhookEventId")),
        redelivery=part("deliveryContext").get("isRedelivery") is True,
        reply_token=_text_or_none(raw.get("replyToken")),
    )


def _text_or_none(value: Any) -> str | None:
    # An unknown event keeps its raw JSON: a number or object where text belongs is no text.
    return value if isinstance(value, str) else None


def _is_network_error(exc: BaseException) -> bool:
    import urllib3.exceptions

    return isinstance(exc, urllib3.exceptions.HTTPError | OSError)
