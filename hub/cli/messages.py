"""``hub send``, ``hub status``, ``hub export deliveries``."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

import click
from sqlalchemy.orm import Session

from hub.api.common import ApiError
from hub.api.composing import composition_from
from hub.cli.context import HubContext, pass_hub
from hub.compose.audience import AUDIENCE_HELP, AudienceError
from hub.compose.messages import ComposeError, OverrideRefused, create_message
from hub.compose.status import channel_counts, export_deliveries_csv, is_finished, message_summary
from hub.contacts.importer import import_file, resident_registry
from hub.dispatch.tasks import release
from hub.models import Message, Operator, audit
from hub.policy import Action, Principal, may_see_addresses
from hub.runtime import Runtime
from hub.translate.fill import audience_languages, fill_missing


def _sandbox_note(rt: Runtime, channels: list[str]) -> list[str]:
    return [c for c in channels if rt.settings.uses_sandbox(c)]


@click.command("send")
@click.option("--title", required=True, help="件名 / title")
@click.option("--body", default="", help="本文 / body")
@click.option("--channels", required=True, help="sms,email,line,x,rss,voice")
@click.option("--audience", default=None, help=AUDIENCE_HELP + "（--csv のときは不要）")
@click.option("--mode", type=click.Choice(["actual", "exercise", "test"]), required=True,
              help="actual（実配信）か exercise（訓練）: 既定値はありません / no default, always chosen")
@click.option("--notice", is_flag=True,
              help="日常のお知らせ: 緊急情報の後に送る（既定は緊急・防災情報）/ an everyday notice, sent after alerts")
@click.option("--category", default=None, help="分類コード (bousai, kenko, zei, kosodate …)")
@click.option("--department", default=None,
              help="送信部署（コードまたは名称、省略時は所属部署）/ sending department (default: your own)")
@click.option("--channel-text", "channel_texts", multiple=True, metavar="CH=TEXT",
              help="チャネル別の本文 / per-channel text")
@click.option("--override", "emergency", is_flag=True,
              help="緊急時に承認を省略（権限者のみ、--reason 必須、承認者へ即時通知）/ emergency override")
@click.option("--reason", default=None, help="--override の理由 / why the second person is skipped")
@click.option("--schedule", default=None, help="予約送信 ISO 8601 (e.g. 2026-12-01T09:00+09:00)")
@click.option("--question", default=None,
              help="住民アンケートの質問（--choice と一緒に）/ a resident survey's question, with --choice")
@click.option("--choice", "choices", multiple=True,
              help="選択肢、回答番号 1, 2, … の順に2〜9回 / a choice, 2 to 9 times (answered by 1, 2, …)")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="差し込み送信: 行ごとに {{列名}} を埋めた本文を送る / a personalised send from a CSV")
@click.option("--reminder", default=None,
              help="--csv: 日時の列からの相対で送る（day_before@10:00 / days:N@HH:MM / hours:N）")
@click.option("--date-column", default=None, help="--reminder の基準の列 / the date column")
@click.option("--check", "check_only", is_flag=True, help="--csv: 確認とプレビューだけ（送信しない）/ check only")
@click.option("--skip-bad", is_flag=True, help="--csv: 問題のある行を除いて送る / send the good rows only")
@click.option("--translate", is_flag=True,
              help="宛先の住民が使う言語に機械翻訳して送る / machine-translate into the audience's languages")
@click.option("--language", "languages", multiple=True, metavar="CODE",
              help="--translate で追加する言語 (en, zh, vi …) / a language to add to the audience's")
@click.option("--wait", is_flag=True, help="全件の結果が出るまで待つ / wait until every delivery is final")
@click.option("--timeout", default=600.0, show_default=True, help="--wait の上限秒数")
@click.option("--json", "as_json", is_flag=True, help="結果をJSONで出力 / print JSON")
@pass_hub
def send_cmd(hub: HubContext, title: str, body: str, channels: str, audience: str | None, mode: str, notice: bool,
             category: str | None, department: str | None, channel_texts: tuple[str, ...], emergency: bool,
             reason: str | None, schedule: str | None, question: str | None, choices: tuple[str, ...],
             csv_file: Path | None, reminder: str | None, date_column: str | None, check_only: bool,
             skip_bad: bool, translate: bool, languages: tuple[str, ...], wait: bool, timeout: float,
             as_json: bool) -> None:
    """メッセージを作成して全チャネルへ配信 / compose once, deliver to every chosen channel.

    Acts as the operator of ``HUB_TOKEN`` and reads the input exactly as the API does, so the same
    policy (department, approval, override) applies.
    """
    rt = hub.runtime
    principal = hub.principal
    if csv_file is not None:
        from hub.cli.csv_send import send_csv

        if audience or question or choices or emergency or channel_texts:
            raise click.UsageError("--csv は --audience・--question・--override・--channel-text と一緒に使えません")
        send_csv(hub, csv_file, {"title": title, "body": body, "channels": channels, "mode": mode,
                                 "category": category, "department": department, "scheduled_at": schedule,
                                 "reminder": reminder, "date_column": date_column},
                 check_only=check_only, skip_bad=skip_bad, as_json=as_json)
        return
    if reminder or date_column or check_only or skip_bad:
        raise click.UsageError("--reminder・--date-column・--check・--skip-bad は --csv と一緒に使います")
    if not audience:
        raise click.UsageError("--audience を指定してください（差し込み送信は --csv）")
    if emergency and not (reason or "").strip():
        raise click.UsageError("--override には --reason で理由を指定してください")
    malformed = [t for t in channel_texts if "=" not in t]
    if malformed:
        raise click.UsageError(f"--channel-text は CH=TEXT の形で指定してください: {malformed[0]!r}")
    data: dict[str, Any] = {
        "title": title, "body": body, "channels": [c.strip() for c in channels.split(",") if c.strip()],
        "audience": audience, "mode": mode, "category": category, "department": department,
        "msg_type": "notice" if notice else "alert",
        "overrides": dict(o.split("=", 1) for o in channel_texts), "scheduled_at": schedule,
        "override": {"reason": reason} if emergency else None,
        "question": {"text": question or "", "choices": list(choices)} if question or choices else None,
        "languages": list(languages) or None,
    }
    from_csv = audience.startswith("csv:")
    if from_csv:
        data["audience"] = "all"  # checked as a placeholder; the imported list replaces it below
    with rt.session() as session:
        try:
            comp = composition_from(session, data, principal)
            if from_csv:
                comp.audience = _import_audience(session, hub, Path(audience[4:]))
            if translate:
                comp = fill_missing(rt, comp, audience_languages(session, comp, languages))
                for code, local in comp.texts.items():
                    if local.error:  # it still goes out: the Japanese after a fixed line
                        click.echo(f"翻訳できませんでした（{code}）: {local.error}", err=True)
            message = create_message(session, rt, comp, created_by=session.get(Operator, principal.id),
                                     actor=principal.username)
        except ApiError as exc:
            raise click.ClickException(api_error_text(exc)) from exc
        except (ComposeError, AudienceError, OverrideRefused) as exc:
            raise click.ClickException(str(exc)) from exc
        message_id, state = message.id, message.state
    release(message_id, state)
    sandboxed = _sandbox_note(rt, comp.channels)
    if sandboxed and not as_json:
        click.echo(f"※ サンドボックス（実際には送信されません）: {', '.join(sandboxed)}", err=True)
    if state == "awaiting_approval" and not as_json:
        click.echo(f"メッセージ {message_id} は承認待ちです（別の担当者の確認が必要です）", err=True)
    if wait and state not in ("awaiting_approval", "scheduled"):
        _wait(rt, message_id, timeout, show_progress=not as_json)
    _print_status(rt, message_id, as_json, sandboxed)


def _import_audience(session: Session, hub: HubContext, path: Path) -> str:
    """``csv:FILE``: the file's people become a list (imported under the same contact rules)."""
    try:
        report = import_file(session, path, actor=hub.principal.username, list_name=f"send:{path.name}",
                             principal=hub.principal, registry=resident_registry(session, hub.runtime.settings),
                             secret_key=hub.runtime.settings.secret_keys)
    except (OSError, ValueError) as exc:  # missing or unreadable file: nothing is sent
        raise click.UsageError(f"{path}: {exc}") from exc
    for err in report.errors:
        click.echo(f"{path.name}:{err.line}: {err.reason}", err=True)
    return f"list:{report.list_id}"


