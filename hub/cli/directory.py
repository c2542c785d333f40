"""``hub admin department|category|area …``: the city's departments (with sender identities),
categories and areas. Admins only; nothing is deleted, only disabled."""

from __future__ import annotations

from typing import Any

import click

from hub.accounts import directory
from hub.cli.admin import acting, admin_cli, show
from hub.cli.context import HubContext, pass_hub

DEPARTMENT_OPTIONS = [
    click.option("--name", default=None),
    click.option("--sms-sender", default=None, help="SMS送信元番号 050-1234-5678 または +81… / SMS sender number"),
    click.option("--voice-sender", default=None, help="音声発信元番号 050-1234-5678 または +81… / voice caller number"),
    click.option("--email-sender", default=None, help="送信元メールアドレス"),
    click.option("--email-sender-name", default=None, help="送信者名"),
    click.option("--approval", type=click.Choice(["residents", "all_live"]), default=None,
                 help="承認が必要な配信 / which live messages need a second person"),
    click.option("--sms-gateway", default=None,
                 help="SMSゲートウェイ twilio|karaden（空文字でハブの既定）/ the department's SMS gateway"),
    click.option("--sms-failover-gateway", default=None,
                 help="障害時の切替先 twilio|karaden|auto|none（空文字でハブの既定）/ failover partner"),
    click.option("--karaden-service-id", default=None, help="KaradenのサービスID（送信元）/ Karaden service id"),
    click.option("--quiet-hours", default=None,
                 help="お知らせを送らない時間帯 21:00-08:00|none（空文字でハブの既定）/ quiet hours for notices"),
]
NAMES_OPTION = click.option(
    "--name-in", "names", multiple=True, metavar="LANG=NAME",
    help="住民の言語での名前（例: en=Disaster prevention。空の名前で削除。繰り返し可）/ "
         "the name in a resident language (repeatable; an empty name removes it)")
OPTIONS = {
    "department": DEPARTMENT_OPTIONS,
    "category": [click.option("--name", default=None), NAMES_OPTION],
    "area": [click.option("--name", default=None), NAMES_OPTION,
             click.option("--family", type=click.Choice(["municipality", "warning", "quake", "tsunami"]),
                          default=None, help="気象庁コード表の種類 (default municipality)")],
}
TITLES = {"department": "部署 / departments", "category": "分類 / categories", "area": "地域 / areas"}


def _line(row: dict[str, Any]) -> str:
    extra = [f"{k}={row[k]}" for k in row if k not in ("id", "code", "name", "names", "disabled") and row[k]]
    names = [f"{code}={name}" for code, name in (row.get("names") or {}).items()]
    return "\t".join([row["code"], row["name"], *names, *extra, *(["無効"] if row["disabled"] else [])])


def _values(options: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in options.items() if v is not None and k != "names"}
    if options.get("names"):
        pairs = [given.partition("=") for given in options["names"]]
        for code, equals, _name in pairs:
            if not equals:
                raise click.BadParameter(f"{code!r}: LANG=NAME", param_hint="--name-in")
        values["names"] = {code.strip(): name for code, _equals, name in pairs}
    return values


def _easy_japanese_notes(row: dict[str, Any]) -> None:
    """On standard error: the row was saved, and --json output stays one JSON document."""
    for note in directory.easy_japanese_notes(row):
        click.echo(note, err=True)


def _make_group(kind: str) -> click.Group:
    group = click.Group(kind, help=TITLES[kind])

    @group.command("list")
    @click.option("--json", "as_json", is_flag=True)
    @pass_hub
    def list_cmd(hub: HubContext, as_json: bool) -> None:
        with acting(hub) as (s, actor):
            rows = directory.listing(s, actor, kind)
        show(rows, as_json, lambda rs: "\n".join(_line(r) for r in rs))

    @click.argument("code")
    @click.option("--json", "as_json", is_flag=True)
    @pass_hub
    def create_cmd(hub: HubContext, code: str, as_json: bool, **options: Any) -> None:
        with acting(hub) as (s, actor):
            row = directory.create(s, actor, kind, code, _values(options))
        show(row, as_json, _line)
        _easy_japanese_notes(row)

    @click.argument("code")
    @click.option("--json", "as_json", is_flag=True)
    @pass_hub
    def edit_cmd(hub: HubContext, code: str, as_json: bool, **options: Any) -> None:
        with acting(hub) as (s, actor):
            row = directory.update(s, actor, kind, code, _values(options))
        show(row, as_json, _line)
        _easy_japanese_notes(row)

    for option in reversed(OPTIONS[kind]):
        create_cmd = option(create_cmd)
        edit_cmd = option(edit_cmd)
    group.command("create", help="作成 / create")(create_cmd)
    group.command("edit", help="変更（空文字で項目を消去）/ edit (empty text clears)")(edit_cmd)

    for name, disabled in (("disable", True), ("enable", False)):
        def toggle(hub: HubContext, code: str, _disabled: bool = disabled) -> None:
            with acting(hub) as (s, actor):
                row = directory.update(s, actor, kind, code, {"disabled": _disabled})
            click.echo(_line(row))

        help_text = "無効化（新しい配信には使えなくなる）/ disable" if disabled else "有効に戻す / enable"
        group.command(name, help=help_text)(click.argument("code")(pass_hub(toggle)))
    return group


for _kind in ("department", "category", "area"):
    admin_cli.add_command(_make_group(_kind))
