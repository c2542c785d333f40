from __future__ import annotations

import click

from hub.accounts.sealing import seal_stored
from hub.cli.context import HubContext, pass_hub
from hub.migrate import upgrade


@click.group("db")
def db_cli() -> None:
    """データベース / database."""


@db_cli.command("upgrade")
@pass_hub
def db_upgrade(hub: HubContext) -> None:
    """Apply all migrations (safe to run repeatedly)."""
    upgrade(hub.runtime.settings.database_url)
    with hub.runtime.session() as session:
        sealed = seal_stored(session, hub.runtime.settings.secret_key)
    if sealed:
        click.echo(f"{sealed} 人の二要素認証の鍵を暗号化しました / sealed {sealed} operators' TOTP seeds")
    click.echo("データベースは最新です / database is up to date")
