"""Sending one relay step through the channel adapters, and the texts each channel carries.

LINE and voice need more than a broadcast text (answer buttons, a ``<Gather>``), so they use the
adapter's configured SDK client (``api()`` / ``client()``) directly; e-mail goes through the
adapter's public ``deliver()``. Every outcome becomes an :class:`AttemptState`: a provider
failure is logged and the chain moves on, it is never retried in place.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from channels.base import Batch, Channel, Outcome, Recipient, Rendered
from channels.errors import Unreachable
from channels.net import may_have_reached_provider
from hub.dispatch.batches import DEFAULT_SENDERS
from hub.models.relay import AttemptState
from hub.relay import surveys
from hub.relay.links import AnswerLink, answer_url
from hub.relay.texts import (
    exercise_prefix,
    line_question_messages,
    mail_html,
    mail_text,
    sms_text,
    voice_twiml,
)
from hub.runtime import Runtime

log = logging.getLogger(__name__)
RETRY_KEY_NAMESPACE = uuid.UUID("0d6f8f3e-6a59-5b7e-93a5-2f7d0c1e4b21")
ADDRESS_FIELDS = {"line": "line_user_id", "voice": "phone", "sms": "phone", "email": "email"}


@runtime_checkable
class LineApiAdapter(Protocol):
    def api(self) -> Any: ...


@runtime_checkable
class TwilioAdapter(Protocol):
    def client(self) -> Any: ...
    def sender_for(self, batch: Batch) -> str: ...


@dataclass(frozen=True)
class Step:
    """What a worker read in the claiming transaction: enough to send without the database."""

    attempt_id: int
    callout_id: int
    target_id: int
    channel: str
    address: str
    mode: str
    title: str
    snapshot: dict[str, Any]
    issued_at: datetime
    sender: str | None = None
    sender_name: str | None = None


@dataclass(frozen=True)
class StepResult:
    state: AttemptState
    provider_id: str | None = None
    error: str | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def retry_key(name: str) -> str:
    """X-Line-Retry-Key from a row: a resend after a crash is answered 409, never delivered twice."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, name))


def voice_action(rt: Runtime, attempt_id: int) -> str:
    return f"{rt.settings.public_url.rstrip('/')}/relay/voice/gather/{attempt_id}"


def voice_status_url(rt: Runtime, attempt_id: int) -> str:
    return f"{rt.settings.public_url.rstrip('/')}/relay/voice/status/{attempt_id}"


def _link(rt: Runtime, step: Step) -> str:
    return answer_url(rt.settings, AnswerLink(step.callout_id, step.target_id, step.channel), step.issued_at)


def _batch(step: Step, content: Rendered) -> Batch:
    # Message 0 is never a row of ``messages``: e-mail Message-IDs of call-outs stay apart from broadcasts.
    return Batch(message_id=0, batch_no=step.attempt_id,
                 recipients=[Recipient(step.attempt_id, step.address, "ja")], contents={"ja": content},
                 sender=step.sender or DEFAULT_SENDERS.get(step.channel), mode=step.mode,
                 idempotency_key=f"relay:{step.attempt_id}")


def send_step(rt: Runtime, step: Step) -> StepResult:
    channel = rt.channel(step.channel)
    reason = channel.check_address(step.address)
    if reason is not None:
        return StepResult(AttemptState.SKIPPED, reason=reason,
                          error="宛先の形式が正しくないため連絡できません")
    try:
        if step.channel == "line":
            return _send_line(rt, channel, step)
        if step.channel in ("voice", "sms"):
            return _send_twilio(rt, channel, step)
        return _send_mail(rt, channel, step)
    except Unreachable as exc:  # nothing left this machine (e.g. the rate limiter is away): next step
        return StepResult(AttemptState.FAILED, error=exc.message)
    except Exception as exc:  # an unexpected adapter error must not stall the chain
        log.exception("relay step %s on %s crashed", step.attempt_id, step.channel)
        return StepResult(AttemptState.UNKNOWN, error=f"内部エラー: {exc!r}")


def reconcile_step(rt: Runtime, step: Step) -> StepResult | None:
    """After a worker died mid-step: what the provider has. None means "not sent, safe to send"."""
    if step.channel == "line":
        return None  # the same retry key makes LINE answer 409 if it had accepted the push
    channel = rt.channel(step.channel)
    if step.channel == "sms":
        content = Rendered(subject=None, text=sms_text(step, _link(rt, step)))
    else:
        content = Rendered(subject=None, text="")
    results = channel.reconcile([Recipient(step.attempt_id, step.address)], _batch(step, content))
    outcome = results[0] if results else None
    if outcome is None or outcome.outcome == Outcome.NOT_SENT:
        return None
    if outcome.outcome in (Outcome.SENT, Outcome.DELIVERED):
        return StepResult(AttemptState.SENT, provider_id=outcome.provider_id)
    return StepResult(AttemptState.UNKNOWN,
                      error=outcome.error or "送信結果が不明です（送信処理が中断されました）")


