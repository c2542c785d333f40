"""``hub token issue|list|revoke``: API tokens of the operator in ``HUB_TOKEN`` (an admin: anyone's)."""

from __future__ import annotations

import json

import click

from hub.accounts import load_operator, principal_of, tokens
from hub.accounts.login import log_in
from hub.cli.admin import acting, show
from hub.cli.context import HubContext, pass_hub

CLI_ADDRESS = "cli"  # what the throttle counts per "address" for logins at this machine's terminal


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
@click.option("--login", "username", default=None,
              help="HUB_TOKEN の代わりにパスワードでログインして自分のトークンを発行 / log in with a password instead")
@click.option("--code", default="", help="二要素認証の確認コード / TOTP code (with --login)")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def issue_cmd(hub: HubContext, name: str, days: int, operator: str | None, username: str | None, code: str,
              as_json: bool) -> None:
    """トークンを発行（この一度だけ表示）/ issue a token (shown once)."""
    if username is not None:
        if operator is not None:
            raise click.UsageError("--login と --operator は同時に使えません")
        _issue_after_login(hub, username, code, name, days, as_json)
        return
    with acting(hub) as (s, actor):
        token, view = tokens.issue(s, actor, name, days, operator)
    _print_issued(token, view, as_json)


def _issue_after_login(hub: HubContext, username: str, code: str, name: str, days: int, as_json: bool) -> None:
    """The first token of an operator who has none yet: the same checks as the web login (throttled,
    audited), and only once nothing is pending (a one-time password or a required TOTP enrolment)."""
    password = click.prompt("パスワード / password", hide_input=True)
    rt = hub.runtime
    with rt.session() as s:
        result = log_in(s, rt.login_throttle, username, password, code, CLI_ADDRESS, rt.settings.is_production,
                        rt.settings.secret_keys)
    if not result.ok or result.operator_id is None:
        raise click.ClickException(result.error or "")
    if result.pending:
        raise click.ClickException("先にWebでログインし、パスワードの変更（または二要素認証の設定）を済ませてください"
                                   " (log in on the web first: change the password / enrol TOTP).")
    with rt.session() as s:
        operator = load_operator(s, result.operator_id)
        assert operator is not None
        actor = principal_of(operator)
    with acting(hub, actor) as (s, actor):
        token, view = tokens.issue(s, actor, name, days)
    _print_issued(token, view, as_json)


def _print_issued(token: str, view: dict[str, object], as_json: bool) -> None:
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
