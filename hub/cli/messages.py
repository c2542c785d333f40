"""``hub send``, ``hub status``, ``hub export deliveries``."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import BinaryIO

import click

from hub.cli.context import HubContext, pass_hub
from hub.compose.audience import AUDIENCE_HELP, Audience, AudienceError, unknown_part
from hub.compose.messages import ComposeError, Composition, create_message
from hub.compose.schedule import ScheduleError, read_schedule
from hub.compose.status import channel_counts, export_deliveries_csv, is_finished, message_summary
from hub.contacts.importer import import_file
from hub.dispatch.tasks import release
from hub.models import Department, Message
from hub.models.base import table_of
from hub.runtime import Runtime


def _sandbox_note(rt: Runtime, channels: list[str]) -> list[str]:
    return [c for c in channels if rt.settings.uses_sandbox(c)]


@click.command("send")
@click.option("--title", required=True, help="件名 / title")
@click.option("--body", default="", help="本文 / body")
@click.option("--channels", required=True, help="sms,email,line,x,rss,voice")
@click.option("--audience", required=True, help=AUDIENCE_HELP)
@click.option("--mode", type=click.Choice(["actual", "exercise", "test"]), default="actual", show_default=True)
@click.option("--category", default=None, help="分類コード (bousai, kenko, zei, kosodate …)")
@click.option("--department", default=None, help="送信部署（コードまたは名称）/ sending department")
@click.option("--override", multiple=True, metavar="CH=TEXT", help="チャネル別の本文 / per-channel text")
@click.option("--schedule", default=None, help="予約送信 ISO 8601 (e.g. 2026-12-01T09:00+09:00)")
@click.option("--wait", is_flag=True, help="全件の結果が出るまで待つ / wait until every delivery is final")
@click.option("--timeout", default=600.0, show_default=True, help="--wait の上限秒数")
@click.option("--json", "as_json", is_flag=True, help="結果をJSONで出力 / print JSON")
@pass_hub
def send_cmd(hub: HubContext, title: str, body: str, channels: str, audience: str, mode: str,
             category: str | None, department: str | None, override: tuple[str, ...], schedule: str | None,
             wait: bool, timeout: float, as_json: bool) -> None:
    """メッセージを作成して全チャネルへ配信 / compose once, deliver to every chosen channel."""
    rt = hub.runtime
    chosen = [c.strip() for c in channels.split(",") if c.strip()]
    _check_text(title=title, body=body, audience=audience, override=" ".join(override))
    bad_overrides = [o for o in override if "=" not in o]
    if bad_overrides:
        raise click.UsageError(f"--override は CH=TEXT の形で指定してください: {bad_overrides[0]!r}")
    overrides = dict(o.split("=", 1) for o in override)
    try:
        scheduled_at = read_schedule(schedule) if schedule else None
    except ScheduleError as exc:
        raise click.UsageError(f"--schedule {schedule!r}: {exc}") from exc
    with rt.session() as session:
        if audience.startswith("csv:"):
            path = Path(audience[4:])
            try:
                report = import_file(session, path, actor="cli", list_name=f"send:{path.name}")
            except (OSError, ValueError) as exc:  # missing or unreadable file: nothing is sent
                raise click.UsageError(f"{path}: {exc}") from exc
            for err in report.errors:
                click.echo(f"{path.name}:{err.line}: {err.reason}", err=True)
            audience = f"list:{report.list_id}"
        try:
            part = unknown_part(session, Audience.parse(audience))
        except AudienceError as exc:
            raise click.UsageError(str(exc)) from exc
        if part is not None:
            # Checked before anything is stored: a typo must not become a message sent to nobody.
            raise click.UsageError(f"宛先「{part}」は登録されていません")
        dept = None
        if department:
            dept = session.query(Department).filter(
                (Department.code == department) | (Department.name == department)).one_or_none()
            if dept is None:
                raise click.UsageError(f"部署「{department}」は登録されていません")
        comp = Composition(
            title=title, body=body, channels=chosen, audience=audience, mode=mode, category_code=category,
            overrides=overrides, department_id=dept.id if dept else None,
            scheduled_at=scheduled_at,
        )
        try:
            message = create_message(session, rt, comp, actor="cli")
        except (ComposeError, AudienceError) as exc:
            raise click.ClickException(str(exc)) from exc
        message_id, state = message.id, message.state
    release(message_id, state)
    sandboxed = _sandbox_note(rt, chosen)
    if sandboxed and not as_json:
        click.echo(f"※ サンドボックス（実際には送信されません）: {', '.join(sandboxed)}", err=True)
    if state == "awaiting_approval" and not as_json:
        click.echo(f"メッセージ {message_id} は承認待ちです（別の担当者の確認が必要です）", err=True)
    if wait and state not in ("awaiting_approval", "scheduled"):
        _wait(rt, message_id, timeout, show_progress=not as_json)
    _print_status(rt, message_id, as_json, sandboxed)


def _check_text(**values: str) -> None:
    """What the database would refuse (a traceback on PostgreSQL): NUL, or more than the column holds."""
    for option, value in values.items():
        if "\x00" in value:
            raise click.UsageError(f"--{option} にNUL文字は使えません")
        column = table_of(Message).c.get(option)
        limit = getattr(column.type, "length", None) if column is not None else None
        if limit is not None and len(value) > limit:
            raise click.UsageError(f"--{option} は {limit} 文字以内にしてください")


def _wait(rt: Runtime, message_id: int, timeout: float, show_progress: bool) -> None:
    deadline = time.monotonic() + timeout
    with rt.session() as session:
        total = sum(sum(c.values()) for c in channel_counts(session, message_id).values())
    # With --json, stdout carries exactly one JSON object: the bar goes nowhere.
    with contextlib.ExitStack() as stack:
        stream = sys.stderr if show_progress else stack.enter_context(open(os.devnull, "w"))
        bar = stack.enter_context(click.progressbar(length=max(total, 1), label="配信中", file=stream,
                                                    show_eta=False))
        done_before = 0
        while time.monotonic() < deadline:
            with rt.session() as session:
                counts = channel_counts(session, message_id)
            total_now = sum(sum(c.values()) for c in counts.values())
            done = total_now - sum(c["pending"] for c in counts.values())
            if show_progress:
                bar.length = max(total_now, 1)
                bar.update(done - done_before)
            done_before = done
            if total_now and is_finished(counts):
                return
            time.sleep(0.5)
    raise click.ClickException(
        f"{timeout:.0f}秒以内に配信が終わりませんでした（hub status {message_id} で確認できます）")


def _print_status(rt: Runtime, message_id: int, as_json: bool, sandboxed: list[str]) -> None:
    with rt.session() as session:
        message = session.get(Message, message_id)
        if message is None:
            raise click.ClickException(f"メッセージ {message_id} はありません")
        summary = message_summary(session, message)
    summary["sandbox"] = sandboxed
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
        return
    label = {"actual": "", "exercise": "【訓練】", "test": "【試験】"}[summary["mode"]]
    click.echo(f"メッセージ {message_id} {label}{summary['title']} — 状態: {summary['state']}")
    click.echo(f"{'channel':8} {'sent':>7} {'deliv.':>7} {'failed':>7} {'skipped':>7} {'unknown':>7} {'pending':>7}")
    for ch, c in summary["channels"].items():
        click.echo(f"{ch:8} {c['sent']:>7} {c['delivered']:>7} {c['failed']:>7} {c['skipped']:>7} "
                   f"{c['unknown']:>7} {c['pending']:>7}")
    unknown = {ch: c["unknown"] for ch, c in summary["channels"].items() if c["unknown"]}
    if unknown:
        where = "、".join(f"{ch} {n}件" for ch, n in unknown.items())
        click.secho(f"⚠ 要確認: 送信結果が不明な宛先があります（{where}）。届いたかを確かめる手段がなく、"
                    "二重送信を避けるため再送していません。"
                    f"hub export deliveries {message_id} で宛先を確認してください。", fg="yellow", err=True)


@click.command("status")
@click.argument("message_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def status_cmd(hub: HubContext, message_id: int, as_json: bool) -> None:
    """配信状況 / per-channel counts of one message."""
    with hub.runtime.session() as session:
        message = session.get(Message, message_id)
        channels = list(message.channels) if message else []
    _print_status(hub.runtime, message_id, as_json, _sandbox_note(hub.runtime, channels))


@click.group("export")
def export_cli() -> None:
    """エクスポート / export."""


@export_cli.command("deliveries")
@click.argument("message_id", type=int)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_hub
def export_deliveries(hub: HubContext, message_id: int, output: Path | None) -> None:
    """配信履歴CSV（Excel向けBOM付きUTF-8）/ delivery history as CSV."""
    with hub.runtime.session() as session:
        chunks = export_deliveries_csv(session, message_id)
        if output is None:
            out: BinaryIO = sys.stdout.buffer
            for chunk in chunks:
                out.write(chunk.encode("utf-8"))
        else:
            with output.open("w", encoding="utf-8", newline="") as fh:
                for chunk in chunks:
                    fh.write(chunk)