def _send_line(rt: Runtime, channel: Channel, step: Step) -> StepResult:
    from linebot.v3.messaging import PushMessageRequest

    if not isinstance(channel, LineApiAdapter):
        return StepResult(AttemptState.FAILED, error="LINEの送信機能が使えません")
    first = surveys.next_question(step.snapshot, {}, kinds=("choice", "number"))
    messages = line_question_messages(step, first, _link(rt, step), opening=True)
    channel.context.throttle(None, 1)
    return push_line(channel, PushMessageRequest(to=step.address, messages=messages),
                     retry_key(f"relay:attempt:{step.attempt_id}"), rt.settings.provider_timeout)


def push_line(channel: LineApiAdapter, request: Any, key: str, timeout: float) -> StepResult:
    from linebot.v3.messaging.exceptions import ApiException

    try:
        response = channel.api().push_message_with_http_info(request, x_line_retry_key=key,
                                                              _request_timeout=timeout)
    except ApiException as exc:
        status = int(exc.status or 0)
        if status == 409:  # accepted on an earlier try with this key
            accepted = _header(exc.headers, "x-line-accepted-request-id")
            return StepResult(AttemptState.SENT, provider_id=accepted)
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
        return StepResult(AttemptState.FAILED, error=f"LINEが受け付けませんでした（{status}: {body[:200]}）",
                          reason=str(status))
    except Exception as exc:
        if not may_have_reached_provider(exc):
            return StepResult(AttemptState.FAILED, error=f"LINEに接続できませんでした: {type(exc).__name__}")
        return StepResult(AttemptState.UNKNOWN, error=f"LINEから応答がありませんでした: {type(exc).__name__}")
    return StepResult(AttemptState.SENT, provider_id=_header(response.headers, "x-line-request-id"))


def _send_twilio(rt: Runtime, channel: Channel, step: Step) -> StepResult:
    from twilio.base.exceptions import TwilioRestException

    if not isinstance(channel, TwilioAdapter):
        return StepResult(AttemptState.FAILED, error="電話・SMSの送信機能が使えません")
    client = channel.client()
    sender = channel.sender_for(_batch(step, Rendered(subject=None, text="")))
    channel.context.throttle(step.sender, 1)
    try:
        if step.channel == "voice":
            first = surveys.next_question(step.snapshot, {}, kinds=("choice", "number"))
            twiml = voice_twiml(step, first, voice_action(rt, step.attempt_id), opening=True,
                                voice=str(getattr(channel.config, "voice", "Polly.Mizuki")))
            resource = client.calls.create(to=step.address, from_=sender, twiml=twiml,
                                           status_callback=voice_status_url(rt, step.attempt_id),
                                           status_callback_event=["completed"])
        else:
            body = sms_text(step, _link(rt, step))
            resource = client.messages.create(to=step.address, from_=sender, body=body)
    except TwilioRestException as exc:
        return StepResult(AttemptState.FAILED, reason=str(exc.code or exc.status),
                          error=f"Twilioが受け付けませんでした（{exc.status}/{exc.code}: {exc.msg}）")
    except Exception as exc:
        what = type(exc).__name__
        if not may_have_reached_provider(exc):
            return StepResult(AttemptState.FAILED, error=f"Twilioに接続できませんでした: {what}")
        return StepResult(AttemptState.UNKNOWN, error=f"Twilioから応答がありませんでした: {what}")
    return StepResult(AttemptState.SENT, provider_id=str(resource.sid))


def _send_mail(rt: Runtime, channel: Channel, step: Step) -> StepResult:
    link = _link(rt, step)
    prefix = exercise_prefix(step.mode)
    content = Rendered(subject=f"{prefix}{step.title}（回答のお願い）", text=mail_text(step, link),
                       html=mail_html(step, link),
                       meta={"sender_name": step.sender_name} if step.sender_name else {})
    result = channel.deliver(_batch(step, content))[0]
    if result.outcome in (Outcome.SENT, Outcome.DELIVERED):
        return StepResult(AttemptState.SENT, provider_id=result.provider_id)
    if result.outcome == Outcome.SKIPPED:
        return StepResult(AttemptState.SKIPPED, reason=result.reason, error=result.error)
    if result.outcome == Outcome.UNKNOWN:
        return StepResult(AttemptState.UNKNOWN, error=result.error)
    return StepResult(AttemptState.FAILED, error=result.error, reason=result.error_code)


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None
