"""Administration and audit in the console: operators and roles, departments, categories, areas,
the operator's own API tokens, the audit log and the effective settings.

Thin, like the API: hub.accounts.admin, hub.accounts.directory and hub.accounts.tokens decide,
validate and audit; these pages turn forms into the same calls. Administration needs
``Action.ADMINISTER`` (asked of the policy before anything is looked up); an operator manages their
own tokens. A one-time password or a new token is rendered once, on the answer to the POST, and is
never stored or shown again.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from hub.accounts import admin, directory, load_operator, tokens
from hub.accounts.errors import AccountError
from hub.api.common import as_id, runtime
from hub.i18n import gettext as _
from hub.models import ApprovalPolicy
from hub.models.audit import AuditLog, entry_dict, verify_chain
from hub.policy import Action, Principal
from hub.residents.languages import LANGUAGES
from hub.templating import JST
from hub.web.pages import _operator, login_required, web_bp

PLURAL = {"departments": "department", "categories": "category", "areas": "area"}
FIELD_LABELS = {
    "code": "コード", "name": "名前", "sms_sender": "SMS送信元番号", "voice_sender": "音声発信元番号",
    "email_sender": "メール送信元アドレス", "email_sender_name": "メール送信者名", "approval": "承認方針",
    "sms_gateway": "SMSゲートウェイ", "sms_failover_gateway": "SMS障害時の切替先",
    "karaden_service_id": "KaradenサービスID", "quiet_hours": "お知らせを送らない時間帯",
    "family": "地域の種類", "names": "他の言語での名前", "username": "ユーザー名", "display_name": "表示名",
    "department": "所属部署", "role": "役割", "expires_in_days": "有効期限（日）",
    "action": "操作", "actor": "操作者", "from": "開始日", "to": "終了日",
}
ROLE_LABELS = {"viewer": "閲覧", "sender": "送信", "approver": "承認"}
AUDIT_PAGE = 50
NO_STORE = {"Cache-Control": "no-store"}  # a page showing a password or token once is never cached


def _admin() -> Principal:
    principal = _operator()
    if not principal.may(Action.ADMINISTER):
        abort(403)
    return principal


def _fail(exc: AccountError) -> None:
    """Flash a refused operation's message (and its problems, when it has no form to show them at)."""
    if exc.status == 403:
        abort(403)
    problems = exc.extra.get("problems") or {}
    details = "; ".join(f"{_(FIELD_LABELS.get(k, k))}: {' '.join(v)}" for k, v in problems.items())
    flash(exc.message + (f"（{details}）" if details else ""), "error")


@web_bp.app_context_processor
def _admin_helpers() -> dict[str, Any]:
    return {"FIELD_LABELS": FIELD_LABELS, "ROLE_LABELS": ROLE_LABELS,
            "NAME_LANGUAGES": {code: LANGUAGES[code] for code in directory.OTHER_LANGUAGES},
            "NAME_KEYS": [f"names.{code}" for code in directory.OTHER_LANGUAGES],
            "may_administer": lambda p: p is not None and p.may(Action.ADMINISTER)}


@web_bp.get("/admin")
@login_required
def admin_index() -> ResponseReturnValue:
    _admin()
    return render_template("admin/index.html")


# ---- operators ---------------------------------------------------------------------------------

def _departments() -> list[tuple[str, str, bool]]:
    with runtime().session() as s:
        return [(d["code"], d["name"], d["disabled"]) for d in directory.listing(s, _admin(), "department")]


def _operators_page(form: dict[str, Any] | None = None, problems: dict[str, list[str]] | None = None,
                    status: int = 200) -> ResponseReturnValue:
    with runtime().session() as s:
        operators = admin.list_operators(s, _admin())
    return render_template("admin/operators.html", operators=operators, departments=_departments(),
                           form=form or {}, problems=problems or {}, roles=ROLE_LABELS), status


@web_bp.get("/admin/operators")
@login_required
def admin_operators() -> ResponseReturnValue:
    return _operators_page()


