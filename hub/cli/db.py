from __future__ import annotations

import click

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
    click.echo("データベースは最新です / database is up to date")
