"""``hub audit``: check the audit log's hash chain, and read it."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from hub.cli.context import HubContext, pass_hub
from hub.models.audit import list_entries, verify_chain
from hub.templating import JST


@click.group("audit")
def audit_cli() -> None:
    """監査ログ / audit log."""


@audit_cli.command("verify")
@pass_hub
def audit_verify(hub: HubContext) -> None:
    """ハッシュチェーンを検証（改ざん・削除があれば終了コード1）/ verify the hash chain (exit 1 if broken)."""
    with hub.runtime.session() as session:
        report = verify_chain(session)
    if report.broken is not None:
        click.echo(f"監査ログの検証に失敗: 行 {report.broken.row_id}: {report.broken.reason}"
                   f"（{report.rows}行目で検出）/ audit log broken at row {report.broken.row_id}", err=True)
        sys.exit(1)
    click.echo(f"監査ログは正常です: {report.rows}行, 最新ハッシュ {report.head or '-'}"
               f" / audit log intact: {report.rows} rows, head {report.head or '-'}")


def parse_since(value: str | None) -> datetime | None:
    """ISO 8601; a time without an offset is taken as JST, the time officers read on the wall."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"ISO 8601 の日時で指定してください（例: 2026-11-30T09:00+09:00）: {value}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=JST)
    return when.astimezone(UTC)


@audit_cli.command("list")
@click.option("--since", help="この日時以降（ISO 8601, 例 2026-11-30T09:00+09:00）/ from this time")
@click.option("--json", "as_json", is_flag=True, help="JSON lines で出力 / one JSON object per line")
@pass_hub
def audit_list(hub: HubContext, since: str | None, as_json: bool) -> None:
    """監査ログの一覧（古い順）/ list audit entries, oldest first."""
    start = parse_since(since)
    after_id = 0
    while True:
        with hub.runtime.session() as session:
            entries = list_entries(session, since=start, after_id=after_id)
        if not entries:
            return
        for e in entries:
            if as_json:
                click.echo(json.dumps(e, ensure_ascii=False, sort_keys=True))
            else:
                detail = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
                click.echo(f"{e['id']}\t{e['at']}\t{e['actor']}\t{e['action']}\t"
                           f"{e['subject_type']}:{e['subject_id']}\t{detail}")
        after_id = entries[-1]["id"]
