"""``hub send --csv FILE``: a personalised send, checked and previewed like the web page and the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from hub.api.common import ApiError
from hub.cli.context import HubContext
from hub.notices.check import CsvSendError
from hub.notices.front import check_and_maybe_store, read_request, release_all


def send_csv(hub: HubContext, path: Path, fields: dict[str, Any], *, check_only: bool, skip_bad: bool,
             as_json: bool) -> None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"{path}: {exc}") from exc
    rt = hub.runtime
    with rt.session() as session:
        try:
            req = read_request(session, fields, hub.principal, path.name, data)
            outcome = check_and_maybe_store(session, rt, req, hub.principal, confirm=not check_only,
                                            skip_bad=skip_bad)
        except ApiError as exc:
            from hub.cli.messages import api_error_text

            raise click.ClickException(api_error_text(exc)) from exc
        except CsvSendError as exc:
            session.rollback()
            if not exc.problems.get("file") or "行に問題があります" not in exc.problems["file"][0]:
                raise click.ClickException(str(exc)) from exc
            # Bad rows and no --skip-bad: show them (and the preview) and store nothing.
            preview = check_and_maybe_store(session, rt, req, hub.principal, confirm=False, skip_bad=False).preview
            _print(path, preview, None, as_json)
            raise click.ClickException(f"{exc}（--skip-bad で問題のない行だけを送れます）") from exc
    release_all(outcome)
    _print(path, outcome.preview, outcome, as_json)


def _print(path: Path, preview: dict[str, Any], outcome: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"preview": preview, "csv_send_id": getattr(outcome, "send_id", None),
                               "messages": getattr(outcome, "messages", None)}, ensure_ascii=False))
        return
    for error in preview["errors"]:
        click.echo(f"{path.name}:{error['line']}: {error['reason']}", err=True)
    click.echo(f"{preview['good']}/{preview['rows']}行を送信できます")
    for channel, shown in preview["channels"].items():
        longest = shown["longest"]
        click.echo(f"[{channel}] {shown['recipients']}件 / 最長 {longest['line']}行目 "
                   f"{longest['characters']}文字・{longest['units']}通分")
        for sample in shown["samples"]:
            click.echo(f"  {sample['line']}行目 → {sample['address']}:\n    " + sample["text"].replace("\n", "\n    "))
    if preview["sms_segments"]:
        click.echo(f"SMS 合計 {preview['sms_segments']}通分 × {preview['unit_price_yen']}円 = "
                   f"概算 {preview['estimated_cost_yen']}円")
    for group in preview["send_times"]:
        click.echo(f"送信時刻 {group['at']}: {group['rows']}件")
    if outcome is not None and outcome.send_id is not None:
        states = ", ".join(f"{m['message_id']}({m['state']})" for m in outcome.messages or [])
        click.echo(f"CSV送信 {outcome.send_id} を作成しました: メッセージ {states}")
