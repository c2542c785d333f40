"""``hub contacts import``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hub.cli.context import HubContext, pass_hub
from hub.contacts.importer import import_file, resident_registry


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
