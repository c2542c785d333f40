"""``hub callout …`` (staff call-outs: start, close, status, export, drill) and ``hub staff import``."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.cli.context import HubContext, pass_hub
from hub.contacts.importer import decode_csv, import_contacts, resident_registry
from hub.models import Contact, ContactKind, audit
from hub.models.relay import Callout, CalloutTarget, Survey
from hub.policy import Action
from hub.relay import tally
from hub.relay.callouts import CalloutError, CalloutForbidden, close_callout, may_on_callout, start_callout
from hub.relay.surveys import SurveyError, define_survey, ensure_builtin_surveys
from hub.relay.tasks import release_callout

if TYPE_CHECKING:
    from sandbox.staff import SimStaff

MODE_LABELS = {"actual": "本番", "exercise": "訓練"}


@click.group("callout")
def callout_cli() -> None:
    """職員の安否確認・参集（LINE → 電話 → メールの順に回答まで連絡）/ staff call-outs."""


@callout_cli.command("start")
@click.option("--survey", "survey_code", default="anpi_sanshu", show_default=True,
              help="アンケート（anpi=安否確認, sanshu=参集確認, anpi_sanshu=両方）")
@click.option("--departments", required=True, help="部署コードか部署名をカンマ区切り（all で全部署）")
@click.option("--mode", type=click.Choice(["actual", "exercise"]), required=True,
              help="actual（本番）か exercise（訓練）: 既定値はありません / no default, always chosen")
@click.option("--steps", default="line,voice,email", show_default=True, help="連絡の順番（10段階まで）")
@click.option("--interval", default="5m", show_default=True, help="次の連絡までの間隔（例: 5m, 90s）")
@click.option("--cycles", default=3, show_default=True, help="連絡の順番を繰り返す回数（5回まで）")
@click.option("--deadline", default=None, help="この時間が過ぎたら締め切る（例: 2h）")
@click.option("--title", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def start_cmd(hub: HubContext, survey_code: str, departments: str, mode: str, steps: str, interval: str,
              cycles: int, deadline: str | None, title: str | None, as_json: bool) -> None:
    """呼び出しを開始 / start a call-out."""
    rt = hub.runtime
    principal = hub.principal
    try:
        with rt.session() as session:
            callout = start_callout(session, rt, survey_code, departments, mode=mode, steps=steps,
                                    interval=interval, cycles=cycles, source="cli", title=title,
                                    deadline=deadline, actor=f"cli:{principal.username}", principal=principal)
            session.flush()
            callout_id, chain = callout.id, list(callout.chain)
    except (CalloutError, CalloutForbidden, SurveyError) as exc:
        raise click.ClickException(str(exc)) from exc
    release_callout(callout_id)
    with rt.session() as session:
        data = tally.tally(session, callout_id)
    assert data is not None
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(f"呼び出し {callout_id} を開始しました（{MODE_LABELS[mode]}）: 対象 {data['total']} 人, "
               f"連絡順 {' → '.join(chain)}, 間隔 {interval}, {cycles} 巡")
    sandboxed = [c for c in chain if rt.settings.uses_sandbox(c)]
    if sandboxed:
        click.echo(f"※ サンドボックスに送信: {', '.join(sandboxed)}")
    page = f"{rt.settings.public_url}/relay/callouts/{callout_id}"
    click.echo(f"集計: hub callout status {callout_id}  /  {page}")


@callout_cli.command("close")
@click.argument("callout_id", type=int)
@pass_hub
def close_cmd(hub: HubContext, callout_id: int) -> None:
    """呼び出しを締め切る（以後の連絡を止める。回答は引き続き受け付ける）/ close a call-out."""
    principal = hub.principal
    try:
        with hub.runtime.session() as session:
            close_callout(session, callout_id, actor=f"cli:{principal.username}", principal=principal)
    except (CalloutError, CalloutForbidden) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"呼び出し {callout_id} を締め切りました")


def _readable(session: Session, hub: HubContext, callout_id: int) -> None:
    """Only someone who may READ in every department of the call-out sees its tally."""
    callout = session.get(Callout, callout_id)
    if callout is None:
        raise click.ClickException(f"呼び出し {callout_id} はありません")
    if not may_on_callout(session, hub.principal, callout, Action.READ):
        raise click.ClickException("この呼び出しを閲覧する権限がありません")


@callout_cli.command("status")
@click.argument("callout_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def status_cmd(hub: HubContext, callout_id: int, as_json: bool) -> None:
    """部署別の回答状況・未到達者 / tally per department and the unreached list."""
    with hub.runtime.session() as session:
        _readable(session, hub, callout_id)
        data = tally.tally(session, callout_id)
    if data is None:
        raise click.ClickException(f"呼び出し {callout_id} はありません")
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    c = data["callout"]
    click.echo(f"{c['id']}: {c['title']} [{MODE_LABELS.get(c['mode'], c['mode'])}] {c['state']} — "
               f"回答 {data['answered']} / {data['total']} 人, 未回答 {data['unreached']} 人")
    for d in data["departments"]:
        counts = ", ".join(f"{choice['label']} {d['answers'].get(q['key'], {}).get(choice['value'], 0)}"
                           for q in data["questions"] if q["kind"] == "choice" for choice in q["counts"])
        click.echo(f"  {d['name']}: 回答 {d['answered']}/{d['total']}  {counts}")
    if data["eta_histogram"]:
        eta = ", ".join(f"{b['label']} {b['count']}人" for b in data["eta_histogram"])
        click.echo(f"  到着見込み: {eta}")
    if data["unreached_list"]:
        click.echo("連絡がついていない職員:")
        for p in data["unreached_list"]:
            click.echo(f"  {p['department'] or '-'} {p['name']}: {tally.attempts_summary(p['attempts'])}")


@callout_cli.command("export")
@click.argument("callout_id", type=int)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_hub
def export_cmd(hub: HubContext, callout_id: int, output: Path | None) -> None:
    """回答一覧をCSV（UTF-8 BOM付き、Excel向け）で出力 / export answers as CSV."""
    with hub.runtime.session() as session:
        _readable(session, hub, callout_id)
        text = tally.export_csv(session, callout_id)
        if text is not None:
            audit(session, hub.principal.username, "export.callout", ("callouts", callout_id), via="cli")
    if text is None:
        raise click.ClickException(f"呼び出し {callout_id} はありません")
    data = text.encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        click.echo(f"{output} に書き出しました", err=True)


@callout_cli.command("surveys")
@click.option("--define", "definition", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="YAML/JSON のアンケート定義を登録（code, title, intro, questions）")
@pass_hub
def surveys_cmd(hub: HubContext, definition: Path | None) -> None:
    """アンケートの一覧・登録 / list or define surveys."""
    with hub.runtime.session() as session:
        ensure_builtin_surveys(session)
        if definition is not None:
            try:
                define_survey(session, yaml.safe_load(definition.read_text(encoding="utf-8")) or {})
            except SurveyError as exc:
                raise click.ClickException(str(exc)) from exc
        for survey in session.scalars(select(Survey).order_by(Survey.code)):
            labels = " / ".join(q.label for q in survey.questions)
            click.echo(f"{survey.code}: {survey.title}（{labels}）")


@callout_cli.command("drill")
@click.argument("callout_id", type=int)
@click.option("--seed", default=1, show_default=True)
@click.option("--minutes", default=30.0, show_default=True, help="この時間だけ模擬職員を動かす")
@pass_hub
def drill_cmd(hub: HubContext, callout_id: int, seed: int, minutes: float) -> None:
    """サンドボックスの模擬職員が回答する（LINEで・電話だけ・メールだけ・回答しない）/ simulated staff."""
    from sandbox.staff import StaffSimulator

    rt = hub.runtime
    with rt.session() as session:
        people = staff_for_callout(session, callout_id, seed=seed)
    sim = StaffSimulator(rt.settings.sandbox_url, people)
    click.echo(f"模擬職員 {len(people)} 人: " + ", ".join(f"{k} {v}人" for k, v in sim.plan_counts().items()))
    deadline = time.monotonic() + minutes * 60
    reported = 0
    try:
        while time.monotonic() < deadline:
            acted = sim.step()
            if acted:
                click.echo(f"回答 {acted} 件")
            for failure in sim.failures[reported:]:
                click.secho(f"模擬職員が回答できませんでした: {failure}", fg="yellow", err=True)
            reported = len(sim.failures)
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    answered = ", ".join(f"{k} {v}件" for k, v in sim.actions.items())
    click.echo(f"回答: {answered}／回答できず {len(sim.failures)}件")


def staff_for_callout(session: Session, callout_id: int, seed: int = 1,
                      mix: Mapping[str, int] | None = None) -> list[SimStaff]:
    """The sandbox's simulated people for everyone a call-out contacts (deterministic for a seed)."""
    from sandbox.staff import plan_staff

    callout = session.get(Callout, callout_id)
    if callout is None:
        return []
    contacts = session.scalars(select(Contact).join(CalloutTarget, CalloutTarget.contact_id == Contact.id)
                               .where(CalloutTarget.callout_id == callout_id).order_by(Contact.id))
    return plan_staff(contacts, callout.survey_snapshot, seed=seed, mix=mix)


