"""Rules and templates in the console (administration: ``Action.ADMINISTER``, like ``hub rules``).

Thin, like the CLI: triggers.rulebook validates and stores (``save_rules``, the same checks as
``hub rules load``); each change is audited as ``rule.create`` / ``rule.update``. A rule is edited as
the YAML of one entry of a rule file, so the console and files share one format (docs/triggers.md).
「ルールを試す」 runs an uploaded telegram through ``triggers.engine.process(dry_run=True)``: the
decision and the texts the matched rules would send are shown, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import yaml
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

import triggers
from hub.api.common import runtime
from hub.i18n import gettext as _
from hub.models import Message, MessageBody, Template, audit, utcnow
from hub.models.triggers import TriggerRule
from hub.policy import Action, Principal
from hub.residents.languages import LANGUAGES
from hub.web.pages import _operator, login_required, web_bp
from triggers.base import RuleError, load_source
from triggers.rulebook import find_rule, list_rules, save_rules

MAX_TELEGRAM = 2 * 1024 * 1024
EXAMPLE = """name: 奥州市 震度5弱以上
when: earthquake
municipalities: ["0321500"]
min_intensity: 5弱
template: jma-earthquake
audience: all
channels: [sms, email]
approval: auto
hold_minutes: 0
"""


# Shipped sample telegrams (出典：気象庁, see triggers/jma/samples/README.md), chosen by file name only.
SAMPLES = {path.name: path for path in sorted((Path(triggers.__file__).parent / "jma" / "samples").glob("*.xml"))}


def _admin() -> Principal:
    principal = _operator()
    if not principal.may(Action.ADMINISTER):
        abort(403)
    return principal


def _rule_yaml(rule: TriggerRule) -> str:
    data: dict[str, Any] = {"name": rule.name, "when": rule.kind, "on": list(rule.on), **(rule.conditions or {}),
                            "template": rule.template_code, "audience": rule.audience,
                            "channels": list(rule.channels), "approval": rule.approval,
                            "hold_minutes": rule.hold_minutes, "max_per_hour": rule.max_per_hour}
    if rule.department_code:
        data["department"] = rule.department_code
    if rule.callout:
        data["callout"] = rule.callout
    if not rule.enabled:
        data["enabled"] = False
    return str(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def _parse(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"YAML として読めません（{exc}）") from None
    if not isinstance(data, dict):
        raise RuleError("name: や when: などの項目を1行ずつ書いてください")
    # YAML 1.1 reads the bare key ``on:`` as the boolean true (as read_rule_file does).
    return {("on" if key is True else str(key)): value for key, value in data.items()}


def _page(text: str = "", error: str = "", editing: str | None = None, status: int = 200,
          trial: dict[str, Any] | None = None) -> ResponseReturnValue:
    with runtime().session() as s:
        rules = list_rules(s)
        rows = [{"id": r.id, "name": r.name, "kind": r.kind, "on": r.on, "conditions": r.conditions,
                 "template": r.template_code, "audience": r.audience, "channels": r.channels,
                 "approval": r.approval, "hold_minutes": r.hold_minutes, "enabled": r.enabled} for r in rules]
    return render_template("rules/rules.html", rules=rows, text=text or EXAMPLE, error=error, editing=editing,
                           trial=trial, samples=list(SAMPLES)), status


@web_bp.get("/rules")
@login_required
def rules_list() -> ResponseReturnValue:
    _admin()
    return _page()


@web_bp.get("/rules/<int:rule_id>")
@login_required
def rules_edit(rule_id: int) -> ResponseReturnValue:
    _admin()
    with runtime().session() as s:
        rule = find_rule(s, str(rule_id))
        if rule is None:
            abort(404)
        return _page(_rule_yaml(rule), editing=rule.name)


@web_bp.post("/rules")
@login_required
def rules_save() -> ResponseReturnValue:
    actor = _admin().username
    text = request.form.get("rule", "")
    rt = runtime()
    session = rt.sessions()
    try:
        results = save_rules(session, rt, [_parse(text)])
        for result in results:
            if result.action != "unchanged":
                audit(session, actor, f"rule.{result.action[:-1]}", ("trigger_rules", result.name))
        session.commit()
    except RuleError as exc:
        session.rollback()
        return _page(text, error=str(exc), editing=request.form.get("editing") or None, status=422)
    finally:
        session.close()
    words = {"created": _("追加しました"), "updated": _("更新しました"), "unchanged": _("変更はありません")}
    for result in results:
        flash(f"{words[result.action]}: {result.name}" + "".join(f"（{n}）" for n in result.notes), "ok")
    return redirect(url_for("web.rules_list"))


@web_bp.post("/rules/<int:rule_id>/enabled")
@login_required
def rules_enable(rule_id: int) -> ResponseReturnValue:
    actor = _admin().username
    enabled = request.form.get("enabled") == "yes"
    with runtime().session() as s:
        rule = find_rule(s, str(rule_id))
        if rule is None:
            abort(404)
        if rule.enabled != enabled:
            rule.enabled, rule.updated_at = enabled, utcnow()
            audit(s, actor, "rule.update", rule, enabled=enabled)
        name = rule.name
    flash((_("有効にしました") if enabled else _("停止しました")) + f": {name}", "ok")
    return redirect(url_for("web.rules_list"))


def _texts(session: Session, message_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What the dry run would have stored for each message, read before the rollback."""
    out: dict[int, dict[str, Any]] = {}
    for message_id in message_ids:
        message = session.get(Message, message_id)
        if message is None:
            continue
        bodies = sorted(session.scalars(select(MessageBody).where(MessageBody.message_id == message_id)),
                        key=lambda b: (b.channel, b.language != "ja", b.language))  # Japanese first
        out[message_id] = {"mode": message.mode, "state": message.state, "title": message.title,
                           "bodies": [{"channel": b.channel, "language": b.language,
                                       "language_name": LANGUAGES.get(b.language, b.language),
                                       "subject": b.subject, "text": b.text} for b in bodies]}
    return out


