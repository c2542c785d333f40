"""Sending one relay step through the channel adapters' ``deliver()``, like any broadcast.

LINE and voice carry a question (answer buttons, a ``<Gather>``) in ``Rendered.meta``; the
adapters build the provider's objects and translate its errors, with one policy for broadcasts
and call-outs. Every outcome becomes an :class:`AttemptState`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.base import Batch, DeliveryResult, Outcome, Recipient, Rendered
from hub.dispatch.batches import DEFAULT_SENDERS
from hub.models.relay import AttemptState
from hub.relay import surveys
from hub.relay.links import AnswerLink, answer_url
from hub.relay.texts import exercise_prefix, line_content, mail_html, mail_text, sms_text, voice_content
from hub.runtime import Runtime

log = logging.getLogger(__name__)
ADDRESS_FIELDS = {"line": "line_user_id", "voice": "phone", "sms": "phone", "email": "email"}
FIRST_KINDS = ("choice", "number")  # what LINE buttons and the keypad can answer


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
    interval_seconds: int = 300


@dataclass(frozen=True)
class StepResult:
    state: AttemptState
    provider_id: str | None = None
    error: str | None = None
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


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


def step_content(rt: Runtime, step: Step) -> Rendered:
    """What this step says on its channel (the same every time the step is sent or checked)."""
    link = _link(rt, step)
    first = surveys.next_question(step.snapshot, {}, kinds=FIRST_KINDS)
    if step.channel == "line":
        return line_content(step, first, link, opening=True)
    if step.channel == "voice":
        spoken = voice_content(step, first, voice_action(rt, step.attempt_id), opening=True)
        return Rendered(subject=None, text=spoken.text,
                        meta={**spoken.meta, "status_callback": voice_status_url(rt, step.attempt_id)})
    if step.channel == "sms":
        # No status callback: the broadcast callback route knows delivery rows, not call-out attempts.
        return Rendered(subject=None, text=sms_text(step, link), meta={"status_callback": ""})
    return Rendered(subject=f"{exercise_prefix(step.mode)}{step.title}（回答のお願い）", text=mail_text(step, link),
                    html=mail_html(step, link), meta={"sender_name": step.sender_name} if step.sender_name else {})


def send_step(rt: Runtime, step: Step) -> StepResult:
    channel = rt.channel(step.channel)
    try:
        result = channel.deliver(_batch(step, step_content(rt, step)))[0]
    except Exception as exc:  # an unexpected adapter error must not stall the chain
        log.exception("relay step %s on %s crashed", step.attempt_id, step.channel)
        return StepResult(AttemptState.UNKNOWN, error=f"内部エラー: {exc!r}")
    return step_result(result)


def step_result(result: DeliveryResult) -> StepResult:
    if result.outcome in (Outcome.SENT, Outcome.DELIVERED):
        return StepResult(AttemptState.SENT, provider_id=result.provider_id)
    if result.outcome == Outcome.SKIPPED:
        return StepResult(AttemptState.SKIPPED, reason=result.reason,
                          error=result.error or "宛先の形式が正しくないため連絡できません")
    if result.outcome == Outcome.UNKNOWN:
        return StepResult(AttemptState.UNKNOWN, error=result.error)
    if result.outcome == Outcome.RETRY:
        return StepResult(AttemptState.RETRY, error=result.error, reason=result.error_code,
                          extra={"retry_after": result.retry_after, "attempted": bool(result.attempted)})
    return StepResult(AttemptState.FAILED, error=result.error, reason=result.error_code or result.reason)


def reconcile_step(rt: Runtime, step: Step) -> StepResult | None:
    """After a worker died mid-step: what the provider has. None means "not sent, safe to send"."""
    channel = rt.channel(step.channel)
    results = channel.reconcile([Recipient(step.attempt_id, step.address)], _batch(step, step_content(rt, step)))
    outcome = results[0] if results else None
    if outcome is None or outcome.outcome == Outcome.NOT_SENT:
        return None
    if outcome.outcome in (Outcome.SENT, Outcome.DELIVERED):
        return StepResult(AttemptState.SENT, provider_id=outcome.provider_id)
    return StepResult(AttemptState.UNKNOWN,
                      error=outcome.error or "送信結果が不明です（送信処理が中断されました）")