@web_bp.post("/admin/operators")
@login_required
def admin_create_operator() -> ResponseReturnValue:
    actor = _admin()
    f = request.form
    form = {k: f.get(k, "").strip() for k in ("username", "display_name", "department", "role_department", "role")}
    roles = {form["role_department"]: form["role"]} if form["role_department"] and form["role"] else {}
    try:
        with runtime().session() as s:
            view, secret = admin.create_operator(
                s, actor, form["username"], form["display_name"], department=form["department"] or None,
                is_admin=f.get("is_admin") == "yes", can_override=f.get("can_override") == "yes", roles=roles)
    except AccountError as exc:
        if exc.status == 403:
            abort(403)
        problems = dict(exc.extra.get("problems") or {"*": [exc.message]})
        return _operators_page(form, problems, exc.status)
    return render_template("admin/one_time.html", account=view, secret=secret, created=True), 201, NO_STORE


@web_bp.get("/admin/operators/<username>")
@login_required
def admin_operator(username: str) -> ResponseReturnValue:
    actor = _admin()
    with runtime().session() as s:
        try:
            view = admin.operator_view(admin.find_operator(s, username))
        except AccountError:
            abort(404)
        owned = tokens.listing(s, actor, username) if not view["disabled"] else []
    return render_template("admin/operator.html", o=view, departments=_departments(), roles=ROLE_LABELS,
                           tokens=owned)


def _operator_action(username: str, act: Any, done: str) -> ResponseReturnValue:
    actor = _admin()
    try:
        with runtime().session() as s:
            act(s, actor)
    except AccountError as exc:
        _fail(exc)
    else:
        flash(done, "ok")
    return redirect(url_for("web.admin_operator", username=username))


@web_bp.post("/admin/operators/<username>/roles")
@login_required
def admin_grant_role(username: str) -> ResponseReturnValue:
    dept, role = request.form.get("department", ""), request.form.get("role", "")
    return _operator_action(username, lambda s, a: admin.grant(s, a, username, dept, role),
                            _("役割を付与しました"))


@web_bp.post("/admin/operators/<username>/roles/<department>/remove")
@login_required
def admin_revoke_role(username: str, department: str) -> ResponseReturnValue:
    return _operator_action(username, lambda s, a: admin.revoke_role(s, a, username, department),
                            _("役割を外しました"))


@web_bp.post("/admin/operators/<username>/disabled")
@login_required
def admin_disable_operator(username: str) -> ResponseReturnValue:
    disabled = request.form.get("disabled") == "yes"
    return _operator_action(username, lambda s, a: admin.update_operator(s, a, username, {"disabled": disabled}),
                            _("無効にしました") if disabled else _("有効にしました"))


@web_bp.post("/admin/operators/<username>/totp")
@login_required
def admin_reset_totp(username: str) -> ResponseReturnValue:
    return _operator_action(username, lambda s, a: admin.reset_totp(s, a, username),
                            _("二要素認証をリセットしました。次のログインで登録し直します"))


@web_bp.post("/admin/operators/<username>/password")
@login_required
def admin_reset_password(username: str) -> ResponseReturnValue:
    actor = _admin()
    try:
        with runtime().session() as s:
            secret = admin.reset_password(s, actor, username)
            view = admin.operator_view(admin.find_operator(s, username))
    except AccountError as exc:
        _fail(exc)
        return redirect(url_for("web.admin_operator", username=username))
    return render_template("admin/one_time.html", account=view, secret=secret, created=False), 200, NO_STORE


# ---- departments, categories, areas ------------------------------------------------------------

def _kind(plural: str) -> str:
    if plural not in PLURAL:
        abort(404)
    return PLURAL[plural]


def _directory_values(kind: str) -> dict[str, Any]:
    values: dict[str, Any] = {k: request.form.get(k, "") for k in directory.FIELDS[kind] if k != "names"}
    if "names" in directory.FIELDS[kind]:
        values["names"] = {code: request.form[f"names.{code}"] for code in directory.OTHER_LANGUAGES
                           if f"names.{code}" in request.form}
    return values


