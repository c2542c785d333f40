"""``hub health`` (what the engine is doing) and ``hub watchdog`` (the process that raises the alarm)."""

from __future__ import annotations

import json

import click

from hub.cli.context import HubContext, pass_hub
from hub.health.engine import observe
from hub.health.watchdog import run_forever
from hub.templating import jst

STATE_LABELS = {"ok": "正常", "stalled": "停滞（配信が進んでいません）", "no_worker": "停止（稼働中のワーカーなし）"}


@click.command("health")
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def health_cmd(hub: HubContext, as_json: bool) -> None:
    """配信エンジンの状態（ワーカー・キュー・最古の送信待ち）/ the delivery engine's health.

    Exit status 0 when the engine is fine, 2 when it is stalled or no worker is alive.
    """
    with hub.app.app_context():
        health = observe(hub.runtime)
    if as_json:
        click.echo(json.dumps(health.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(f"状態: {STATE_LABELS.get(health.state, health.state)}")
        for w in health.workers:
            mark = "稼働中" if w.alive else f"応答なし（{w.silent_seconds:.0f}秒）"
            click.echo(f"ワーカー {w.node} ({w.host}) {','.join(w.lanes)} 最終応答 {jst(w.last_seen_at)} {mark}")
        if not health.workers:
            click.echo("ワーカー: なし")
        for lane in health.lanes:
            queued = "不明" if lane.queued is None else lane.queued
            click.echo(f"レーン {lane.name}: キュー {queued} / 送信待ちの宛先 {lane.pending}")
        if health.oldest_pending_seconds is not None:
            click.echo(f"最も古い送信待ち: {health.oldest_pending_seconds:.0f}秒前から")
        for s in health.stalled:
            click.echo(f"停滞: #{s.message_id} {s.title}（{s.seconds:.0f}秒間進展なし）")
    if not health.ok:
        raise SystemExit(2)


@click.command("watchdog")
@pass_hub
def watchdog_cmd(hub: HubContext) -> None:
    """配信エンジンの見張り（停止・停滞を担当課に警報）/ watch the engine and raise the alarm.

    Runs until stopped; any number may run (the alarm goes out once). It sends the alarm itself,
    through the channel adapters, so it works when no worker is alive.
    """
    def said(sent: str | None) -> None:
        if sent:
            click.echo({"alarm": "警報を送信しました", "recovered": "復旧を通知しました"}[sent], err=True)

    run_forever(hub.app, on_round=said)
