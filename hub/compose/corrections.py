"""Cancel or correct a sent alert on every channel that carried it, in one action.

Hawaii 2018 needed 38 minutes to correct a false alert because nothing was prepared. Here a
follow-up is one call: whatever of the original is still queued is withdrawn, and a linked
message (CAP msgType Cancel/Update, ``references`` the original) goes to exactly the addresses
that may have received it, on the same channels. A cancellation with its prepared text is sent at
once, without waiting for a second person: retracting a wrong alert must never be slower than
sending it. New words (a correction, or a cancellation whose text or title was changed) get the
approval the original would get (:mod:`hub.compose.approval`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.compose.audience import RECEIVED_STATES
from hub.compose.messages import ComposeError, Composition, LocalText, create_message, withdraw
from hub.models import Delivery, Message, MsgType, Operator, audit
from hub.residents.questions import close_survey
from hub.runtime import Runtime


def carried_channels(session: Session, message_id: int) -> list[str]:
    """Channels on which at least one copy of the message may have gone out."""
    return sorted(session.scalars(
        select(Delivery.channel).distinct().where(Delivery.message_id == message_id,
                                                  Delivery.state.in_(RECEIVED_STATES))
    ))


def withdrawn_channels(session: Session, message_id: int) -> list[str]:
    return list(session.scalars(
        select(Delivery.channel).distinct().where(Delivery.message_id == message_id,
                                                  Delivery.reason == "withdrawn")
    ))


PERSONAL_TITLE = "先日のお知らせ"


def shown_title(original: Message) -> str:
    """The original's title as a follow-up may repeat it: a personalised send's title can be a template
    (「{{氏名}}様へ」), which must never reach anyone with its braces (hub/notices/)."""
    if original.audience.startswith("personal:") and ("{{" in original.title or "{%" in original.title):
        return PERSONAL_TITLE
    return original.title


def default_cancel_body(original: Message) -> str:
    return f"先ほどお送りした「{shown_title(original)}」は誤りのため取り消します。"


def is_prepared_cancel(original: Message, title: str | None, body: str | None) -> bool:
    """Only the prepared words: no text, or exactly the prepared cancellation and the original's title."""
    same_title = not (title or "").strip() or title in (original.title, shown_title(original))
    same_body = (body or "").strip() in ("", default_cancel_body(original))
    return same_title and same_body


def follow_up(session: Session, runtime: Runtime, original_id: int, *, kind: str, body: str | None = None,
              title: str | None = None, actor: str = "system", created_by: Operator | None = None,
              source: str = "follow-up", update_label: str = "訂正",
              override_reason: str | None = None, texts: Mapping[str, LocalText] | None = None,
              translate: Callable[[Composition], Composition] | None = None) -> Message:
    """Create the cancellation (``kind="cancel"``) or correction (``kind="correction"``). Caller commits.

    ``texts``: the follow-up in other languages (a template's reviewed correction/cancellation, or
    what the operator gave); ``translate``: fills the languages its readers still need
    (hub.translate.fill), given the follow-up as it will be sent.
    """
    original = session.get(Message, original_id)
    if original is None:
        raise ComposeError({"*": [f"メッセージ {original_id} はありません"]})
    if kind not in ("cancel", "correction"):
        raise ValueError(kind)
    if kind == "correction" and not (body or "").strip():
        raise ComposeError({"*": ["訂正の本文を入力してください"]})
    withdrawn = withdraw(session, original, actor, reason="取消" if kind == "cancel" else "訂正")
    if kind == "cancel" and close_survey(original):
        # Answers to a question that was called off would be counted as if it still stood.
        audit(session, actor, "survey.close", original, reason="取消")
    channels = carried_channels(session, original.id)
    if kind == "correction" and withdrawn:
        channels = sorted(set(channels) | set(withdrawn_channels(session, original.id)))
    if kind == "correction" and not channels and original.still_planning:
        # Its first rows are not written yet; they will be, withdrawn, and the correction (which
        # waits for the original's planning, hub.dispatch.tasks) reaches each of them instead.
        channels = list(original.channels)
    if not channels:
        # Nothing reached anybody: withdrawing the queue was the whole correction.
        return original
    composition = Composition(
        title=title or shown_title(original),
        body=body if body and body.strip() else default_cancel_body(original),
        channels=channels,
        audience=f"message:{original.id}",
        mode=original.mode,
        msg_type=MsgType.CANCEL if kind == "cancel" else MsgType.UPDATE,
        category_code=original.category_code,
        references_id=original.id,
        department_id=original.department_id,
        source=source,
        update_label=update_label,
        # Texts the caller gives in other languages are a person's words whatever origin they claim
        # (the hub's own machine translation, ``translate`` below, comes after and keeps it prepared).
        prepared=kind == "cancel" and is_prepared_cancel(original, title, body) and not texts,
        override_reason=override_reason,
        texts=dict(texts or {}),
    )
    if translate is not None:
        composition = translate(composition)
    return create_message(session, runtime, composition, created_by=created_by, actor=actor)