def _flash_easy_japanese_notes(row: dict[str, Any]) -> None:
    for note in directory.easy_japanese_notes(row):
        flash(note, "warn")


@web_bp.get("/admin/d/<plural>")
@login_required
def admin_directory(plural: str, form: dict[str, Any] | None = None,
                    problems: dict[str, list[str]] | None = None, status: int = 200) -> ResponseReturnValue:
    kind = _kind(plural)
    with runtime().session() as s:
        rows = directory.listing(s, _admin(), kind)
    return render_template("admin/directory.html", plural=plural, kind=kind, rows=rows,
                           fields=directory.FIELDS[kind], form=form or {}, problems=problems or {},
                           approvals=[p.value for p in ApprovalPolicy], editing=None), status


@web_bp.post("/admin/d/<plural>")
@login_required
def admin_directory_create(plural: str) -> ResponseReturnValue:
    kind, actor = _kind(plural), _admin()
    values = _directory_values(kind)
    code = request.form.get("code", "").strip()
    try:
        with runtime().session() as s:
            created = directory.create(s, actor, kind, code, values)
    except AccountError as exc:
        if exc.status == 403:
            abort(403)
        return admin_directory(plural, {**values, "code": code},
                               dict(exc.extra.get("problems") or {"*": [exc.message]}), exc.status)
    flash(_("「{code}」を登録しました").format(code=code), "ok")
    _flash_easy_japanese_notes(created)
    return redirect(url_for("web.admin_directory", plural=plural))


@web_bp.route("/admin/d/<plural>/<code>", methods=["GET", "POST"])
@login_required
def admin_directory_edit(plural: str, code: str) -> ResponseReturnValue:
    kind, actor = _kind(plural), _admin()
    problems: dict[str, Any] = {}
    status = 200
    with runtime().session() as s:
        try:
            row = directory.view(directory.find(s, kind, code))
        except AccountError:
            abort(404)
    form = row
    if request.method == "POST":
        values = _directory_values(kind)
        if kind == "area":
            values.pop("family", None)  # the family is fixed with the code
        try:
            with runtime().session() as s:
                updated = directory.update(s, actor, kind, code, values)
        except AccountError as exc:
            if exc.status == 403:
                abort(403)
            form, status = {**row, **values}, exc.status
            problems = dict(exc.extra.get("problems") or {"*": [exc.message]})
        else:
            flash(_("「{code}」を変更しました").format(code=code), "ok")
            _flash_easy_japanese_notes(updated)
            return redirect(url_for("web.admin_directory", plural=plural))
    return render_template("admin/directory.html", plural=plural, kind=kind, rows=[],
                           fields=directory.FIELDS[kind], form=form, problems=problems,
                           approvals=[p.value for p in ApprovalPolicy], editing=row), status


@web_bp.post("/admin/d/<plural>/<code>/disabled")
@login_required
def admin_directory_disable(plural: str, code: str) -> ResponseReturnValue:
    kind, actor = _kind(plural), _admin()
    disabled = request.form.get("disabled") == "yes"
    try:
        with runtime().session() as s:
            directory.update(s, actor, kind, code, {"disabled": disabled})
    except AccountError as exc:
        _fail(exc)
    else:
        flash(_("「{code}」を無効にしました").format(code=code) if disabled
              else _("「{code}」を有効にしました").format(code=code), "ok")
    return redirect(url_for("web.admin_directory", plural=plural))


# ---- the operator's own API tokens -------------------------------------------------------------

def _tokens_page(issued: str | None = None, problems: dict[str, list[str]] | None = None,
                 form: dict[str, Any] | None = None, status: int = 200) -> ResponseReturnValue:
    with runtime().session() as s:
        items = tokens.listing(s, _operator())
    headers = NO_STORE if issued else {}
    return render_template("admin/tokens.html", items=items, issued=issued, problems=problems or {},
                           form=form or {"expires_in_days": tokens.DEFAULT_DAYS},
                           max_days=tokens.MAX_DAYS), status, headers


