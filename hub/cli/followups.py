"""``hub cancel`` and ``hub correct``: one action reaches every channel that carried the original."""

from __future__ import annotations

import click

from hub.cli.context import HubContext, pass_hub
from hub.cli.messages import _print_status, _sandbox_note, _wait
from hub.compose.corrections import follow_up
from hub.compose.messages import ComposeError
from hub.dispatch.tasks import release


def _run(hub: HubContext, message_id: int, kind: str, body: str | None, wait: bool, as_json: bool) -> None:
    rt = hub.runtime
    with rt.session() as session:
        try:
            message = follow_up(session, rt, message_id, kind=kind, body=body, actor="cli")
        except ComposeError as exc:
            raise click.ClickException(str(exc)) from exc
        new_id, state, channels = message.id, message.state, list(message.channels)
    if new_id == message_id:
        click.echo("まだ誰にも届いていなかったため、送信待ちを取り下げました", err=True)
        return
    release(new_id, state)
    if wait:
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
