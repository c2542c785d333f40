"""``hub rules``, ``hub jma`` and ``hub templates``: configure automatic sends and watch the JMA feeds."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from hub.cli.context import HubContext, pass_hub
from hub.models import Template, audit
from hub.policy import Action
from hub.templating import TemplateError, jst, load_templates
from triggers.base import RuleError, load_source
from triggers.health import feed_status
from triggers.rulebook import list_rules, read_rule_file, remove_rule, save_rules

LIVE_CHANNELS = ("sms", "voice", "email", "line", "x")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _codes(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


# --- hub rules ---------------------------------------------------------------------------------------


@click.group("rules")
def rules_cli() -> None:
    """自動配信ルール / rules that turn JMA telegrams into messages."""


@rules_cli.command("add")
@click.option("--name", required=True, help="ルール名（一意）")
@click.option("--when", "kind", required=True,
              type=click.Choice(["earthquake", "tsunami", "warning", "landslide", "record_rain", "volcano"]))
@click.option("--template", required=True, help="テンプレートのコード（例: jma-earthquake）")
@click.option("--audience", default="all", show_default=True)
@click.option("--channels", default="all", show_default=True, help="例: sms,email,line または all")
@click.option("--on", "on", default=None, help="issued,upgraded,downgraded,cleared,observed（省略時は既定）")
@click.option("--approval", default="auto", type=click.Choice(["auto", "required"]), show_default=True)
@click.option("--hold-minutes", default=0, show_default=True, help="送信前に待つ分数（その間の取消で取下げ）")
@click.option("--max-per-hour", default=3, show_default=True)
@click.option("--department", default=None, help="送信元の部署コード")
@click.option("--municipalities", default=None, help="市町村等コード7桁（カンマ区切り）")
@click.option("--regions", default=None, help="地震の細分区域コード3桁（震度速報で早く送る場合）")
@click.option("--min-intensity", default=None, help="例: 5弱")
@click.option("--tsunami-areas", default=None, help="津波予報区コード")
@click.option("--min-kind", default=None, help="津波注意報／津波警報／大津波警報")
@click.option("--hazards", default=None, help="例: 大雨,土砂災害")
@click.option("--min-level", default=None, type=int)
@click.option("--scheme", default=None, type=click.Choice(["r06", "legacy"]))
@click.option("--forecast-areas", default=None, help="府県予報区・細分区域コード6桁（記録的短時間大雨）")
@click.option("--volcanoes", default=None, help="火山コード")
@pass_hub
def rules_add(hub: HubContext, **options: Any) -> None:
    """ルールを追加・更新 / add or update one rule."""
    data: dict[str, Any] = {
        "name": options["name"], "when": options["kind"], "template": options["template"],
        "audience": options["audience"], "channels": options["channels"], "on": _codes(options["on"]),
        "approval": options["approval"], "hold_minutes": options["hold_minutes"],
        "max_per_hour": options["max_per_hour"], "department": options["department"],
    }
    for key in ("municipalities", "regions", "tsunami_areas", "hazards", "forecast_areas", "volcanoes"):
        if options[key]:
            data[key] = _codes(options[key])
    for key in ("min_intensity", "min_kind", "min_level", "scheme"):
        if options[key] is not None:
            data[key] = options[key]
    _save(hub, [data])


def _save(hub: HubContext, items: list[dict[str, Any]], dry_run: bool = False) -> None:
    # A rule sends live alerts later with nobody at the desk (its own approval setting decides):
    # writing one is administration, and audited like the accounts are.
    actor = hub.authorized(Action.ADMINISTER).username
    rt = hub.runtime
    session = rt.sessions()
    try:
        results = save_rules(session, rt, items)
        for result in results:
            if result.action != "unchanged":
                audit(session, actor, f"rule.{result.action[:-1]}", ("trigger_rules", result.name))
        session.rollback() if dry_run else session.commit()
    except RuleError as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from exc
    finally:
        session.close()
    words = {"created": "追加", "updated": "更新", "unchanged": "変更なし"}
    for result in results:
        click.echo(f"{words[result.action]}: {result.name}" + ("（確認のみ）" if dry_run else ""))
        for note in result.notes:
            click.echo(f"  {note}")


@rules_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="検査だけして保存しない")
@pass_hub
def rules_load(hub: HubContext, path: Path, dry_run: bool) -> None:
    """YAML/TOML ファイルからルールを読み込む（書式は docs/triggers.md）/ load rules from a file."""
    try:
        items = read_rule_file(path)
    except RuleError as exc:
        raise click.ClickException(str(exc)) from exc
    _save(hub, items, dry_run=dry_run)


@rules_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def rules_list(hub: HubContext, as_json: bool) -> None:
    """ルール一覧 / list rules."""
    with hub.runtime.session() as session:
        rows = [
            {"id": r.id, "name": r.name, "source": r.source, "when": r.kind, "on": r.on, **r.conditions,
             "template": r.template_code, "audience": r.audience, "channels": r.channels,
             "approval": r.approval, "hold_minutes": r.hold_minutes, "max_per_hour": r.max_per_hour,
             "enabled": r.enabled}
            for r in list_rules(session)
        ]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("ルールはありません（hub rules add / hub rules load で登録）")
    for row in rows:
        flags = [] if row["enabled"] else ["停止中"]
        if row["approval"] == "required":
            flags.append("承認必要")
        if row["hold_minutes"]:
            flags.append(f"{row['hold_minutes']}分待機")
        click.echo(f"[{row['id']}] {row['name']}  {row['when']} on={','.join(row['on'])} → {row['template']} "
                   f"宛先={row['audience']} チャネル={','.join(row['channels'])} {' '.join(flags)}".rstrip())


@rules_cli.command("remove")
@click.argument("name_or_id")
@pass_hub
def rules_remove(hub: HubContext, name_or_id: str) -> None:
    """ルールを停止・削除（送信履歴のため記録は残ります）/ remove a rule."""
    actor = hub.authorized(Action.ADMINISTER).username
    with hub.runtime.session() as session:
        try:
            rule = remove_rule(session, name_or_id)
        except RuleError as exc:
            raise click.ClickException(str(exc)) from exc
        audit(session, actor, "rule.remove", rule)
        click.echo(f"削除しました: [{rule.id}] {rule.name}")


# --- hub jma -----------------------------------------------------------------------------------------


@click.group("jma")
def jma_cli() -> None:
    """気象庁 防災情報XML / JMA telegrams: replay, poll, status."""


@jma_cli.command("replay")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--dry-run", is_flag=True, help="判定だけしてメッセージを保存・送信しない")
@click.option("--allow-live", is_flag=True, help="本番の認証情報があっても実際に送信する")
@pass_hub
def jma_replay(hub: HubContext, files: tuple[Path, ...], as_json: bool, dry_run: bool,
               allow_live: bool) -> None:
    """電文ファイルをポーラーと同じ処理で流す / run telegram files through the poller's pipeline."""
    from triggers.engine import process
    from triggers.jma.feed import type_code_from_url

    rt = hub.runtime
    if not dry_run:  # a replayed telegram creates messages as the trigger engine would
        hub.authorized(Action.ADMINISTER)
    live = [ch for ch in LIVE_CHANNELS if not rt.settings.uses_sandbox(ch)]
    if not dry_run and not allow_live and (live or rt.settings.is_production):
        raise click.ClickException(
            "本番の送信先があるため、過去の電文を再生すると実際に住民へ届きます"
            f"（{', '.join(live) or 'HUB_ENV=production'}）。"
            "--dry-run で確認するか、意図的なら --allow-live を付けてください"
        )
    source = load_source("jma", rt.settings)
    results = []
    for path in files:
        raw = path.read_bytes()
        key = f"sha256:{hashlib.sha256(raw).hexdigest()}"
        decision = process(rt, source, raw, item_key=key, hint=type_code_from_url(f"/data/{path.name}"),
                           dry_run=dry_run)
        results.append({"file": str(path), **decision.to_dict()})
    if as_json:
        _echo_json(results)
        return
    for item in results:
        click.echo(f"{item['file']}: {_describe(item)}")