def _keep_this_session(operator_id: int | None) -> None:
    """Issuing or revoking a token ends the owner's sessions; the one that did it signs again at once."""
    with runtime().session() as s:
        operator = load_operator(s, operator_id) if operator_id is not None else None
        if operator is not None:
            session["session_version"] = operator.session_version


@web_bp.get("/tokens")
@login_required
def token_list() -> ResponseReturnValue:
    return _tokens_page()


@web_bp.post("/tokens")
@login_required
def token_issue() -> ResponseReturnValue:
    actor = _operator()
    name = request.form.get("name", "")
    raw_days = request.form.get("expires_in_days", "").strip()
    form = {"name": name, "expires_in_days": raw_days}
    if not raw_days.isdigit():
        return _tokens_page(None, {"expires_in_days": [_("日数を整数で指定してください")]}, form, 422)
    try:
        with runtime().session() as s:
            token, _view = tokens.issue(s, actor, name, int(raw_days))
    except AccountError as exc:
        return _tokens_page(None, dict(exc.extra.get("problems") or {"*": [exc.message]}), form, exc.status)
    _keep_this_session(actor.id)
    return _tokens_page(token, status=201)


@web_bp.post("/tokens/<int:token_id>/revoke")
@login_required
def token_revoke(token_id: int) -> ResponseReturnValue:
    actor = _operator()
    owner: str | None = None
    try:
        with runtime().session() as s:
            owner = tokens.revoke(s, actor, token_id)["operator"]
    except AccountError as exc:
        _fail(exc)
    else:
        flash(_("トークン {id} を失効させました").format(id=token_id), "ok")
        if owner == actor.username:
            _keep_this_session(actor.id)
    back = request.form.get("back")
    if back and owner and owner != actor.username and back == "operator":
        return redirect(url_for("web.admin_operator", username=owner))
    return redirect(url_for("web.token_list"))


# ---- audit log ---------------------------------------------------------------------------------

def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _jst_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=JST).astimezone(UTC)


@web_bp.get("/admin/audit")
@login_required
def admin_audit() -> ResponseReturnValue:
    _admin()
    args = request.args
    action, actor = args.get("action", "").strip(), args.get("actor", "").strip()
    start, end = _day(args.get("from")), _day(args.get("to"))
    problems: dict[str, list[str]] = {}
    for key in ("from", "to"):
        if args.get(key) and _day(args.get(key)) is None:
            problems[key] = [_("日付は YYYY-MM-DD で入力してください")]
    before = as_id(args.get("before"))
    q = select(AuditLog).order_by(AuditLog.id.desc()).limit(AUDIT_PAGE + 1)
    if action:
        q = q.where(AuditLog.action.startswith(action, autoescape=True))
    if actor:
        q = q.where(AuditLog.actor == actor)
    if start:
        q = q.where(AuditLog.at >= _jst_midnight(start))
    if end:
        q = q.where(AuditLog.at < _jst_midnight(end + timedelta(days=1)))
    if before:
        q = q.where(AuditLog.id < before)
    report = None
    with runtime().session() as s:
        rows = [entry_dict(e) for e in s.scalars(q)]
        if args.get("verify"):
            report = verify_chain(s)
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    filters: dict[str, Any] = {"action": action, "actor": actor, "from": args.get("from", ""), "to": args.get("to", "")}
    older = url_for("web.admin_audit", **filters, before=rows[-1]["id"]) if more else None
    return render_template("admin/audit.html", rows=rows, filters=filters, older=older, report=report,
                           problems=problems, first_page=not before)


# ---- effective settings ------------------------------------------------------------------------

@web_bp.get("/admin/settings")
@login_required
def admin_settings() -> ResponseReturnValue:
    _admin()
    values = list(current_app.config["HUB_SETTINGS"].masked().items())
    return render_template("admin/settings.html", values=values), 200, NO_STORE
