from __future__ import annotations

import click

from hub.accounts.sealing import seal_stored
from hub.cli.context import HubContext, pass_hub
from hub.contacts import fingerprints
from hub.migrate import RoleError, grant_app_role, upgrade


@click.group("db")
def db_cli() -> None:
    """データベース / database."""


@db_cli.command("upgrade")
@pass_hub
def db_upgrade(hub: HubContext) -> None:
    """Apply all migrations (safe to run repeatedly)."""
    settings = hub.runtime.settings
    upgrade(settings.database_url)
    if settings.database_app_role:
        try:
            grant_app_role(settings.database_url, settings.database_app_role)
        except RoleError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"ロール {settings.database_app_role} の権限を設定しました（監査ログは追記のみ）"
                   f" / granted {settings.database_app_role} its privileges (audit log: append only)")
    with hub.runtime.session() as session:
        sealed = seal_stored(session, settings.secret_keys)
        resealed = fingerprints.reseal(session, settings.secret_keys)
    if sealed:
        click.echo(f"{sealed} 人の二要素認証の鍵を暗号化しました / sealed {sealed} operators' TOTP seeds")
    if resealed:
        click.echo("消去した人の識別用の鍵を現在の鍵で暗号化しました"
                   " / sealed the erasure fingerprint key with the current key")
    click.echo("データベースは最新です / database is up to date")