@web_bp.post("/rules/try")
@login_required
def rules_try() -> ResponseReturnValue:
    from triggers.engine import Decision, process
    from triggers.jma.feed import type_code_from_url

    _admin()
    upload = request.files.get("telegram")
    sample = SAMPLES.get(request.form.get("sample", ""))
    raw = sample.read_bytes() if sample else upload.read(MAX_TELEGRAM + 1) if upload else b""
    if not raw or len(raw) > MAX_TELEGRAM:
        flash(_("電文のXMLファイルを選んでください（2MBまで）"), "error")
        return _page(status=400)
    rt = runtime()
    texts: dict[int, dict[str, Any]] = {}

    def inspect(session: Session, decision: Decision) -> None:
        texts.update(_texts(session, [r.message_id for r in decision.rules if r.message_id is not None]))

    # A key of its own, so a telegram the poller already handled is still judged against today's rules.
    key = f"console-try:{hashlib.sha256(raw).hexdigest()}:{uuid.uuid4().hex}"
    name = sample.name if sample else upload.filename if upload and upload.filename else "telegram.xml"
    decision = process(rt, load_source("jma", rt.settings), raw, item_key=key,
                       hint=type_code_from_url(f"/data/{name}"), dry_run=True, inspect=inspect)
    outcomes = [{"rule": r.rule, "action": r.action, "note": r.note, "state": r.state,
                 "texts": texts.get(r.message_id) if r.message_id is not None else None}
                for r in decision.rules]
    trial = {"file": name, "outcome": decision.outcome, "reason": decision.reason, "error": decision.error,
             "type_code": decision.type_code, "status": decision.status, "rules": outcomes}
    return _page(trial=trial)


@web_bp.get("/templates")
@login_required
def templates_list() -> ResponseReturnValue:
    _admin()
    with runtime().session() as s:
        rows = [{"code": t.code, "name": t.name, "title": t.title, "channels": sorted(t.channel_bodies or {}),
                 "languages": [LANGUAGES.get(code, code) for code in sorted(t.translations or {})]}
                for t in s.scalars(select(Template).order_by(Template.code))]
    return render_template("rules/templates.html", templates=rows)