def _describe(item: dict[str, Any]) -> str:
    if item["outcome"] == "quarantined":
        return f"quarantined（隔離）: {item['error']}"
    if item["outcome"] == "ignored":
        return f"ignored（配信なし）: {item['reason']}"
    parts = [f"{r['rule']} → {r['action']} message={r['message_id']} mode={r['mode']}"
             for r in item["rules"] if r["message_id"] is not None]
    return "matched: " + "; ".join(parts)


@jma_cli.command("poll")
@click.option("--once", is_flag=True, required=True, help="1回だけ取得する（定期取得は worker --beat）")
@click.option("--feed", "feeds", multiple=True, help="フィードURL（省略時は HUB_JMA_FEEDS）")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def jma_poll(hub: HubContext, once: bool, feeds: tuple[str, ...], as_json: bool) -> None:
    """フィードを1回取得して新しい電文を処理 / poll the feeds once."""
    from triggers.jma.poller import Poller

    report = Poller(hub.runtime, feeds=list(feeds) or None).poll_once()
    if as_json:
        _echo_json(report.summary())
        return
    for feed in report.feeds:
        refused = f" 拒否（他ホストへのリンク）={feed.refused}" if feed.refused else ""
        click.echo(f"{feed.url}: {feed.status} 件数={feed.entries} 新規={feed.new}{refused} {feed.error}".rstrip())
    for decision in report.decisions:
        click.echo(f"  {decision.item_key}: {_describe(decision.to_dict())}")


