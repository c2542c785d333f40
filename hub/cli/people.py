"""``hub contacts import``, ``erase`` and ``retention``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.cli.context import HubContext, pass_hub
from hub.contacts.erasure import REASON_MAX as ERASE_REASON_MAX
from hub.contacts.erasure import erase_contact
from hub.contacts.importer import import_file, resident_registry
from hub.contacts.retention import apply_retention
from hub.models import Contact
from hub.models.base import MAX_INT_ID
from hub.policy import Action, may_manage_contact


@click.group("contacts")
def contacts_cli() -> None:
    """連絡先 / contacts."""


@contacts_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def import_cmd(hub: HubContext, path: Path, as_json: bool) -> None:
    """CSVから住民・職員を取り込む（不正な行は行番号と理由を表示）/ import contacts from CSV."""
    principal = hub.principal
    try:
        with hub.runtime.session() as session:
            report = import_file(session, path, actor=principal.username, principal=principal,
                                 secret_key=hub.runtime.settings.secret_keys,
                                 registry=resident_registry(session, hub.runtime.settings))
    except ValueError as exc:  # unreadable file: nothing was imported
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        for err in report.errors:
            click.echo(f"{path.name}:{err.line}: {err.reason}", err=True)
        click.echo(f"取り込み: 新規 {report.created} 件, 更新 {report.updated} 件, エラー {len(report.errors)} 件")
        if report.kept_revoked:
            click.echo(f"配信停止済みのため同意を戻さなかったもの: {report.kept_revoked} 件"
                       "（停止より後の consent_date がある行だけが新しい同意です）")
    if report.errors:
        raise SystemExit(1 if report.imported == 0 else 2)


@contacts_cli.command("erase")
@click.argument("contact_id", type=click.IntRange(1, MAX_INT_ID))
@click.option("--reason", required=True, help="削除請求の受付番号など（監査記録と同意の記録に残る）")
@click.option("--yes", is_flag=True, help="確認せずに消去する")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def erase_cmd(hub: HubContext, contact_id: int, reason: str, yes: bool, as_json: bool) -> None:
    """本人の請求により連絡先を消去する（配信記録は宛先を伏せて残す）/ erase a person's details."""
    principal = hub.principal
    reason = " ".join(reason.split())
    if not reason or len(reason) > ERASE_REASON_MAX:
        raise click.BadParameter(f"1〜{ERASE_REASON_MAX}文字で指定してください", param_hint="--reason")
    settings = hub.runtime.settings
    with hub.runtime.session() as session:
        contact = session.get(Contact, contact_id)
        registry = resident_registry(session, settings)
        if contact is None or not may_manage_contact(principal, contact.department_id, registry):
            # The same answer for "no such contact" and "not yours": ids are not probed this way.
            raise click.ClickException(f"連絡先 {contact_id} を消去できません（存在しないか、権限がありません）")
        if not yes and not as_json:
            click.confirm(f"連絡先 {contact_id} の氏名と連絡先を消去します。元に戻せません。よろしいですか", abort=True)
        done = erase_contact(session, contact, settings.secret_keys, f"operator:{reason}", principal.username)
        session.commit()
    if as_json:
        click.echo(json.dumps(done.as_dict(), ensure_ascii=False))
    elif done.already:
        click.echo(f"連絡先 {contact_id} は消去済みです")
    else:
        click.echo(f"連絡先 {contact_id} を消去しました: 宛先を伏せた配信記録 {done.masked} 件、"
                   f"送信を取りやめた配信 {done.skipped} 件、送信中で確定後に伏せるもの {done.in_hand} 件")


@contacts_cli.command("retention")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def retention_cmd(hub: HubContext, as_json: bool) -> None:
    """保存期間を過ぎた宛先を伏せ、配信を止めた住民を消去する（HUB_*_RETENTION_DAYS）/ apply the retention periods."""
    hub.authorized(Action.ADMINISTER)
    settings = hub.runtime.settings
    total = {"messages": 0, "rows": 0, "csv_rows": 0, "erased": 0}
    while True:
        with hub.runtime.session() as session:
            report = apply_retention(session, settings)
            session.commit()
        total["messages"] += report.messages
        total["rows"] += report.rows
        total["csv_rows"] += report.csv_rows
        total["erased"] += len(report.erased)
        if not report.more:
            break
    if as_json:
        click.echo(json.dumps({"history_retention_days": settings.history_retention_days,
                               "stopped_retention_days": settings.stopped_retention_days, **total}))
        return
    if not (settings.history_retention_days or settings.stopped_retention_days):
        click.echo("保存期間が設定されていません（HUB_HISTORY_RETENTION_DAYS / HUB_STOPPED_RETENTION_DAYS）")
        return
    click.echo(f"宛先を伏せた配信: {total['messages']} 件（{total['rows']} 行、差し込みの行 {total['csv_rows']} 件）、"
               f"消去した住民: {total['erased']} 人")