@click.group("staff")
def staff_cli() -> None:
    """職員名簿 / staff directory."""


@staff_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@pass_hub
def staff_import_cmd(hub: HubContext, path: Path, as_json: bool) -> None:
    """職員CSVの取り込み（住民と同じ検証。kind 列がなければ staff）/ import staff from CSV."""
    try:
        data = as_staff_csv(path.read_bytes())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    principal = hub.principal
    with hub.runtime.session() as session:
        report = import_contacts(session, data, source=f"csv:{path.name}", actor=principal.username,
                                 principal=principal, registry=resident_registry(session, hub.runtime.settings),
                                 secret_key=hub.runtime.settings.secret_keys)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        for err in report.errors:
            click.echo(f"{path.name}:{err.line}: {err.reason}", err=True)
        click.echo(f"職員 取り込み: 新規 {report.created} 件, 更新 {report.updated} 件, "
                   f"エラー {len(report.errors)} 件")
    if report.errors:
        raise SystemExit(1 if report.imported == 0 else 2)


def as_staff_csv(data: bytes) -> bytes:
    """The same CSV with ``kind=staff`` filled in where the column is missing or empty."""
    rows = list(csv.reader(io.StringIO(decode_csv(data))))
    if not rows:
        return data
    header = [h.strip() for h in rows[0]]
    if "kind" not in header:
        header.append("kind")
    column = header.index("kind")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows[1:]:
        row = row + [""] * (len(header) - len(row))
        row[column] = row[column].strip() or ContactKind.STAFF
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


@staff_cli.command("list")
@click.option("--department", default=None)
@pass_hub
def staff_list_cmd(hub: HubContext, department: str | None) -> None:
    """職員の一覧 / list staff."""
    with hub.runtime.session() as session:
        q = select(Contact).where(Contact.kind == ContactKind.STAFF, Contact.active.is_(True))
        for c in session.scalars(q.order_by(Contact.department_id, Contact.name)):
            dept = c.department
            if department and (dept is None or department not in (dept.code, dept.name)):
                continue
            ways = ",".join(w for w, v in (("LINE", c.line_user_id), ("電話", c.phone), ("メール", c.email))
                            if v)
            drill = " 訓練参加" if c.exercise_participant else ""
            click.echo(f"{c.external_id or c.id}\t{c.department.name if c.department else '-'}\t{c.name}"
                       f"\t{c.position or ''}\t{ways}{drill}")
