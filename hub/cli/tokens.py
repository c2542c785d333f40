"""``hub token issue|list|revoke``: API tokens of the operator in ``HUB_TOKEN`` (an admin: anyone's)."""

from __future__ import annotations

import json

import click

from hub.accounts import tokens
from hub.cli.admin import acting, show
from hub.cli.context import HubContext, pass_hub


def _line(t: dict[str, object]) -> str:
    state = "有効" if t["active"] else ("失効" if t["revoked_at"] else "期限切れ")
    return f"{t['id']}\t{t['operator']}\t{t['name']}\t期限={t['expires_at'] or '-'}\t{state}"


@click.group("token")
def token_cli() -> None:
    """APIトークン / API tokens."""


@token_cli.command("issue")
@click.option("--name", required=True, help="用途がわかる名前 / what it is for")
@click.option("--expires-in", "days", type=int, default=tokens.DEFAULT_DAYS, show_default=True,
              help="有効日数 / days")
@click.option("--operator", default=None, help="（管理者）この担当者のトークンを発行")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def issue_cmd(hub: HubContext, name: str, days: int, operator: str | None, as_json: bool) -> None:
    """トークンを発行（この一度だけ表示）/ issue a token (shown once)."""
    with acting(hub) as (s, actor):
        token, view = tokens.issue(s, actor, name, days, operator)
    if as_json:
        click.echo(json.dumps({"token": token, **view}, ensure_ascii=False))
        return
    click.echo(_line(view))
    click.echo(f"トークン（この一度だけ表示されます / shown once）: {token}")


@token_cli.command("list")
@click.option("--operator", default=None, help="（管理者）この担当者のトークン")
@click.option("--all", "everyone", is_flag=True, help="（管理者）全員のトークン")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def list_cmd(hub: HubContext, operator: str | None, everyone: bool, as_json: bool) -> None:
    with acting(hub) as (s, actor):
        rows = tokens.listing(s, actor, operator, everyone=everyone)
    show(rows, as_json, lambda rs: "\n".join(_line(r) for r in rs))


@token_cli.command("revoke")
@click.argument("token_id", type=int)
@pass_hub
def revoke_cmd(hub: HubContext, token_id: int) -> None:
    """トークンを失効（その担当者のセッションも終了）/ revoke a token."""
    with acting(hub) as (s, actor):
        view = tokens.revoke(s, actor, token_id)
    click.echo(_line(view))