@jma_cli.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def jma_status(hub: HubContext, as_json: bool) -> None:
    """受信状況。途絶えたフィードがあれば終了コード1 / poller health (exit 1 if a feed is silent)."""
    rt = hub.runtime
    with rt.session() as session:
        data = feed_status(session, rt.settings)
    rows, processed, recent = data["feeds"], data["telegrams_24h"], data["quarantined"]
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"定期取得: {'有効' if rt.settings.jma_enabled else '無効（HUB_JMA_ENABLED=false）'}  "
                   f"過去24時間の電文: {processed}件")
        if not rows:
            click.echo("まだ取得していません（hub jma poll --once）")
        for row in rows:
            mark = "途絶" if row["silent"] else "正常"
            click.echo(f"[{mark}] {row['url']} 最終成功={jst(row['last_success_at']) or 'なし'} "
                       f"件数={row['entries_seen']} 新規累計={row['new_telegrams']}"
                       + (f" エラー={row['last_error']}" if row["last_error"] else ""))
        for q in recent:
            click.echo(f"隔離: {q['item']} {jst(q['received_at'])} {q['error']}")
    if any(row["silent"] for row in rows):
        sys.exit(1)


# --- hub templates -----------------------------------------------------------------------------------


@click.group("templates")
def templates_cli() -> None:
    """定型文テンプレート / prepared message templates."""


@templates_cli.command("load")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@pass_hub
def templates_load(hub: HubContext, paths: tuple[Path, ...]) -> None:
    """YAMLのテンプレートを登録（省略時は同梱の templates/）/ load templates (default: the shipped ones)."""
    actor = hub.authorized(Action.ADMINISTER).username
    with hub.runtime.session() as session:
        try:
            results = load_templates(session, paths) if paths else load_templates(session)
        except TemplateError as exc:
            raise click.ClickException(str(exc)) from exc
        for result in results:
            if result.action != "unchanged":
                audit(session, actor, f"template.{result.action[:-1]}", ("templates", result.code))
        words = {"created": "追加", "updated": "更新", "unchanged": "変更なし"}
        for result in results:
            click.echo(f"{words[result.action]}: {result.code}（{result.name}）")


@templates_cli.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def templates_list(hub: HubContext, as_json: bool) -> None:
    """登録済みテンプレート / list templates."""
    with hub.runtime.session() as session:
        rows = [{"code": t.code, "name": t.name, "title": t.title, "channels": sorted(t.channel_bodies or {}),
                 "variables": t.variables, "languages": sorted(t.translations or {})}
                for t in session.scalars(select(Template).order_by(Template.code))]
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        click.echo("テンプレートはありません（hub templates load で同梱のものを登録）")
    for row in rows:
        click.echo(f"{row['code']}: {row['name']}  チャネル別本文={','.join(row['channels']) or 'なし'}"
                   f"  訳文={','.join(row['languages']) or 'なし'}")
