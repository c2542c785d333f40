"""``hub admin …``: the first admin (bootstrap) and operator accounts. Admins only, like the API.

The acting admin is the owner of ``HUB_TOKEN`` (:class:`hub.cli.context.HubContext`); only
``bootstrap`` runs without one, and only while no admin exists.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from hub.accounts import admin
from hub.accounts.errors import AccountError
from hub.cli.context import HubContext, pass_hub
from hub.policy import Principal


@contextmanager
def acting(hub: HubContext, principal: Principal | None = None) -> Iterator[tuple[Session, Principal]]:
    """A session and the acting operator (default: HUB_TOKEN's); refusals become a non-zero exit."""
    principal = principal or hub.principal
    try:
        with hub.runtime.session() as session:
            yield session, principal
    except AccountError as exc:
        raise click.ClickException(_problem_text(exc)) from exc


def _problem_text(exc: AccountError) -> str:
    problems = exc.extra.get("problems") or {}
    lines = [exc.message, *(f"  {k}: {p}" for k, items in problems.items() for p in items)]
    return "\n".join(lines)


def show(data: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else text(data))


def operator_line(o: dict[str, Any]) -> str:
    roles = ", ".join(f"{d}:{r}" for d, r in o["roles"].items())
    flags = [f for f, on in (("admin", o["is_admin"]), ("override", o["can_override"]),
                             ("無効", o["disabled"]), ("要パスワード変更", o["must_change_password"])) if on]
    return (f"{o['username']}\t{o['display_name']}\t部署={o['department'] or '-'}\t{roles or '-'}"
            f"\t{' '.join(flags)}")


def print_secret(username: str, secret: str) -> None:
    # Printed once and never stored in clear: whoever runs the command hands it over in person.
    click.echo(f"{username} の初回パスワード（この一度だけ表示されます / shown once）: {secret}")
    click.echo("初回ログイン時に変更が必要です / must be changed at first login")


@click.group("admin")
def admin_cli() -> None:
    """管理（管理者のみ）: 担当者・部署・分類・地域 / administration (admins only)."""


@admin_cli.command("bootstrap")
@click.option("--username", required=True)
@click.option("--display-name", required=True)
@pass_hub
def bootstrap_cmd(hub: HubContext, username: str, display_name: str) -> None:
    """最初の管理者を作成（管理者がいない時だけ）/ create the first admin of an empty hub."""
    try:
        with hub.runtime.session() as session:
            _view, secret = admin.bootstrap(session, username, display_name)
    except AccountError as exc:
        raise click.ClickException(_problem_text(exc)) from exc
    click.echo(f"管理者 {username} を作成しました / admin created")
    print_secret(username, secret)


@admin_cli.group("operator")
def operator_cli() -> None:
    """担当者アカウント / operator accounts."""


@operator_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def operator_list(hub: HubContext, as_json: bool) -> None:
    with acting(hub) as (s, actor):
        rows = admin.list_operators(s, actor)
    show(rows, as_json, lambda rs: "\n".join(operator_line(o) for o in rs))


def _roles(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        dept, sep, role = value.partition("=")
        if not sep:
            raise click.BadParameter(f"部署コード=役割 で指定してください: {value}", param_hint="--role")
        out[dept.strip()] = role.strip()
    return out


@operator_cli.command("create")
@click.argument("username")
@click.option("--display-name", required=True)
@click.option("--department", default=None, help="所属部署のコード / home department code")
@click.option("--contact-id", type=int, default=None, help="本人の職員連絡先 / their own staff contact")
@click.option("--role", "roles", multiple=True, metavar="DEPT=ROLE", help="viewer | sender | approver")
@click.option("--admin", "is_admin", is_flag=True)
@click.option("--override", "can_override", is_flag=True, help="緊急時の単独送信を許可")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def operator_create(hub: HubContext, username: str, display_name: str, department: str | None,
                    contact_id: int | None, roles: tuple[str, ...], is_admin: bool, can_override: bool,
                    as_json: bool) -> None:
    """担当者を作成し初回パスワードを表示 / create an operator; prints a one-time password."""
    with acting(hub) as (s, actor):
        view, secret = admin.create_operator(s, actor, username, display_name, department=department,
                                             contact_id=contact_id, is_admin=is_admin,
                                             can_override=can_override, roles=_roles(roles))
    if as_json:
        click.echo(json.dumps({"operator": view, "one_time_password": secret}, ensure_ascii=False))
        return
    click.echo(operator_line(view))
    print_secret(username, secret)


@operator_cli.command("edit")
@click.argument("username")
@click.option("--display-name", default=None)
@click.option("--department", default=None, help="所属部署のコード（空文字で解除）")
@click.option("--contact-id", type=int, default=None)
@click.option("--admin/--no-admin", "is_admin", default=None)
@click.option("--override/--no-override", "can_override", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def operator_edit(hub: HubContext, username: str, as_json: bool, **options: Any) -> None:
    """表示名・所属部署・連絡先・管理者/緊急送信の権限を変更 / edit an operator."""
    changes = {k: v for k, v in options.items() if v is not None}
    _update(hub, username, changes, as_json)


def _update(hub: HubContext, username: str, changes: dict[str, Any], as_json: bool) -> None:
    with acting(hub) as (s, actor):
        view = admin.update_operator(s, actor, username, changes)
    show(view, as_json, operator_line)


@operator_cli.command("disable")
@click.argument("username")
@pass_hub
def operator_disable(hub: HubContext, username: str) -> None:
    """無効化（ログイン・トークンとも使えなくなる）/ disable an account."""
    _update(hub, username, {"disabled": True}, False)


@operator_cli.command("enable")
@click.argument("username")
@pass_hub
def operator_enable(hub: HubContext, username: str) -> None:
    _update(hub, username, {"disabled": False}, False)


@operator_cli.command("grant")
@click.argument("username")
@click.option("--department", required=True)
@click.option("--role", required=True, type=click.Choice(["viewer", "sender", "approver"]))
@pass_hub
def operator_grant(hub: HubContext, username: str, department: str, role: str) -> None:
    """部署での役割を付与・変更 / grant (or change) a role in a department."""
    with acting(hub) as (s, actor):
        view = admin.grant(s, actor, username, department, role)
    click.echo(operator_line(view))


@operator_cli.command("revoke-role")
@click.argument("username")
@click.option("--department", required=True)
@pass_hub
def operator_revoke_role(hub: HubContext, username: str, department: str) -> None:
    """部署での役割を外す / remove the role in a department."""
    with acting(hub) as (s, actor):
        view = admin.revoke_role(s, actor, username, department)
    click.echo(operator_line(view))


@operator_cli.command("reset-password")
@click.argument("username")
@pass_hub
def operator_reset_password(hub: HubContext, username: str) -> None:
    """新しい初回パスワードを発行（全セッション終了）/ issue a new one-time password."""
    with acting(hub) as (s, actor):
        secret = admin.reset_password(s, actor, username)
    print_secret(username, secret)


@operator_cli.command("reset-totp")
@click.argument("username")
@pass_hub
def operator_reset_totp(hub: HubContext, username: str) -> None:
    """二要素認証を解除（端末紛失時。次回ログインで再登録）/ forget the operator's TOTP."""
    with acting(hub) as (s, actor):
        view = admin.reset_totp(s, actor, username)
    click.echo(operator_line(view))


@admin_cli.command("dkim-record")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def dkim_record_cmd(hub: HubContext, as_json: bool) -> None:
    """DKIM公開鍵のDNS TXTレコードを表示 / the DNS TXT record that publishes the DKIM key.

    From HUB_SMTP_DKIM_DOMAIN, HUB_SMTP_DKIM_SELECTOR and HUB_SMTP_DKIM_KEY_FILE. Publish it
    before setting them on the workers: mail signed with an unpublished key fails DKIM.
    """
    from channels.dkim import load_signer
    from hub.policy import Action

    hub.authorized(Action.ADMINISTER)
    settings = hub.runtime.settings
    if not settings.smtp_dkim_key_file:
        raise click.ClickException("DKIM署名が設定されていません（HUB_SMTP_DKIM_DOMAIN / _SELECTOR / _KEY_FILE）")
    name, value = load_signer(settings.smtp_dkim_key_file, settings.smtp_dkim_domain,
                              settings.smtp_dkim_selector).dns_record()
    if as_json:
        click.echo(json.dumps({"name": name, "type": "TXT", "value": value}))
        return
    # A TXT string holds at most 255 bytes: a 2048-bit key is written as several quoted strings.
    quoted = " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))
    click.echo(f"{name}. IN TXT ( {quoted} )")
