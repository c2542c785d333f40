"""``hub cancel`` and ``hub correct``: one action reaches every channel that carried the original;
``hub approve``: the second person's approval of a waiting message."""

from __future__ import annotations

import click
from sqlalchemy.orm import Session

from hub.cli.context import HubContext, pass_hub
from hub.cli.messages import _print_status, _sandbox_note, _wait
from hub.compose.corrections import follow_up
from hub.compose.messages import ApprovalError, ComposeError, approve, reject
from hub.dispatch.tasks import release
from hub.models import Message, MessageState, Operator
from hub.policy import Action, may_follow_up


def _run(hub: HubContext, message_id: int, kind: str, body: str | None, wait: bool, as_json: bool) -> None:
    rt = hub.runtime
    principal = hub.principal
    with rt.session() as session:
        original = session.get(Message, message_id)
        if original is None:
            raise click.ClickException(f"メッセージ {message_id} はありません")
        if not may_follow_up(principal, original):
            raise click.ClickException("他の部署のメッセージは取消・訂正できません（権限がありません）")
        try:
            message = follow_up(session, rt, message_id, kind=kind, body=body, actor=principal.username,
                                created_by=session.get(Operator, principal.id))
        except ComposeError as exc:
            raise click.ClickException(str(exc)) from exc
        new_id, state, channels = message.id, message.state, list(message.channels)
    if new_id == message_id:
        click.echo("まだ誰にも届いていなかったため、送信待ちを取り下げました", err=True)
        return
    release(new_id, state)
    if state == MessageState.AWAITING_APPROVAL and not as_json:
        click.echo(f"メッセージ {new_id} は承認待ちです（新しい文言は別の担当者の確認が必要です）", err=True)
    if wait and state != MessageState.AWAITING_APPROVAL:
        _wait(rt, new_id, 600, show_progress=not as_json)
    _print_status(rt, new_id, as_json, _sandbox_note(rt, channels))


@click.command("cancel")
@click.argument("message_id", type=int)
@click.option("--body", default=None, help="取消文（省略時は定型文）/ cancellation text")
@click.option("--wait", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def cancel_cmd(hub: HubContext, message_id: int, body: str | None, wait: bool, as_json: bool) -> None:
    """送信済みメッセージを全チャネルで取消 / cancel a sent message on every channel that carried it."""
    _run(hub, message_id, "cancel", body, wait, as_json)


@click.command("correct")
@click.argument("message_id", type=int)
@click.option("--body", required=True, help="訂正後の本文 / corrected text")
@click.option("--wait", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def correct_cmd(hub: HubContext, message_id: int, body: str, wait: bool, as_json: bool) -> None:
    """送信済みメッセージを全チャネルで訂正 / send a linked correction on every channel that carried it."""
    _run(hub, message_id, "correction", body, wait, as_json)


@click.command("approve")
@click.argument("message_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def approve_cmd(hub: HubContext, message_id: int, as_json: bool) -> None:
    """承認待ちのメッセージを承認 / approve a waiting message (an approver of its department, not its creator)."""
    rt = hub.runtime
    with rt.session() as session:
        message, operator = _approver_and_message(hub, session, message_id, "承認")
        try:
            approve(session, message, operator, rt.settings)
        except ApprovalError as exc:
            raise click.ClickException(str(exc)) from exc
        state, channels = str(message.state), list(message.channels)
    release(message_id, state)
    _print_status(rt, message_id, as_json, _sandbox_note(rt, channels))


@click.command("reject")
@click.argument("message_id", type=int)
@click.option("--reason", required=True, help="却下の理由（作成者に残ります）/ why it must not go out")
@pass_hub
def reject_cmd(hub: HubContext, message_id: int, reason: str) -> None:
    """承認待ちのメッセージを却下 / refuse a waiting message: it never goes out."""
    with hub.runtime.session() as session:
        message, operator = _approver_and_message(hub, session, message_id, "却下")
        try:
            reject(session, message, operator, reason)
        except ApprovalError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"メッセージ {message_id} を却下しました（送信されません）")


def _approver_and_message(hub: HubContext, session: Session, message_id: int, verb: str) -> tuple[Message, Operator]:
    """The waiting message and its approver (an approver of its department or an admin), or a refusal."""
    message = session.get(Message, message_id)
    if message is None:
        raise click.ClickException(f"メッセージ {message_id} はありません")
    operator = session.get(Operator, hub.principal.id)
    if operator is None or not hub.principal.may(Action.APPROVE, message.department_id):
        raise click.ClickException(f"このメッセージを{verb}する権限がありません（その部署の承認者か管理者のみ）")
    return message, operator