# The API's field names as the options a CLI user typed.
CLI_OPTIONS = {"scheduled_at": "--schedule", "overrides": "--channel-text", "override": "--override",
               "channels": "--channels", "audience": "--audience", "title": "--title", "body": "--body",
               "mode": "--mode", "category": "--category", "department": "--department",
               "question": "--question/--choice", "languages": "--language"}


def api_error_text(exc: ApiError) -> str:
    """An ApiError (403, 422 with problems …) as CLI lines."""
    problems = exc.extra.get("problems") or {}
    lines = [f"{CLI_OPTIONS.get(field, field)}: {p}" for field, ps in problems.items() for p in ps]
    return "\n".join([exc.message, *lines])


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


def readable(session: Session, principal: Principal, message_id: int) -> Message:
    """The message, if the operator may READ in its department; a clear non-zero exit otherwise."""
    message = session.get(Message, message_id)
    if message is None:
        raise click.ClickException(f"メッセージ {message_id} はありません")
    if not principal.may(Action.READ, message.department_id):
        raise click.ClickException("他の部署のメッセージは閲覧できません（権限がありません）")
    return message


@click.command("status")
@click.argument("message_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def status_cmd(hub: HubContext, message_id: int, as_json: bool) -> None:
    """配信状況 / per-channel counts of one message."""
    principal = hub.principal
    with hub.runtime.session() as session:
        message = readable(session, principal, message_id)
        channels = list(message.channels)
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
    principal = hub.principal
    with hub.runtime.session() as session:
        message = readable(session, principal, message_id)
        mask = not may_see_addresses(principal, message.department_id)
        audit(session, principal.username, "export.deliveries", message, masked=mask, via="cli")
        chunks = export_deliveries_csv(session, message_id, mask=mask)
        if output is None:
            out: BinaryIO = sys.stdout.buffer
            for chunk in chunks:
                out.write(chunk.encode("utf-8"))
        else:
            with output.open("w", encoding="utf-8", newline="") as fh:
                for chunk in chunks:
                    fh.write(chunk)
